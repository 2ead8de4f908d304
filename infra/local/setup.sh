#!/usr/bin/env bash
# Installs the local tools of proxysync into Python virtual environments.
#
# Usage: bash infra/local/setup.sh [--sam]
#
# <repo>/.venv gets moto's server (moto_server), cargo-lambda and cfn-lint.
# With --sam, <repo>/.venv-sam also gets the AWS SAM CLI (sam). SAM has a
# virtual environment of its own because it pins exact versions of shared
# dependencies (aws-sam-cli 1.170.0 requires boto3==1.43.108, older than the
# boto3 that moto installs). Both folders are git-ignored.
#
# Put the tools on PATH for the current shell, from the repository root:
#   export PATH="$PWD/.venv/bin:$PATH"
# or call them by path:
#   .venv/bin/moto_server -H 127.0.0.1 -p 5000
#   .venv/bin/cfn-lint template.yaml
#   .venv/bin/cargo-lambda lambda build --release
#   SAM_CLI_TELEMETRY=0 .venv-sam/bin/sam validate --lint
# `sam build` runs the `cargo-lambda` binary from PATH, so put .venv/bin on
# PATH before it.
#
# A second run only compares a stamp file in each virtual environment with the
# pins below, and reinstalls only when a pin changed or a tool is missing.
set -euo pipefail

MOTO_VERSION=5.2.5
CARGO_LAMBDA_VERSION=1.9.2
CFN_LINT_VERSION=1.58.0
# requests for the Python handler that proxysync-bench compares with (bench/python/).
REQUESTS_VERSION=2.34.2
SAM_CLI_VERSION=1.170.0

usage() {
    echo "usage: bash infra/local/setup.sh [--sam]" >&2
    echo "  --sam  also install the AWS SAM CLI into .venv-sam" >&2
}

install_sam=false
for arg in "$@"; do
    case "$arg" in
        --sam) install_sam=true ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            echo "setup: unknown argument: $arg" >&2
            usage
            exit 2
            ;;
    esac
done

repo_root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)"

# Creates the virtual environment $1 if it is missing and installs the pip
# requirements $3... into it. The install is skipped when the stamp file lists
# exactly these requirements and every binary in $2 (space-separated) exists.
ensure_venv() {
    local venv="$1"
    local binaries="$2"
    shift 2
    local requirements=("$@")
    local stamp="$venv/.proxysync-setup-stamp"
    local wanted
    wanted="$(printf '%s\n' "${requirements[@]}")"

    if [[ -x "$venv/bin/python" ]]; then
        echo "setup: $venv exists"
    else
        echo "setup: creating $venv"
        python3 -m venv "$venv"
    fi

    local missing=""
    local binary
    for binary in $binaries; do
        if [[ ! -x "$venv/bin/$binary" ]]; then
            missing="$missing $binary"
        fi
    done

    if [[ -z "$missing" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
        echo "setup: $venv is up to date (${requirements[*]})"
        return
    fi

    echo "setup: installing ${requirements[*]} into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}"

    for binary in $binaries; do
        if [[ ! -x "$venv/bin/$binary" ]]; then
            echo "setup: $binary is missing from $venv/bin after the install; check the pip output above" >&2
            exit 1
        fi
    done
    printf '%s\n' "$wanted" >"$stamp"
    echo "setup: wrote $stamp"
}

ensure_venv "$repo_root/.venv" "moto_server cargo-lambda cfn-lint" \
    "moto[server]==$MOTO_VERSION" \
    "cargo-lambda==$CARGO_LAMBDA_VERSION" \
    "cfn-lint==$CFN_LINT_VERSION" \
    "requests==$REQUESTS_VERSION"

if [[ "$install_sam" == true ]]; then
    ensure_venv "$repo_root/.venv-sam" "sam" \
        "aws-sam-cli==$SAM_CLI_VERSION"
else
    echo "setup: skipping the AWS SAM CLI (pass --sam to install it into .venv-sam)"
fi

echo "setup: done"

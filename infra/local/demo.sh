#!/usr/bin/env bash
# Runs the proxysync demo on a local stack: installs the tools it needs into
# .venv (moto's server, cargo-lambda, cfn-lint), then runs infra/local/demo.py.
# Needs a Rust toolchain and Python 3 with venv; no AWS account, no network
# beyond the package registries.
set -euo pipefail
repo_root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"
bash infra/local/setup.sh
exec .venv/bin/python infra/local/demo.py "$@"

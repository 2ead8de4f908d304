#!/usr/bin/env bash
# Runs every check of proxysync on a fresh machine: installs the local tools
# (moto's server, cargo-lambda, cfn-lint) into .venv, then formatting, clippy,
# the whole test suite, and the local demo as an end-to-end smoke test.
set -euo pipefail
repo_root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"

bash infra/local/setup.sh
echo "test: cargo fmt --check"
cargo fmt --all -- --check
echo "test: cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "test: cargo test"
cargo test --workspace --locked
echo "test: local demo"
.venv/bin/python infra/local/demo.py
echo "test: all checks passed"

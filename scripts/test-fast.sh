#!/usr/bin/env bash
# The fast subset of keel's tests: unit and fixture tests (`--lib`), the CLI
# tests on the real binary, the hostile-input corpus and the fuzz regression
# replay, shellcheck over the .sh files. No Docker, no root, no network: a
# minute or two on 2 cores (shellcheck is a Debian package).
# `bash .ci/run` runs everything, end-to-end tests over SSH included.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
args=(--lib)
for f in tests/cli_*.rs tests/hostile_input.rs tests/fuzz_regression.rs tests/shellcheck.rs tests/architecture.rs; do
    args+=(--test "$(basename "$f" .rs)")
done
exec cargo test "${args[@]}" "$@"

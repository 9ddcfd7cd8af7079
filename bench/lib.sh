#!/usr/bin/env bash
# Shared by the benchmarks (run.sh, scale.sh), sourced: bench_needs NAME
# sets KEEL to the keel binary to measure ($KEEL, else target/release/keel,
# else target/debug/keel) and checks /usr/bin/time is there; NAME prefixes
# the error messages.

# shellcheck disable=SC2034 # KEEL is read by the scripts that source this
bench_needs() {
    local name=$1 root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    if [ -z "${KEEL:-}" ]; then
        KEEL=$root/target/release/keel
        [ -x "$KEEL" ] || KEEL=$root/target/debug/keel
    fi
    [ -x "$KEEL" ] || { echo "$name: no keel binary (cargo build --release)" >&2; exit 1; }
    [ -x /usr/bin/time ] || { echo "$name: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
}

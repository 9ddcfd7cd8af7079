#!/usr/bin/env bash
# Fuzz the parsers of host output, one target after the other, at the
# lowest CPU priority: `fuzz/run.sh SECONDS [TARGET...]` (default: all).
# New inputs go to fuzz/work/TARGET (not committed); crashes to
# fuzz/artifacts/TARGET. A summary line per target goes to stdout.
# Needs the nightly toolchain and `cargo install cargo-fuzz`.
set -u
secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
cd "$(dirname "${BASH_SOURCE[0]}")"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
mkdir -p work logs
for t in "${targets[@]}"; do
    mkdir -p "work/$t"
    start=$(date +%s)
    nice -n 19 cargo +nightly fuzz run -O -a -s none "$t" "work/$t" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        >"logs/$t.log" 2>&1
    rc=$?
    last=$(grep -E '^#[0-9]+' "logs/$t.log" | tail -n 1)
    echo "$t: exit $rc after $(($(date +%s) - start)) s: $last"
done

#!/usr/bin/env bash
# Fuzz the parsers of host output at the lowest CPU priority:
# `fuzz/run.sh SECONDS [TARGET...]` (default: all targets).
# Every target is built once (one build of keel, not one per target), then
# run for SECONDS each; FUZZ_JOBS targets at a time (default 1; 2 on a
# 2-core machine doing nothing else). New inputs go to fuzz/work/TARGET (not
# committed); crashes to fuzz/artifacts/TARGET; each run's log to
# fuzz/logs/TARGET.log. A summary line per target goes to stdout.
# Needs the nightly toolchain and `cargo install cargo-fuzz`.
set -u
secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
jobs=${FUZZ_JOBS:-1}
cd "$(dirname "${BASH_SOURCE[0]}")" || exit 1
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
mkdir -p work logs artifacts
echo "building ${#targets[@]} targets once..."
# `cargo fuzz build` takes one target, or none for all of them.
one=()
[ ${#targets[@]} -eq 1 ] && one=("${targets[0]}")
if ! nice -n 19 cargo +nightly fuzz build -O -a -s none "${one[@]}" >logs/build.log 2>&1; then
    echo "build failed: see fuzz/logs/build.log" >&2
    exit 1
fi
bin_dir=$(find target -type d -path '*/release' -not -path '*/build/*' | head -n 1)

run_one() {
    local t=$1 start rc last
    mkdir -p "work/$t" "artifacts/$t"
    start=$(date +%s)
    nice -n 19 "$bin_dir/$t" "work/$t" "corpus/$t" \
        -artifact_prefix="artifacts/$t/" -max_total_time="$secs" \
        -timeout=10 -rss_limit_mb=2048 -max_len=8192 >"logs/$t.log" 2>&1
    rc=$?
    last=$(grep -E '^#[0-9]+' "logs/$t.log" | tail -n 1)
    echo "$t: exit $rc after $(($(date +%s) - start)) s: $last"
}

running=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

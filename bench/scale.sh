#!/usr/bin/env bash
# keel's scale benchmark (README, "Benchmark" → "Scale"): plans N simulated
# hosts × R resources each, without any real host. Every host is answered
# in-process by the simulated transport (KEEL_SIMULATED_HOSTS=fresh, see
# src/transport/sim.rs: what a fresh Debian host's probes print), so the
# run measures keel's own load, resolve, graph, probe framing and parsing,
# diff and report. Prints one row per size: wall time, peak memory (maximum
# resident set, /usr/bin/time) and resources planned per second.
#
#   bash bench/scale.sh                  # 1000 hosts × 2000 resources
#   bash bench/scale.sh 100,300,1000 200,2000 [PARALLEL]   # every pair
#
# The stack is a realistic mix, repeated to R resources: per block of 20,
# 3 directories, 6 files in them (2 templated per host), 4 packages, 2
# lines, 2 cron entries, 2 sysctl keys and 1 service. Hosts are planned
# PARALLEL at a time (`keel plan --parallel`, default 8). Needs
# /usr/bin/time and a built keel ($KEEL, else target/release/keel, else
# target/debug/keel). Generated files and logs go to $KEEL_BENCH_DIR
# (default /tmp/keel-bench/scale).
set -euo pipefail

HOSTS=${1:-1000}
RESOURCES=${2:-2000}
PARALLEL=${3:-8}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${KEEL_BENCH_DIR:-/tmp/keel-bench}/scale
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_needs scale
mkdir -p "$WORK"

# inventory N: N hosts named sim-1 … sim-N (listed in reverse, so the
# output's natural order is keel's doing), all in group `fleet`.
inventory() {
    local n=$1 i
    echo "hosts:"
    for ((i = n; i >= 1; i--)); do
        printf '  sim-%d: { address: 10.%d.%d.%d, user: root }\n' \
            "$i" $((i / 65536 % 256)) $((i / 256 % 256)) $((i % 256))
    done
    echo "groups:"
    echo "  fleet:"
    printf '    hosts: ['
    for ((i = 1; i <= n; i++)); do
        printf '%ssim-%d' "$([ "$i" -gt 1 ] && echo ', ')" "$i"
    done
    echo ']'
}

# stack R: R resources, in blocks of 20 (the last block cut short).
stack() {
    awk -v r="$1" 'BEGIN {
        print "name: scale"
        print "targets: [fleet]"
        print "resources:"
        n = 0
        for (b = 0; n < r; b++) {
            d = "/srv/scale/b" b
            line[0]  = "  - directory: { path: " d ", mode: \"0755\" }"
            line[1]  = "  - directory: { path: " d "/conf, mode: \"0750\" }"
            line[2]  = "  - directory: { path: " d "/data, owner: root, group: root }"
            line[3]  = "  - file: { path: " d "/conf/app.env, mode: \"0600\", content: \"APP_BLOCK=" b "\\nLOG=info\\n\" }"
            line[4]  = "  - file: { path: " d "/conf/host.conf, content: \"host={{host.name}}\\naddress={{host.address}}\\n\" }"
            line[5]  = "  - file: { path: " d "/conf/motd, content: \"Managed by keel on {{host.name}} (block " b ")\\n\" }"
            line[6]  = "  - file: { path: " d "/data/README, content: \"data of block " b "\\n\", owner: root }"
            line[7]  = "  - file: { path: " d "/run.sh, mode: \"0755\", content: \"#!/bin/sh\\nexec /bin/true " b "\\n\" }"
            line[8]  = "  - file: { path: " d "/conf/limits, content: \"nofile=65535\\n\", depends_on: [\"directory[" d "/conf]\"] }"
            line[9]  = "  - package: { name: scale-tool-" b "a }"
            line[10] = "  - package: { name: scale-tool-" b "b }"
            line[11] = "  - package: { name: scale-lib-" b " }"
            line[12] = "  - package: { name: scale-data-" b " }"
            line[13] = "  - line: { path: /etc/scale/b" b ".conf, line: \"block=" b "\" }"
            line[14] = "  - line: { path: /etc/scale/b" b ".conf, line: \"enabled=yes\", match: \"^enabled=\" }"
            line[15] = "  - cron: { name: scale-" b "-hourly, schedule: \"0 * * * *\", command: " d "/run.sh }"
            line[16] = "  - cron: { name: scale-" b "-daily, schedule: \"30 3 * * *\", command: " d "/run.sh daily }"
            line[17] = "  - sysctl: { name: net.ipv4.conf.scale" b "a.forwarding, value: \"1\" }"
            line[18] = "  - sysctl: { name: net.ipv4.conf.scale" b "b.rp_filter, value: \"2\" }"
            line[19] = "  - service: { name: scale-" b ", state: running, enabled: true, depends_on: [\"package[scale-tool-" b "a]\"] }"
            for (k = 0; k < 20 && n < r; k++) { print line[k]; n++ }
        }
    }'
}

IFS=, read -r -a host_sizes <<<"$HOSTS"
IFS=, read -r -a resource_sizes <<<"$RESOURCES"
printf '%-7s %-10s %-9s %-10s %-9s %-12s %s\n' hosts res/host planned wall "peak RSS" "resources/s" exit
for r in "${resource_sizes[@]}"; do
    stack "$r" >"$WORK/stack-$r.yaml"
    for n in "${host_sizes[@]}"; do
        inventory "$n" >"$WORK/inventory-$n.yaml"
        log=$WORK/plan-$n-$r.log
        set +e
        KEEL_SIMULATED_HOSTS=fresh /usr/bin/time -f '%e %M' -o "$WORK/time.out" \
            "$KEEL" plan "$WORK/stack-$r.yaml" -i "$WORK/inventory-$n.yaml" \
            --parallel "$PARALLEL" >"$log" 2>"$log.err"
        rc=$?
        set -e
        read -r secs rss_kb < <(tail -n 1 "$WORK/time.out")
        planned=$((n * r))
        # Under 10 ms is below /usr/bin/time's resolution: no rate.
        rate=$(awk -v p="$planned" -v s="$secs" 'BEGIN { if (s > 0) printf "%.0f", p / s; else printf "-" }')
        printf '%-7s %-10s %-9s %-10s %-9s %-12s %s\n' "$n" "$r" "$planned" "${secs} s" \
            "$((rss_kb / 1024)) MB" "$rate" "$rc"
        # keel plan exits 0 (no errors) or 2 (changes with --detailed-exitcode);
        # anything else is a failed run, shown rather than timed.
        if [ "$rc" -ne 0 ]; then
            echo "scale: keel plan exited $rc; see $log.err:" >&2
            head -n 20 "$log.err" >&2
        fi
    done
done

#!/usr/bin/env bash
# Run one shell script on several hosts at once, one fresh SSH connection
# per host (no connection sharing), with plain OpenSSH: the benchmark's
# floor (bench/run.sh), what any tool needs at least to do the same work.
#
#   bash bench/on-all.sh SSH_CONFIG SCRIPT ADDRESS...
#
# Exits 1 if the script failed on any host; its output goes to stdout.
set -uo pipefail
cfg=$1 script=$2
shift 2
pids=()
for a in "$@"; do
    ssh -F "$cfg" -o ControlMaster=no -o ControlPath=none "root@$a" 'sh -s' <"$script" &
    pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit "$rc"

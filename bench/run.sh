#!/usr/bin/env bash
# keel's benchmark (README, "Benchmark"): for keel, pyinfra and Ansible in
# turn, bring up N fresh sandbox hosts (`keel sandbox up N`), apply the same
# workload (bench/workload/) twice — first apply on fresh hosts, then a run
# with nothing to change — and, for keel, a plan; then remove the hosts.
# The floor is what no tool can go below, measured with plain OpenSSH
# (bench/on-all.sh, one fresh connection per host, all hosts at once): for
# a first apply, the workload's apt work alone on fresh hosts
# (workload/packages.sh); for a no-change run, every read-only check of the
# workload once (workload/checks.sh), on keel's hosts after its runs.
# Prints one table of wall times, keel's SSH round trips per host and peak
# memory (maximum resident set of the largest process, /usr/bin/time -v),
# then the ratios the targets are about.
#
#   bash bench/run.sh [N]          # N hosts per tool (default 3)
#   BENCH_TOOLS=keel bash bench/run.sh 20    # some of the tools only
#
# Every tool works on all N hosts at once: keel with `--parallel N`,
# Ansible with N forks, pyinfra with `--parallel N`.
#
# Needs Docker, python3 with venv, /usr/bin/time and a built keel
# ($KEEL, else target/release/keel, else target/debug/keel). pyinfra and
# Ansible are installed with pip from PyPI into a private venv under
# $KEEL_BENCH_DIR (default /tmp/keel-bench), reused by later runs.
set -euo pipefail

N=${1:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${KEEL_BENCH_DIR:-/tmp/keel-bench}
WL=$ROOT/bench/workload
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_needs bench
mkdir -p "$WORK"

# pyinfra and Ansible (the full package: its UFW module is in community.general).
VENV=$WORK/venv
if [ ! -x "$VENV/bin/ansible-playbook" ] || [ ! -x "$VENV/bin/pyinfra" ]; then
    echo "bench: installing pyinfra and ansible into $VENV (pip, from PyPI)" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check pyinfra ansible
fi

RESULTS=$WORK/results.tsv
: >"$RESULTS"

# timed LABEL TOOL CMD...: run CMD, log its output to $WORK/TOOL-LABEL.log,
# record "TOOL LABEL seconds max-rss-kB exit" in the results.
timed() {
    local label=$1 tool=$2
    shift 2
    local log=$WORK/$tool-$label.log
    set +e
    /usr/bin/time -f '%e %M' -o "$WORK/time.out" "$@" >"$log" 2>&1
    local rc=$?
    set -e
    read -r secs rss <"$WORK/time.out" || { secs='?'; rss='?'; }
    printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$label" "$secs" "$rss" "$rc" >>"$RESULTS"
    # A plan with --detailed-exitcode exits 2 when it has changes.
    if [ "$rc" != 0 ] && ! { [ "$label" = plan ] && [ "$rc" = 2 ]; }; then
        echo "bench: $tool $label exited $rc (see $log)" >&2
    fi
}

# Fresh hosts for one tool in $WORK/TOOL; removed on the way out.
up() {
    local dir=$WORK/$1
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && "$KEEL" sandbox up "$N" >/dev/null)
    INV=$dir/.keel/sandbox/inventory.yaml
    SB=$dir/.keel/sandbox
    mapfile -t ADDRS < <(sed -n 's/^    address: "\(.*\)"$/\1/p' "$INV")
}
down() { (cd "$WORK/$1" && "$KEEL" sandbox down >/dev/null 2>&1) || true; }
cleanup() { for t in floor keel pyinfra ansible; do [ ! -d "$WORK/$t" ] || down "$t"; done; }
trap cleanup EXIT

run_keel() {
    up keel
    timed first keel "$KEEL" apply --yes -v --parallel "$N" -i "$INV" "$WL/keel.yaml"
    timed again keel "$KEEL" apply --yes -v --parallel "$N" -i "$INV" "$WL/keel.yaml"
    timed plan keel "$KEEL" plan --detailed-exitcode --parallel "$N" -i "$INV" "$WL/keel.yaml"
    timed again floor bash "$ROOT/bench/on-all.sh" "$SB/ssh_config" "$WL/checks.sh" "${ADDRS[@]}"
    down keel
}

run_floor() {
    up floor
    timed first floor bash "$ROOT/bench/on-all.sh" "$SB/ssh_config" "$WL/packages.sh" "${ADDRS[@]}"
    down floor
}

run_pyinfra() {
    up pyinfra
    {
        echo "data = {'ssh_user': 'root', 'ssh_key': '$SB/id_ed25519',"
        echo "        'ssh_known_hosts_file': '$SB/known_hosts',"
        echo "        'ssh_strict_host_key_checking': 'yes'}"
        printf 'sandbox = ['
        for a in "${ADDRS[@]}"; do printf '("%s", data), ' "$a"; done
        echo ']'
    } >"$WORK/pyinfra/inventory.py"
    local py=("$VENV/bin/pyinfra" -y --parallel "$N" "$WORK/pyinfra/inventory.py" "$WL/pyinfra_deploy.py")
    timed first pyinfra "${py[@]}"
    timed again pyinfra "${py[@]}"
    down pyinfra
}

run_ansible() {
    up ansible
    {
        echo '[sandbox]'
        for a in "${ADDRS[@]}"; do echo "$a"; done
        echo '[sandbox:vars]'
        echo 'ansible_user=root'
        echo "ansible_ssh_common_args='-F $SB/ssh_config'"
    } >"$WORK/ansible/hosts.ini"
    local pb=(env ANSIBLE_HOST_KEY_CHECKING=True "ANSIBLE_FORKS=$N" ANSIBLE_PIPELINING=True
        "$VENV/bin/ansible-playbook" -i "$WORK/ansible/hosts.ini" "$WL/ansible.yml")
    timed first ansible "${pb[@]}"
    timed again ansible "${pb[@]}"
    down ansible
}

for tool in ${BENCH_TOOLS:-floor keel pyinfra ansible}; do
    case $tool in
    floor | keel | pyinfra | ansible) "run_$tool" ;;
    *) echo "bench: unknown tool $tool (floor, keel, pyinfra, ansible)" >&2; exit 1 ;;
    esac
done

# keel's SSH round trips per host: the plan's probe round trips (printed
# with each host's plan) plus those of the apply (logged with -v).
rt() {
    local log=$WORK/keel-$1.log
    # Only this run's: a log left by an earlier run of keel is not read.
    awk -F'\t' -v l="$1" '$1 == "keel" && $2 == l { f = 1 } END { exit !f }' "$RESULTS" || { printf '%s' -; return; }
    awk -v n="$N" '
        match($0, /[0-9]+ probe round trips?/) { split(substr($0, RSTART), a, " "); s += a[1] }
        match($0, /, [0-9]+ for facts/) { split(substr($0, RSTART + 2), a, " "); s += a[1] }
        match($0, /applied in [0-9]+ round trip/) { split(substr($0, RSTART), a, " "); s += a[3] }
        END { printf "%.1f", s / n }' "$log"
}

echo
echo "keel benchmark: $N fresh hosts per tool, $(date -u +%F), $(nproc) cores"
echo "keel $("$KEEL" --version | awk '{print $2, $3}'); $("$VENV/bin/pyinfra" --version 2>&1 | awk "NR == 1");" \
    "$("$VENV/bin/ansible-playbook" --version | awk "NR == 1")"
echo
awk -F'\t' -v rt1="$(rt first)" -v rt2="$(rt again)" '
    { t[$1 "," $2] = $3; m[$1 "," $2] = $4; rc[$1 "," $2] = $5 }
    function cell(k) { return (k in t) ? t[k] "s" (rc[k] > 0 && k !~ /plan/ ? " (exit " rc[k] ")" : "") : "-" }
    function mem(k) { return (k in m) ? sprintf("%.0f MB", m[k] / 1024) : "-" }
    END {
        printf "| %-8s | %-12s | %-15s | %-8s | %-27s | %-15s |\n", "tool", "first apply", "no-change run", "plan", "SSH round trips/host", "peak memory"
        printf "|%s|%s|%s|%s|%s|%s|\n", "----------", "--------------", "-----------------", "----------", "-----------------------------", "-----------------"
        printf "| %-8s | %-12s | %-15s | %-8s | %-27s | %-15s |\n", "keel", cell("keel,first"), cell("keel,again"), cell("keel,plan"), "first " rt1 ", no-change " rt2, mem("keel,first") " / " mem("keel,again")
        printf "| %-8s | %-12s | %-15s | %-8s | %-27s | %-15s |\n", "pyinfra", cell("pyinfra,first"), cell("pyinfra,again"), "-", "not measured", mem("pyinfra,first") " / " mem("pyinfra,again")
        printf "| %-8s | %-12s | %-15s | %-8s | %-27s | %-15s |\n", "ansible", cell("ansible,first"), cell("ansible,again"), "-", "not measured", mem("ansible,first") " / " mem("ansible,again")
        printf "| %-8s | %-12s | %-15s | %-8s | %-27s | %-15s |\n", "floor", cell("floor,first"), cell("floor,again"), "-", "first 1, no-change 1", "-"
        printf "\n"
        ratio("pyinfra first apply / keel first apply", "pyinfra,first", "keel,first")
        ratio("keel first apply / floor (apt alone)", "keel,first", "floor,first")
        ratio("pyinfra first apply / floor (apt alone)", "pyinfra,first", "floor,first")
        ratio("keel no-change run / floor (checks alone)", "keel,again", "floor,again")
        ratio("keel plan / floor (checks alone)", "keel,plan", "floor,again")
    }
    function ratio(what, a, b) {
        if ((a in t) && (b in t) && t[b] > 0) printf "%-44s %.2fx\n", what ":", t[a] / t[b]
    }' "$RESULTS"
echo
echo "(peak memory: largest single process, first apply / no-change run; floor: plain ssh, first = apt alone"
echo " on fresh hosts, no-change = the read-only checks on keel's hosts; logs in $WORK)"

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
#   BENCH_ROUNDS=4 bash bench/run.sh 20      # 4 rounds, every other one in
#                                            # reverse order: medians (min-max)
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

read -r -a TOOLS <<<"${BENCH_TOOLS:-floor keel pyinfra ansible}"
for tool in "${TOOLS[@]}"; do
    case $tool in
    floor | keel | pyinfra | ansible) ;;
    *) echo "bench: unknown tool $tool (floor, keel, pyinfra, ansible)" >&2; exit 1 ;;
    esac
done
ROUNDS=${BENCH_ROUNDS:-1}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_ROUNDS must be a number of rounds (1, 2, ...), not '$ROUNDS'" >&2; exit 1; }
for ((round = 1; round <= ROUNDS; round++)); do
    # Every other round runs the tools in reverse order: no tool is always
    # the first or the last one on the machine.
    order=("${TOOLS[@]}")
    if ((round % 2 == 0)); then
        order=()
        for ((i = ${#TOOLS[@]} - 1; i >= 0; i--)); do order+=("${TOOLS[i]}"); done
    fi
    [ "$ROUNDS" -eq 1 ] || echo "bench: round $round of $ROUNDS: ${order[*]}" >&2
    for tool in "${order[@]}"; do "run_$tool"; done
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
rounds=
[ "$ROUNDS" -eq 1 ] || rounds="; $ROUNDS rounds: median (min-max), ratios of the medians"
echo "keel benchmark: $N fresh hosts per tool, $(date -u +%F), $(nproc) cores$rounds"
echo "keel $("$KEEL" --version | awk '{print $2, $3}'); $("$VENV/bin/pyinfra" --version 2>&1 | awk "NR == 1");" \
    "$("$VENV/bin/ansible-playbook" --version | awk "NR == 1")"
echo
awk -F'\t' -v rt1="$(rt first)" -v rt2="$(rt again)" '
    {
        k = $1 "," $2
        v[k, ++c[k]] = $3
        if (!(k in m) || $4 > m[k]) m[k] = $4
        if ($5 > rc[k]) rc[k] = $5
    }
    # The median of the runs of k (sorted in place), and their min and max.
    function stats(k,    i, j, x, n) {
        n = c[k]
        for (i = 2; i <= n; i++)
            for (j = i; j > 1 && v[k, j - 1] + 0 > v[k, j] + 0; j--) {
                x = v[k, j]; v[k, j] = v[k, j - 1]; v[k, j - 1] = x
            }
        lo = v[k, 1]; hi = v[k, n]
        med = (n % 2) ? v[k, (n + 1) / 2] : (v[k, n / 2] + v[k, n / 2 + 1]) / 2
    }
    function cell(k) {
        if (!(k in c)) return "-"
        stats(k)
        return sprintf("%.2fs", med) (c[k] > 1 ? sprintf(" (%.2f-%.2f)", lo, hi) : "") \
            (rc[k] > 0 && k !~ /plan/ ? " (exit " rc[k] ")" : "")
    }
    function mem(k) { return (k in m) ? sprintf("%.0f MB", m[k] / 1024) : "-" }
    function row(a, b, d, e, f, g) { printf "| %-8s | %-24s | %-20s | %-20s | %-27s | %-15s |\n", a, b, d, e, f, g }
    END {
        row("tool", "first apply", "no-change run", "plan", "SSH round trips/host", "peak memory")
        printf "|%s|%s|%s|%s|%s|%s|\n", "----------", "--------------------------", "----------------------", "----------------------", "-----------------------------", "-----------------"
        row("keel", cell("keel,first"), cell("keel,again"), cell("keel,plan"), "first " rt1 ", no-change " rt2, mem("keel,first") " / " mem("keel,again"))
        row("pyinfra", cell("pyinfra,first"), cell("pyinfra,again"), "-", "not measured", mem("pyinfra,first") " / " mem("pyinfra,again"))
        row("ansible", cell("ansible,first"), cell("ansible,again"), "-", "not measured", mem("ansible,first") " / " mem("ansible,again"))
        row("floor", cell("floor,first"), cell("floor,again"), "-", "first 1, no-change 1", "-")
        printf "\n"
        ratio("pyinfra first apply / keel first apply", "pyinfra,first", "keel,first")
        ratio("keel first apply / floor (apt alone)", "keel,first", "floor,first")
        ratio("pyinfra first apply / floor (apt alone)", "pyinfra,first", "floor,first")
        ratio("keel no-change run / floor (checks alone)", "keel,again", "floor,again")
        ratio("keel plan / floor (checks alone)", "keel,plan", "floor,again")
    }
    # Of the medians.
    function ratio(what, a, b,    x) {
        if (!(a in c) || !(b in c)) return
        stats(a); x = med; stats(b)
        if (med > 0) printf "%-44s %.2fx\n", what ":", x / med
    }' "$RESULTS"
echo
echo "(peak memory: largest single process, first apply / no-change run; floor: plain ssh, first = apt alone"
echo " on fresh hosts, no-change = the read-only checks on keel's hosts; logs in $WORK)"

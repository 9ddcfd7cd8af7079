#!/bin/sh
# Takes keel's lock on this host and holds it until stdin ends. Waits for
# a busy lock as $keel_wait says: `no` (fail at once), `forever`, or a
# number of seconds. Prints protocol lines starting with `keel-lock `:
# `busy HOLDER`, `timeout HOLDER`, `error WHY`, then `acquired`; records
# $keel_holder and the time in the lock file while holding it.
# params: keel_holder keel_wait
: "${keel_holder?}" "${keel_wait?}"
keel_lock() {
if [ "$(id -u)" = 0 ]; then
  d=/run/keel
  mkdir -p "$d" || { echo "keel-lock error cannot create $d"; return 1; }
else
  d="/tmp/keel-lock-$(id -u)"
  mkdir -m 700 "$d" 2>/dev/null
  if [ -L "$d" ] || [ ! -d "$d" ] || [ ! -O "$d" ]; then
    echo "keel-lock error $d is not a private folder of this user"; return 1
  fi
fi
f="$d/host.lock"
command -v flock >/dev/null 2>&1 || { echo "keel-lock error flock is not installed on the host (it comes with util-linux)"; return 1; }
if [ -L "$f" ]; then echo "keel-lock error $f is a symlink"; return 1; fi
( umask 022; : >>"$f" ) 2>/dev/null || { echo "keel-lock error cannot open $f"; return 1; }
who_holds() { head -c 300 "$f" 2>/dev/null | tr -d '\n'; }
exec 9<"$f"
if ! flock -n 9; then
  echo "keel-lock busy $(who_holds)"
  case $keel_wait in
  no) return 2 ;;
  forever) flock 9 || { echo "keel-lock error flock failed"; return 1; } ;;
  *) flock -w "$keel_wait" 9 || { echo "keel-lock timeout $(who_holds)"; return 2; } ;;
  esac
fi
printf '%s since %s\n' "$keel_holder" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$f"
echo "keel-lock acquired"
cat >/dev/null
: >"$f"
}
keel_lock; exit $?

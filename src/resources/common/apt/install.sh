#!/bin/sh
# Runs keel_run (an apt-get call defined before this script). Refreshes the
# package lists first when they are missing or older than a day: their age
# is that of the newest of keel's stamp (/var/lib/apt/keel-lists-updated,
# touched after each update keel runs) and the lists' own files (whose
# times are the archive's, never later than the download). When the
# failure looks like stale lists and keel did not update them in the last
# 10 minutes, updates them and retries once, printing `keel_hint` (when
# set) if the retry fails too. So a run updates a host's lists at most once.
# Prints apt-get's output.
# params: keel_hint
# (KEEL_APT_STAMP and KEEL_APT_LISTS move the stamp and the lists' folder,
# for tests that run this script locally.)
: "${keel_hint?}"
keel_stamp=${KEEL_APT_STAMP:-/var/lib/apt/keel-lists-updated}
keel_lists_dir=${KEEL_APT_LISTS:-/var/lib/apt/lists}
keel_update() {
  keel_apt update
  touch "$keel_stamp" 2>/dev/null || true
}
keel_lists=
for keel_f in "$keel_lists_dir"/*_Packages*; do
  if [ -e "$keel_f" ]; then keel_lists=yes; fi
  break
done
if [ -z "$keel_lists" ]; then
  echo 'keel: no apt package lists yet: running apt-get update' >&2
  keel_update
elif [ -z "$({ find "$keel_stamp" -mmin -1440 || true; find "$keel_lists_dir" -maxdepth 1 -name '*_Packages*' -mmin -1440 || true; } 2>/dev/null | head -n 1)" ]; then
  echo 'keel: the apt package lists are more than a day old: running apt-get update' >&2
  keel_update
fi
if keel_out=$(keel_run 2>&1); then
  printf '%s\n' "$keel_out"
else
  keel_rc=$?
  printf '%s\n' "$keel_out" >&2
  if [ -n "$(find "$keel_stamp" -mmin -10 2>/dev/null || true)" ]; then
    echo 'keel: the apt package lists were refreshed in the last 10 minutes: not retrying' >&2
    if [ -n "$keel_hint" ]; then printf '%s\n' "$keel_hint" >&2; fi
    exit "$keel_rc"
  fi
  if printf '%s\n' "$keel_out" | grep -q -e 'Unable to locate package' -e 'has no installation candidate' -e 'was not found' -e 'Failed to fetch' -e 'Unable to fetch some archives'; then
    echo 'keel: the apt package lists look stale: running apt-get update and retrying once' >&2
    keel_update
    if ! keel_run; then
      if [ -n "$keel_hint" ]; then printf '%s\n' "$keel_hint" >&2; fi
      exit 1
    fi
  else
    exit "$keel_rc"
  fi
fi

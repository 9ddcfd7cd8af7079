#!/bin/sh
# Runs keel_run (an apt-get call defined before this script): refreshes the
# package lists first when there are none, and when the failure looks like
# stale lists, updates them and retries once, printing `keel_hint` (when
# set) if the retry fails too. Prints apt-get's output.
# params: keel_hint
keel_lists=
for keel_f in /var/lib/apt/lists/*_Packages*; do
  if [ -e "$keel_f" ]; then keel_lists=yes; fi
  break
done
if [ -z "$keel_lists" ]; then
  echo 'keel: no apt package lists yet: running apt-get update' >&2
  keel_apt update
fi
if keel_out=$(keel_run 2>&1); then
  printf '%s\n' "$keel_out"
else
  keel_rc=$?
  printf '%s\n' "$keel_out" >&2
  if printf '%s\n' "$keel_out" | grep -q -e 'Unable to locate package' -e 'has no installation candidate' -e 'was not found' -e 'Failed to fetch' -e 'Unable to fetch some archives'; then
    echo 'keel: the apt package lists look stale: running apt-get update and retrying once' >&2
    keel_apt update
    if ! keel_run; then
      if [ -n "$keel_hint" ]; then printf '%s\n' "$keel_hint" >&2; fi
      exit 1
    fi
  else
    exit "$keel_rc"
  fi
fi

#!/bin/sh
# Look up one entry of an account database (passwd, group): prints
# PREFIX=<entry> when it exists, PREFIX_absent=1 when it does not (getent's
# exit status 2), and fails on any other error.
# params: keel_db keel_name keel_prefix
: "${keel_db?}" "${keel_name?}" "${keel_prefix?}"
keel_e=$(getent "$keel_db" "$keel_name"); keel_rc=$?
case $keel_rc in
0) printf '%s=%s\n' "$keel_prefix" "$keel_e" | head -n 1 ;;
2) printf '%s_absent=1\n' "$keel_prefix" ;;
*) echo "getent $keel_db failed with status $keel_rc" >&2; exit 1 ;;
esac

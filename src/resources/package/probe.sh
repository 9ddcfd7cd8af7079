#!/bin/sh
# What dpkg says about the package `keel_name`: one `STATUS|VERSION` line per
# installed architecture (nothing when dpkg does not know it). With
# `keel_simulate` set to remove or purge, also the `Remv`/`Purg` lines of an
# apt-get simulation of that removal, when the package is installed.
# params: keel_name keel_simulate
: "${keel_name?}" "${keel_simulate?}"
if ! command -v dpkg-query >/dev/null 2>&1; then
  echo 'keel: dpkg-query not found: the package kind needs a Debian or Ubuntu host' >&2
  exit 2
fi
keel_rc=0
# shellcheck disable=SC2016 # dpkg-query's own format, not shell
keel_pkg=$(dpkg-query -W -f='${db:Status-Abbrev}|${Version}\n' "$keel_name" 2>/dev/null) || keel_rc=$?
if [ "$keel_rc" -gt 1 ]; then
  dpkg-query -W "$keel_name" >/dev/null
  exit "$keel_rc"
fi
if [ -n "$keel_pkg" ]; then printf '%s\n' "$keel_pkg"; fi
case $keel_simulate in
remove) keel_pat='^.[iUFHWt]' ;;
purge) keel_pat='^.[iUFHWtc]' ;;
*) exit 0 ;;
esac
if printf '%s\n' "$keel_pkg" | grep -q "$keel_pat" && command -v apt-get >/dev/null 2>&1; then
  apt-get -s -q "$keel_simulate" "$keel_name" 2>/dev/null | grep -E '^(Remv|Purg) ' || true
fi
exit 0

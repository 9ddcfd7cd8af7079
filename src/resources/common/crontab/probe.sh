#!/bin/sh
# Read the crontab of the user keel_u (without `-u` when already running as
# that user): prints crontab=uninstalled|nouser|none|present|error and,
# when present, crontab_b64=<the crontab in base64 on one line>; the error
# of `crontab -l` goes to stderr.
# params: keel_u
: "${keel_u?}"
if [ "$(id -un)" = "$keel_u" ]; then keel_ct() { crontab "$@"; }; else keel_ct() { crontab -u "$keel_u" "$@"; }; fi
if ! command -v crontab >/dev/null 2>&1; then
  echo crontab=uninstalled
elif ! id -u "$keel_u" >/dev/null 2>&1; then
  echo crontab=nouser
elif keel_ct -l >/dev/null 2>&1; then
  echo crontab=present
  printf 'crontab_b64='
  keel_ct -l | base64 -w 0
  echo
else
  keel_err=$(keel_ct -l 2>&1 >/dev/null)
  case $keel_err in
    "no crontab for "*) echo crontab=none ;;
    *) echo crontab=error; printf '%s\n' "$keel_err" >&2 ;;
  esac
fi

#!/bin/sh
# The sshd probe (after lookup.sh): prints sshd=yes|no,
# dropin=absent|file|unreadable|link|dir|other (target=<link target>),
# main=file|absent, effective_status=0|1|noprivsep, then base64 sections
# [effective] (sshd -T) or [effective_error], [dropin], [main] and
# [sources] (grep -n of the lines of sshd_config and the drop-ins that set
# a declared keyword, matched by the extended regex keel_re).
# params: keel_p keel_d keel_main keel_re
: "${keel_p?}" "${keel_d?}" "${keel_main?}" "${keel_re?}"
# shellcheck disable=SC2154 # keel_sshd is set by lookup.sh before this
if [ -n "$keel_sshd" ]; then echo sshd=yes; else echo sshd=no; fi
if [ -L "$keel_p" ]; then
  echo dropin=link
  printf 'target=%s\n' "$(readlink -- "$keel_p")"
elif [ -d "$keel_p" ]; then
  echo dropin=dir
elif [ -f "$keel_p" ]; then
  if [ -r "$keel_p" ]; then echo dropin=file; else echo dropin=unreadable; fi
elif [ -e "$keel_p" ]; then
  echo dropin=other
else
  echo dropin=absent
fi
if [ -f "$keel_main" ]; then echo main=file; else echo main=absent; fi
if [ -n "$keel_sshd" ] && [ -f "$keel_main" ]; then
  if [ ! -d /run/sshd ]; then
    echo effective_status=noprivsep
  elif keel_eff=$("$keel_sshd" -T 2>/dev/null); then
    echo effective_status=0
    echo '[effective]'
    printf '%s\n' "$keel_eff" | base64
  else
    echo effective_status=1
    echo '[effective_error]'
    "$keel_sshd" -T 2>&1 >/dev/null | head -n 5 | base64
  fi
fi
echo '[dropin]'
if [ -f "$keel_p" ] && [ ! -L "$keel_p" ] && [ -r "$keel_p" ]; then base64 < "$keel_p"; fi
echo '[main]'
if [ -f "$keel_main" ] && [ -r "$keel_main" ]; then base64 < "$keel_main"; fi
echo '[sources]'
grep -iEn -- "$keel_re" "$keel_main" "$keel_d"/*.conf 2>/dev/null | base64
exit 0

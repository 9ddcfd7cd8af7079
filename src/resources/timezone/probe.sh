#!/bin/sh
# Read the time zone settings: prints localtime=link with target=<its
# target>, localtime=file (and same=yes when it equals the zone file
# keel_zf) or localtime=absent; etc_timezone=<first line of keel_etz>; and
# zone=valid|invalid|missing for the zone file.
# params: keel_zf keel_lt keel_etz
: "${keel_zf?}" "${keel_lt?}" "${keel_etz?}"
if [ -L "$keel_lt" ]; then
  printf 'localtime=link\ntarget=%s\n' "$(readlink "$keel_lt")"
elif [ -e "$keel_lt" ]; then
  echo localtime=file
  if [ -f "$keel_zf" ] && cmp -s "$keel_lt" "$keel_zf"; then echo same=yes; fi
else
  echo localtime=absent
fi
if [ -f "$keel_etz" ]; then
  printf 'etc_timezone=%s\n' "$(head -n 1 "$keel_etz")"
fi
if [ ! -f "$keel_zf" ]; then
  echo zone=missing
elif [ "$(head -c 4 "$keel_zf" 2>/dev/null)" = TZif ]; then
  echo zone=valid
else
  echo zone=invalid
fi
exit 0

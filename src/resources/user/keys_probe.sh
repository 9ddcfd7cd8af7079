#!/bin/sh
# The user's ~/.ssh/authorized_keys, read as the user: prints keys=absent,
# or keys_stat=<mode owner>, keys_dir_stat=<mode owner of .ssh> and
# keys=b64:<content> (keys=unreadable when the user cannot read it).
# keel_home is the declared home; empty means the one in the passwd entry
# keel_e that the getent probe before this one printed.
# params: keel_user keel_home
: "${keel_user?}" "${keel_home?}"
# shellcheck disable=SC2154 # keel_e is set by the getent probe run first
if [ -n "$keel_home" ]; then keel_h=$keel_home
else keel_h=$(printf '%s\n' "$keel_e" | cut -d: -f6); fi
keel_h=${keel_h%/}
keel_f="$keel_h/.ssh/authorized_keys"
if [ ! -e "$keel_f" ] && [ ! -L "$keel_f" ]; then
  echo keys=absent
else
  printf 'keys_stat=%s\n' "$(stat -c '%a %U' "$keel_f")"
  printf 'keys_dir_stat=%s\n' "$(stat -L -c '%a %U' "$keel_h/.ssh")"
  if [ "$(id -u)" = 0 ]; then
    keel_b=$(runuser -u "$keel_user" -- base64 -w0 -- "$keel_f" 2>/dev/null); keel_rc=$?
  else
    keel_b=$(base64 -w0 -- "$keel_f" 2>/dev/null); keel_rc=$?
  fi
  if [ "$keel_rc" = 0 ]; then printf 'keys=b64:%s\n' "$keel_b"; else echo keys=unreadable; fi
fi

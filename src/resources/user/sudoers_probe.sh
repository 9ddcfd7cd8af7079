#!/bin/sh
# The user's sudo rule file: prints sudoers=absent, or
# sudoers_stat=<mode owner> and sudoers=b64:<content>.
# params: keel_path
: "${keel_path?}"
if [ -e "$keel_path" ] || [ -L "$keel_path" ]; then
  printf 'sudoers_stat=%s\n' "$(stat -c '%a %U' "$keel_path")"
  printf 'sudoers=b64:%s\n' "$(base64 -w0 -- "$keel_path")"
else
  echo sudoers=absent
fi

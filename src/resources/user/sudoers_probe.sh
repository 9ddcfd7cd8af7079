#!/bin/sh
# The user's sudo rule file: prints sudoers=absent, or
# sudoers_stat=<mode owner> and sudoers=b64:<content>; then one
# other_sudo=<file>:<line> per rule of /etc/sudoers and the files sudo reads
# in /etc/sudoers.d (not keel's; names with a `.` or ending in `~` are
# skipped, as sudo does) whose first word is the user's name.
# params: keel_path keel_user
: "${keel_path?}" "${keel_user?}"
if [ -e "$keel_path" ] || [ -L "$keel_path" ]; then
  printf 'sudoers_stat=%s\n' "$(stat -c '%a %U' "$keel_path")"
  printf 'sudoers=b64:%s\n' "$(base64 -w0 -- "$keel_path")"
else
  echo sudoers=absent
fi
for keel_s in /etc/sudoers /etc/sudoers.d/*; do
  if [ ! -f "$keel_s" ] || [ "$keel_s" = "$keel_path" ]; then continue; fi
  case ${keel_s##*/} in *.*|*'~') continue ;; esac
  awk -v u="$keel_user" '$1 == u { print "other_sudo=" FILENAME ":" FNR }' "$keel_s" 2>/dev/null
done

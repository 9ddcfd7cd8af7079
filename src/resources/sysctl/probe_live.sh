#!/bin/sh
# Read the kernel parameter file keel_p under /proc/sys: prints live=dir,
# live=missing, live=unreadable, or live=value with value=<its content in
# base64>; then writable=yes|no, and proc_sys=ro when it is not writable
# because /proc/sys is mounted read-only.
# params: keel_p
: "${keel_p?}"
if [ -d "$keel_p" ]; then
  echo live=dir
elif [ -e "$keel_p" ]; then
  if keel_v=$(cat "$keel_p" 2>/dev/null); then
    printf 'live=value\nvalue=%s\n' "$(printf '%s' "$keel_v" | base64 | tr -d '\n')"
  else
    echo live=unreadable
  fi
  if [ -w "$keel_p" ]; then
    echo writable=yes
  else
    echo writable=no
    while read -r _ _ _ _ keel_mp keel_opts _; do
      if [ "$keel_mp" = /proc/sys ]; then
        case "$keel_opts" in ro|ro,*) echo proc_sys=ro ;; esac
      fi
    done < /proc/self/mountinfo
  fi
else
  echo live=missing
fi

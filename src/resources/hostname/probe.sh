#!/bin/sh
# Read the host's names: prints running=<uname -n>, static=<the name in
# /etc/hostname> (its first line that is neither empty nor a comment), and,
# when keel_hosts is set, hosts=present|absent and hosts_line=<the first
# 127.0.1.1 line of /etc/hosts>.
# params: keel_hosts
: "${keel_hosts?}"
printf 'running=%s\n' "$(uname -n)"
if [ -r /etc/hostname ]; then
  printf 'static=%s\n' "$(sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' /etc/hostname 2>/dev/null | grep -v -m 1 -e '^#' -e '^$')"
fi
if [ -n "$keel_hosts" ]; then
  if [ -f /etc/hosts ]; then
    echo hosts=present
    grep -m 1 -E '^[[:space:]]*127\.0\.1\.1([[:space:]]|$)' /etc/hosts | sed 's/^/hosts_line=/'
  else
    echo hosts=absent
  fi
fi
exit 0

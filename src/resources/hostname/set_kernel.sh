#!/bin/sh
# Set the kernel's host name to keel_name, with hostname(1) when it is
# installed, else through /proc. Prints nothing.
# params: keel_name
: "${keel_name?}"
if command -v hostname >/dev/null 2>&1; then
  hostname "$keel_name"
else
  printf '%s\n' "$keel_name" > /proc/sys/kernel/hostname
fi

#!/bin/sh
# Set the host name with hostnamectl when systemd runs, and end the step
# when both the kernel's and the static name then read back as keel_name
# (systemd-hostnamed may see another /etc/hostname than ours); otherwise
# go on to the fallback that follows (write /etc/hostname, set_kernel.sh).
# Prints nothing.
# params: keel_name
: "${keel_name?}"
if [ -d /run/systemd/system ] && command -v hostnamectl >/dev/null 2>&1 \
   && hostnamectl set-hostname "$keel_name" 2>/dev/null \
   && [ "$(uname -n)" = "$keel_name" ] \
   && [ "$(sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' /etc/hostname 2>/dev/null | grep -v -m 1 -e '^#' -e '^$')" = "$keel_name" ]; then
  exit 0
fi

#!/bin/sh
# Before the drop-in is written (after lookup.sh): stop unless sshd and its
# main file exist, and make sure the drop-in directory exists. Prints
# nothing; fails with a message.
# params: keel_p keel_d keel_main
: "${keel_p?}" "${keel_d?}" "${keel_main?}"
# shellcheck disable=SC2154 # keel_sshd is set by lookup.sh before this
if [ -z "$keel_sshd" ] || [ ! -f "$keel_main" ]; then
  echo "keel: sshd is not installed (no sshd binary or no $keel_main): install openssh-server first; $keel_p was not written" >&2
  exit 1
fi
mkdir -p -- "$keel_d"

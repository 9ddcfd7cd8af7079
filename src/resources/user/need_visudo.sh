#!/bin/sh
# Stop unless visudo is installed (the sudo rule is checked with it), and
# make sure /etc/sudoers.d exists. Prints nothing; fails with a message.
# params: keel_dir
: "${keel_dir?}"
command -v visudo >/dev/null 2>&1 || {
  echo 'keel: visudo not found: install the sudo package first' >&2; exit 1
}
mkdir -p "$keel_dir"

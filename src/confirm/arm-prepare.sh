#!/bin/sh
# The start of arming a revert: stops at the first failure, and makes the
# private, empty state directory $d under $root. Prints nothing.
# params: root d
: "${root?}" "${d?}"
set -e
umask 077
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
mkdir -p "$root"
rm -rf "$d"
mkdir "$d"

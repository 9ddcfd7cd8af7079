#!/bin/sh
# Makes the directory $keel_dir (and its parents) readable by root only,
# from the first instant. Prints nothing.
# params: keel_dir
: "${keel_dir?}"
umask 077
mkdir -p -- "$keel_dir"
chmod 0700 -- "$keel_dir"

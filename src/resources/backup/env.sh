#!/bin/sh
# The start of a generated backup script, after its header: strict
# variables, private files, a known directory and PATH.
# params:
set -u
umask 077
cd /
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

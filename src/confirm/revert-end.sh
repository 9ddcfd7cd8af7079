#!/bin/sh
# The end of the revert script: drops the saved state in $d and logs that
# the revert is done. Prints nothing.
# params: d
: "${d?}"
rm -rf "$d"
logger -t keel "reverted ($d)" 2>/dev/null || true

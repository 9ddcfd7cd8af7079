#!/bin/sh
# The start of a batched probe (or of a script of framed parts, some of
# them changes): each part's stderr goes to a private
# temporary file (without one nothing runs: never a predictable name
# another user could plant). Defines keel_begin INDEX and keel_end INDEX
# STATUS, which print the frame lines marked with $KEEL_M around a probe's
# stdout and after it its status and stderr.
# params: KEEL_M
: "${KEEL_M?}"
KEEL_ERR=$(umask 077 && mktemp) || { echo 'keel: cannot create a temporary file for the probe (mktemp failed: is the temporary directory missing, full or read-only?)' >&2; exit 1; }
keel_begin() {
  printf '%s BEGIN %s\n' "$KEEL_M" "$1"
}
keel_end() {
  printf '\n%s END %s %s\n' "$KEEL_M" "$1" "$2"
  cat "$KEEL_ERR" 2>/dev/null
  printf '\n%s ERREND %s\n' "$KEEL_M" "$1"
}

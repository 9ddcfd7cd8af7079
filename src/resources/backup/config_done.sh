#!/bin/sh
# The config part of a generated backup script, after `set --` has the
# existing paths (relative to /): archive them into DEST with tar, rename
# the partial archive, and expire old archives.
# params:
[ "$#" -gt 0 ] || fail "none of the paths exist"
find "$DEST" -mindepth 1 -maxdepth 1 -type f -name 'config_*.tar.gz.partial' -exec rm -f -- {} +
OUT="$DEST/config_$STAMP.tar.gz"
PART="$OUT.partial"
tar -czf "$PART" -C / -- "$@" 2>"$WORK/err"
RC=$?
case $RC in
  0) ;;
  1) log "warning: some files changed while they were archived" ;;
  *) fail "tar exited with status $RC: $(tail -n 5 "$WORK/err" | tr '\n' ' ')" ;;
esac
mv -f -- "$PART" "$OUT" || fail "cannot rename $PART"
PART=
log "wrote $OUT"
expire -type f -name 'config_*.tar.gz'

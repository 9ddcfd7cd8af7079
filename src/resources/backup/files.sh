#!/bin/sh
# The `files` part of a generated backup script: rsync SOURCE into
# DEST/current, then a hard-link snapshot of it for the day, and expire
# old snapshots.
# params: SOURCE
: "${SOURCE?}"
[ -d "$SOURCE" ] || fail "the source $SOURCE is not a directory"
mkdir -p -- "$DEST/current" || fail "cannot create $DEST/current"
rsync -a --delete -- "$SOURCE/" "$DEST/current/" 2>"$WORK/err"
RC=$?
case $RC in
  0) ;;
  24) log "warning: some source files vanished during the copy" ;;
  *) fail "rsync exited with status $RC: $(tail -n 5 "$WORK/err" | tr '\n' ' ')" ;;
esac
DAY=$(date +%Y%m%d)
OUT="$DEST/snapshot-$DAY"
PART="$DEST/.snapshot-$DAY.partial"
rm -rf -- "$PART"
cp -al -- "$DEST/current" "$PART" 2>"$WORK/err" || fail "cannot make the hard-link snapshot: $(tail -n 5 "$WORK/err" | tr '\n' ' ')"
# cp -a kept the source's time; the snapshot's own time drives retention.
touch -- "$PART"
{ rm -rf -- "$OUT" && mv -- "$PART" "$OUT"; } || fail "cannot rename the snapshot to $OUT"
PART=
log "snapshot $OUT"
expire -type d -name 'snapshot-[0-9]*'

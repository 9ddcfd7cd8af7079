#!/bin/sh
# The end of the postgres part of a generated backup script, after the
# pipeline `pg_dump | gzip > PART`: check both statuses, rename PART to
# OUT, and expire old dumps of backup NAME.
# params:
GZ=$?
DUMP=$(cat "$WORK/status" 2>/dev/null) || DUMP=unknown
[ "$DUMP" = 0 ] || fail "pg_dump exited with status $DUMP: $(tail -n 5 "$WORK/err" | tr '\n' ' ')"
[ "$GZ" = 0 ] || fail "gzip exited with status $GZ (disk full?)"
mv -f -- "$PART" "$OUT" || fail "cannot rename $PART"
PART=
log "wrote $OUT"
expire -type f -name "${NAME}_backup_*.sql.gz"

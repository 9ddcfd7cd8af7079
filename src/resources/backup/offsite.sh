#!/bin/sh
# The offsite step of a generated backup script: run the user's command
# OFFSITE with KEEL_BACKUP_DEST and KEEL_BACKUP_FILE in its environment;
# its failure fails the run.
# params: OFFSITE
: "${OFFSITE?}"
KEEL_BACKUP_DEST=$DEST
KEEL_BACKUP_FILE=$OUT
export KEEL_BACKUP_DEST KEEL_BACKUP_FILE
log "running the offsite command"
( set +u; eval "$OFFSITE" ) </dev/null || fail "the offsite command failed with status $? (the local backup is kept)"

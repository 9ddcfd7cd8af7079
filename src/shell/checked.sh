#!/bin/sh
# For a file replaced with checks: keel_check_rejected OUTPUT (the new
# content failed validation; $keel_checked is untouched) and
# keel_check_restore BACKUP OUTPUT (the installed file failed
# verification: BACKUP is put back, or the new file removed when BACKUP is
# empty). Both print why on stderr with the check's output and stop the
# script.
# params: keel_checked
: "${keel_checked?}"
keel_check_rejected() {
  printf 'keel: validation failed; %s was not changed:\n%s\n' "$keel_checked" "$1" >&2
  exit 1
}
keel_check_restore() {
  if [ -n "$1" ]; then
    mv -f "$1" "$keel_checked"
    printf 'keel: check failed; the previous %s was put back:\n%s\n' "$keel_checked" "$2" >&2
  else
    rm -f "$keel_checked"
    printf 'keel: check failed; the new %s was removed:\n%s\n' "$keel_checked" "$2" >&2
  fi
  exit 1
}

#!/bin/sh
# Stop the step with a clear message when the zone file keel_zf of the
# zone keel_zone is missing (tzdata not installed) or is not a compiled
# zone file (no TZif magic). Prints nothing otherwise.
# params: keel_zone keel_zf
: "${keel_zone?}" "${keel_zf?}"
if [ ! -f "$keel_zf" ]; then
  # shellcheck disable=SC2016 # the backquotes are text
  printf 'keel: time zone %s: %s does not exist on this host; install the tzdata package (declare `package: { name: tzdata }`)\n' "$keel_zone" "$keel_zf" >&2
  exit 1
fi
if [ "$(head -c 4 "$keel_zf")" != TZif ]; then
  printf 'keel: %s is not a time zone file\n' "$keel_zf" >&2
  exit 1
fi

#!/bin/sh
# Read the persisted settings file keel_f: prints conf=present and one
# persisted=<line> for each line matching the ERE keel_re (this key's
# lines) when the file exists.
# params: keel_f keel_re
: "${keel_f?}" "${keel_re?}"
if [ -f "$keel_f" ]; then
  echo conf=present
  grep -E -e "$keel_re" "$keel_f" | sed 's/^/persisted=/'
fi

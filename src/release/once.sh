#!/bin/sh
# Prints the list of releases a step succeeded for ($keel_list, when it
# exists) with $keel_release added at the end.
# params: keel_list keel_release
: "${keel_list?}" "${keel_release?}"
cat -- "$keel_list" 2>/dev/null || true
printf '%s\n' "$keel_release"

#!/bin/sh
# Prints the release record of a host as one line of JSON: the stack, the
# release now applied, the one before ($keel_previous: a JSON string or
# null) and the time.
# params: keel_stack keel_release keel_previous
: "${keel_stack?}" "${keel_release?}" "${keel_previous?}"
printf '{"stack":"%s","release":"%s","previous":%s,"applied_at":"%s"}\n' "$keel_stack" "$keel_release" "$keel_previous" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"

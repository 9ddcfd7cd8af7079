#!/bin/sh
# Refuse a planned change at apply: print the reason on stderr and fail.
# params: keel_msg
: "${keel_msg?}"
printf '%s\n' "$keel_msg" >&2
exit 1

#!/bin/sh
# Validate the project's files (the new ones as temporary copies) with
# `compose config -q`; on failure print Compose's message and
# $keel_msg, and fail (the EXIT trap restores what was touched).
# params: keel_msg
: "${keel_msg?}"
if ! keel_out=$(keel_compose config -q 2>&1); then
  printf '%s\n' "$keel_out" >&2
  echo "$keel_msg" >&2
  exit 1
fi

#!/bin/sh
# A digest of the user's password hash, so the hash never leaves the host:
# prints shadow_sha256=<sha256 of the shadow hash field and a newline>, or
# shadow=unreadable when the shadow entry cannot be read.
# params: keel_user
: "${keel_user?}"
if keel_s=$(getent shadow "$keel_user" 2>/dev/null); then
  printf 'shadow_sha256=%s\n' "$(printf '%s\n' "$keel_s" | cut -d: -f2 | sha256sum | cut -d' ' -f1)"
else
  echo shadow=unreadable
fi
keel_s=

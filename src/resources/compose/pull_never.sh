#!/bin/sh
# With `pull: never`: fail, naming them after $keel_msg, when images of
# $keel_images (one a line) are not on the host. Prints nothing otherwise.
# params: keel_images keel_msg
: "${keel_images?}" "${keel_msg?}"
keel_missing=$(printf '%s\n' "$keel_images" | while IFS= read -r keel_i; do
  if [ -n "$keel_i" ] && ! docker image inspect "$keel_i" >/dev/null 2>&1; then
    printf ' %s' "$keel_i"
  fi
done)
if [ -n "$keel_missing" ]; then
  echo "$keel_msg$keel_missing" >&2
  exit 1
fi

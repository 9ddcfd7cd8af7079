#!/bin/sh
# Remove the images of the releases no longer kept ($keel_images, one a
# line) with `docker image rm`; one still used by a container stays. Says
# what it did on stderr, after $keel_name; never fails.
# params: keel_images keel_name
: "${keel_images?}" "${keel_name?}"
printf '%s\n' "$keel_images" | while IFS= read -r keel_i; do
  if [ -z "$keel_i" ] || ! docker image inspect "$keel_i" >/dev/null 2>&1; then continue; fi
  if docker image rm "$keel_i" >/dev/null 2>&1; then
    echo "$keel_name: removed image $keel_i (an older release)" >&2
  else
    echo "$keel_name: image $keel_i of an older release is still in use; left on the host" >&2
  fi
done

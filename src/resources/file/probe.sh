#!/bin/sh
# What is at the path `p`: prints type=absent|file|dir|link|other; for a
# link its target; for a regular file its mode, ids, names, size and
# sha256, and its content base64-encoded after a `content:` line when it is
# at most `limit` bytes (readable=no when it cannot be read); for an absent
# path parent=missing when its directory `parent` does not exist.
# params: p limit parent
: "${p?}" "${limit?}" "${parent?}"
if [ -L "$p" ]; then
  echo type=link
  printf 'target=%s\n' "$(readlink -- "$p")"
elif [ -d "$p" ]; then
  echo type=dir
elif [ -f "$p" ]; then
  echo type=file
  stat --printf 'mode=%a\nuid=%u\ngid=%g\nowner=%U\ngroup=%G\nsize=%s\n' -- "$p"
  if [ -r "$p" ]; then
    printf 'sha256=%s\n' "$(sha256sum < "$p" | cut -d ' ' -f 1)"
    if [ "$(stat -c %s -- "$p")" -le "$limit" ]; then
      echo content:
      base64 < "$p"
    fi
  else
    echo readable=no
  fi
elif [ -e "$p" ]; then
  echo type=other
else
  echo type=absent
  if [ ! -d "$parent" ]; then echo parent=missing; fi
fi

#!/bin/sh
# What is at the path `p`: prints type=absent|file|dir|link|other; for a
# directory (also through a symbolic link, then link=<target>) its mode,
# ids, names and size, and with `entries` set whether it has entries
# (entries=some|none|unknown) and the mount points at or under it
# (mount=<point>); for a link to something else its target.
# params: p entries
: "${p?}" "${entries?}"
if [ -d "$p" ]; then
  echo type=dir
  if [ -L "$p" ]; then printf 'link=%s\n' "$(readlink -- "$p")"; fi
  stat -L --printf 'mode=%a\nuid=%u\ngid=%g\nowner=%U\ngroup=%G\nsize=%s\n' -- "$p"
  if [ -z "$entries" ] || [ -L "$p" ]; then :
  elif [ ! -r "$p" ] || [ ! -x "$p" ]; then echo entries=unknown
  elif [ -n "$(find "$p" -mindepth 1 -maxdepth 1 -print -quit 2>/dev/null)" ]; then echo entries=some
  else echo entries=none
  fi
  # With `entries`: file systems mounted at or under it (mount=<point>).
  if [ -n "$entries" ] && [ ! -L "$p" ] && [ -r /proc/self/mountinfo ]; then
    while read -r _ _ _ _ keel_mp _; do
      case $keel_mp in "$p" | "$p"/*) printf 'mount=%s\n' "$keel_mp" ;; esac
    done < /proc/self/mountinfo
  fi
elif [ -L "$p" ]; then
  echo type=link
  printf 'target=%s\n' "$(readlink -- "$p")"
elif [ -f "$p" ]; then
  echo type=file
elif [ -e "$p" ]; then
  echo type=other
else
  echo type=absent
fi

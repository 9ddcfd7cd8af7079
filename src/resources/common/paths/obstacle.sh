#!/bin/sh
# What would stop a change at the path `keel_at`, whose directory is
# `keel_dir`. A missing path: blocked=A when its nearest existing ancestor
# A is not a directory (mkdir -p and the write fail there). As root only,
# where nothing but a read-only mount or the immutable attribute (chattr
# +i) denies a write: unwritable=A for the first of these that cannot be
# written — the path when it exists, its directory too with `keel_beside`
# set (the path is replaced by a rename there), else that nearest ancestor.
# With `keel_beside`, mounted=yes when the path itself is a mount point (a
# file bind-mounted by a container runtime), which a rename cannot replace.
# params: keel_at keel_dir keel_beside
: "${keel_at?}" "${keel_dir?}" "${keel_beside?}"
keel_root=
if [ "$(id -u)" -eq 0 ]; then keel_root=yes; fi
if [ -e "$keel_at" ] || [ -L "$keel_at" ]; then
  if [ -n "$keel_beside" ] && [ -r /proc/self/mountinfo ]; then
    while read -r _ _ _ _ keel_mp _; do
      if [ "$keel_mp" = "$keel_at" ]; then echo mounted=yes; break; fi
    done < /proc/self/mountinfo
  fi
  if [ -n "$keel_root" ] && [ ! -L "$keel_at" ]; then
    if [ ! -w "$keel_at" ]; then
      printf 'unwritable=%s\n' "$keel_at"
    elif [ -n "$keel_beside" ] && [ ! -w "$keel_dir" ]; then
      printf 'unwritable=%s\n' "$keel_dir"
    fi
  fi
else
  keel_a=$keel_dir
  while [ ! -e "$keel_a" ] && [ ! -L "$keel_a" ]; do keel_a=$(dirname -- "$keel_a"); done
  if [ ! -d "$keel_a" ]; then
    printf 'blocked=%s\n' "$keel_a"
  elif [ -n "$keel_root" ] && [ ! -w "$keel_a" ]; then
    printf 'unwritable=%s\n' "$keel_a"
  fi
fi

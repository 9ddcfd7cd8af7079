#!/bin/sh
# What is at the work tree's path `keel_p`, as root: tree=absent (and
# parent=missing when its directory `keel_parent` does not exist) or
# tree=notdir, and stops there; else owner=<name of its owner>, and when git
# is not installed git=missing and tree=worktree|empty|dir. Otherwise it
# defines keel_as, which runs a script from stdin as the tree's owner, for
# the git part that follows.
# params: keel_p keel_parent
: "${keel_p?}" "${keel_parent?}"
if [ ! -e "$keel_p" ] && [ ! -L "$keel_p" ]; then
  echo tree=absent
  if [ ! -d "$keel_parent" ]; then echo parent=missing; fi
  exit 0
fi
if [ ! -d "$keel_p" ]; then echo tree=notdir; exit 0; fi
keel_u=$(stat -L -c %U -- "$keel_p")
printf 'owner=%s\n' "$keel_u"
if ! command -v git >/dev/null 2>&1; then
  echo git=missing
  if [ -e "$keel_p/.git" ]; then echo tree=worktree
  elif [ -z "$(ls -A -- "$keel_p")" ]; then echo tree=empty
  else echo tree=dir; fi
  exit 0
fi
if [ "$(id -u)" = 0 ] && [ "$keel_u" != root ] && [ "$keel_u" != UNKNOWN ]; then
  keel_as() { runuser -u "$keel_u" -- sh -s; }
else
  keel_as() { sh -s; }
fi

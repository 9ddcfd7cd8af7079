#!/bin/sh
# The git part of the probe, run as the tree's owner: tree=empty|dir when
# `keel_p` is not the top of a work tree; else tree=worktree, head=, origin=,
# shallow=yes, changes=N with up to five change= lines, and how the ref
# resolves locally: ref=tag|branch|commit|unknown with ref_commit= (and
# ref_name= for a branch). An empty `keel_ref` is the remote's default
# branch; refs are looked up as commits only with `keel_commit_like` set.
# When that commit is not HEAD: in_way=N with up to five in_way_file= lines,
# the files it adds to HEAD's that are already in the work tree (untracked
# or ignored), which a checkout refuses to overwrite, or overwrites when
# ignored or forced.
# params: keel_p keel_ref keel_commit_like
: "${keel_p?}" "${keel_ref?}" "${keel_commit_like?}"
keel_git() { git --no-optional-locks -c safe.directory='*' -C "$keel_p" "$@"; }
keel_top=$(keel_git rev-parse --show-toplevel 2>/dev/null) || keel_top=
if [ -z "$keel_top" ] || [ "$keel_top" != "$(cd -- "$keel_p" && pwd -P)" ]; then
  if [ -z "$(ls -A -- "$keel_p")" ]; then echo tree=empty; else echo tree=dir; fi
  exit 0
fi
echo tree=worktree
keel_head=$(keel_git rev-parse -q --verify 'HEAD^{commit}' 2>/dev/null) || keel_head=
printf 'head=%s\n' "$keel_head"
printf 'origin=%s\n' "$(keel_git config --get remote.origin.url 2>/dev/null)"
if [ "$(keel_git rev-parse --is-shallow-repository 2>/dev/null)" = true ]; then echo shallow=yes; fi
keel_st=$(keel_git status --porcelain --untracked-files=no 2>/dev/null) || keel_st=
if [ -n "$keel_st" ]; then
  printf 'changes=%s\n' "$(printf '%s\n' "$keel_st" | wc -l)"
  printf '%s\n' "$keel_st" | head -n 5 | sed 's/^/change=/'
fi
keel_c=
if [ -z "$keel_ref" ]; then
  if keel_c=$(keel_git rev-parse -q --verify 'refs/remotes/origin/HEAD^{commit}' 2>/dev/null); then
    keel_b=$(keel_git symbolic-ref -q --short refs/remotes/origin/HEAD 2>/dev/null) || keel_b=
    printf 'ref=branch\nref_name=%s\nref_commit=%s\n' "${keel_b#origin/}" "$keel_c"
  else
    echo ref=unknown
  fi
elif keel_c=$(keel_git rev-parse -q --verify "refs/tags/$keel_ref^{commit}" 2>/dev/null); then
  printf 'ref=tag\nref_commit=%s\n' "$keel_c"
elif keel_c=$(keel_git rev-parse -q --verify "refs/remotes/origin/$keel_ref^{commit}" 2>/dev/null); then
  printf 'ref=branch\nref_name=%s\nref_commit=%s\n' "$keel_ref" "$keel_c"
elif [ -n "$keel_commit_like" ] && keel_c=$(keel_git rev-parse -q --verify "$keel_ref^{commit}" 2>/dev/null); then
  printf 'ref=commit\nref_commit=%s\n' "$keel_c"
else
  echo ref=unknown
fi
if [ -n "$keel_c" ] && [ -n "$keel_head" ] && [ "$keel_c" != "$keel_head" ]; then
  keel_w=$(keel_git -c core.quotePath=false diff --name-only --no-renames --diff-filter=A "$keel_head" "$keel_c" 2>/dev/null |
    while IFS= read -r keel_f; do
      if [ -e "$keel_p/$keel_f" ] || [ -L "$keel_p/$keel_f" ]; then printf '%s\n' "$keel_f"; fi
    done)
  if [ -n "$keel_w" ]; then
    printf 'in_way=%s\n' "$(printf '%s\n' "$keel_w" | wc -l)"
    printf '%s\n' "$keel_w" | head -n 5 | sed 's/^/in_way_file=/'
  fi
fi

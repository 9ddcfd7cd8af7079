#!/bin/sh
# The part of the git apply script that runs as the tree's owner: with
# `keel_new` set, make a repository at `keel_p` with origin `keel_repo`
# (removed again on failure); else refuse local changes to tracked files
# unless `keel_force` is set and point origin at `keel_repo`. Then fetch
# the ref `keel_ref` (a tag, a branch, with `keel_commit_like` a commit;
# empty: the remote's default branch; `keel_full_commit`: a full sha that
# may need no fetch) and check out its commit detached, discarding local
# changes with `keel_force` or `keel_new`; without them, files the new
# commit adds that are already in the work tree (untracked or ignored)
# make it fail rather than be overwritten. `keel_depth` is empty or
# --depth=N; `keel_cred`, when set, is the credential helper (the
# credentials are in the environment); `keel_local` marks a repository on
# this host. git's messages are masked with the sed expression
# `keel_mask_sed`; `keel_repo_masked` names the repository in messages.
# Prints nothing on success.
# params: keel_p keel_repo keel_repo_masked keel_ref keel_new keel_force keel_depth keel_cred keel_local keel_full_commit keel_commit_like keel_mask_sed
: "${keel_p?}" "${keel_repo?}" "${keel_repo_masked?}" "${keel_ref?}" "${keel_new?}" "${keel_force?}" "${keel_depth?}" "${keel_cred?}" "${keel_local?}" "${keel_full_commit?}" "${keel_commit_like?}" "${keel_mask_sed?}"
set -e
cd /
keel_mask() { sed -e "$keel_mask_sed"; }
keel_q() {
  if [ -n "$keel_cred" ]; then
    keel_o=$(git -c safe.directory='*' -c credential.helper= -c "credential.helper=$keel_cred" -C "$keel_p" "$@" 2>&1)
  else
    keel_o=$(git -c safe.directory='*' -C "$keel_p" "$@" 2>&1)
  fi
}
keel_git() {
  if keel_q "$@"; then return 0; else keel_s=$?; printf '%s\n' "$keel_o" | keel_mask >&2; return "$keel_s"; fi
}
if [ -n "$keel_new" ]; then
  keel_undo() { keel_rc=$?; if [ "$keel_rc" -ne 0 ]; then rm -rf -- "$keel_p/.git"; fi; }
  trap keel_undo EXIT
  keel_git init -q
  keel_git remote add origin "$keel_repo"
else
  keel_st=$(git -c safe.directory='*' -C "$keel_p" status --porcelain --untracked-files=no)
  if [ -n "$keel_st" ] && [ -z "$keel_force" ]; then
    printf 'keel: %s has local changes to tracked files; keel will not discard them (set force: true to discard them):\n' "$keel_p" >&2
    printf '%s\n' "$keel_st" | head -n 5 >&2
    exit 1
  fi
  if git -c safe.directory='*' -C "$keel_p" config --get remote.origin.url >/dev/null; then
    keel_git remote set-url origin "$keel_repo"
  else
    keel_git remote add origin "$keel_repo"
  fi
fi
if [ -n "$keel_local" ]; then
  # git clears `-c` settings for the upload-pack of a local repository,
  # which then refuses an origin owned by another user ("dubious
  # ownership"): give it the setting itself.
  keel_git config remote.origin.uploadpack "git -c safe.directory='*' upload-pack"
fi
if [ -z "$keel_ref" ]; then
  keel_git fetch -q --force --prune ${keel_depth:+"$keel_depth"} origin
  keel_git remote set-head origin --auto
  keel_c=$(git -c safe.directory='*' -C "$keel_p" rev-parse -q --verify 'refs/remotes/origin/HEAD^{commit}')
else
  keel_t=
  # A full commit already here needs no fetch.
  if [ -n "$keel_full_commit" ] && keel_q rev-parse -q --verify "$keel_ref^{commit}"; then keel_t=$keel_ref; fi
  if [ -n "$keel_t" ]; then :
  elif keel_q fetch -q --force ${keel_depth:+"$keel_depth"} origin "+refs/tags/$keel_ref:refs/tags/$keel_ref"; then keel_t="refs/tags/$keel_ref"
  elif keel_q fetch -q --force ${keel_depth:+"$keel_depth"} origin "+refs/heads/$keel_ref:refs/remotes/origin/$keel_ref"; then keel_t="refs/remotes/origin/$keel_ref"
  elif [ -n "$keel_commit_like" ] && {
    keel_q rev-parse -q --verify "$keel_ref^{commit}" ||
    { keel_q fetch -q --force --tags ${keel_depth:+"$keel_depth"} origin '+refs/heads/*:refs/remotes/origin/*' && keel_q rev-parse -q --verify "$keel_ref^{commit}"; } ||
    { keel_q fetch -q ${keel_depth:+"$keel_depth"} origin "$keel_ref" && keel_q rev-parse -q --verify "$keel_ref^{commit}"; }
  }; then keel_t=$keel_ref
  else
    printf '%s\n' "$keel_o" | tail -n 4 | keel_mask >&2
    # shellcheck disable=SC2016 # backquotes of the message, not a command
    printf 'keel: `%s` is not a tag, branch or commit of %s\n' "$keel_ref" "$keel_repo_masked" >&2
    exit 1
  fi
  keel_c=$(git -c safe.directory='*' -C "$keel_p" rev-parse -q --verify "$keel_t^{commit}")
fi
if [ -n "$keel_force" ] || [ -n "$keel_new" ]; then
  keel_git checkout -q --force --detach "$keel_c"
  keel_git reset -q --hard "$keel_c"
else
  # Files the new commit adds that are already here: git refuses them when
  # untracked, but overwrites them silently when ignored (a local `.env`).
  keel_h=$(git -c safe.directory='*' -C "$keel_p" rev-parse -q --verify 'HEAD^{commit}') || keel_h=
  if [ -n "$keel_h" ]; then
    keel_w=$(git -c safe.directory='*' -c core.quotePath=false -C "$keel_p" diff --name-only --no-renames --diff-filter=A "$keel_h" "$keel_c" |
      while IFS= read -r keel_f; do
        if [ -e "$keel_p/$keel_f" ] || [ -L "$keel_p/$keel_f" ]; then printf '%s\n' "$keel_f"; fi
      done)
    if [ -n "$keel_w" ]; then
      printf 'keel: %s holds files that the commit to check out adds; keel will not overwrite them (move them away, or set force: true to overwrite them):\n' "$keel_p" >&2
      printf '%s\n' "$keel_w" | head -n 5 >&2
      exit 1
    fi
  fi
  keel_git checkout -q --detach "$keel_c"
fi

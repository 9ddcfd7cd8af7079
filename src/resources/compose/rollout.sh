#!/bin/sh
# Define `keel_step SERVICE [CHECK RETRIES DELAY TIMEOUT]` for a rolling
# update: `up -d --no-deps SERVICE`, wait for it when $keel_wait_on is
# set, then run the shell command CHECK (each attempt limited to TIMEOUT
# seconds, up to RETRIES attempts DELAY seconds apart). When any of it
# fails: put back the files kept in $keel_prev (when it is set and
# complete), bring the services updated so far up again with them, print
# why after $keel_name, and exit 1. And `keel_last [SERVICE...]`, the
# rollout's last step: `up -d` of the whole project (with
# --remove-orphans when $keel_orphans is set), then wait for the SERVICEs;
# when that fails the files are put back and the whole project brought up
# with them; when it passes the kept files are removed. Needs
# keel_compose and keel_wait.
# params: keel_prev keel_wait_on keel_name keel_orphans
: "${keel_prev?}" "${keel_wait_on?}" "${keel_name?}" "${keel_orphans?}"
keel_done=
keel_check() {
  keel_try=1
  while :; do
    # The check's text reaches sh through the environment, not its argv
    # (it may hold a secret; every process's argv is readable by all).
    # shellcheck disable=SC2016 # expanded by that sh
    if keel_out=$(KEEL_CHECK_COMMAND=$2 timeout "$5" sh -c 'keel_c=$KEEL_CHECK_COMMAND; unset KEEL_CHECK_COMMAND; eval "$keel_c"' 2>&1 </dev/null); then return 0; else keel_rc=$?; fi
    if [ "$keel_try" -ge "$3" ]; then break; fi
    keel_try=$((keel_try + 1))
    sleep "$4"
  done
  if [ "$keel_rc" -eq 124 ]; then keel_out="$keel_out
(the last attempt timed out after $5 s)"; fi
  return 1
}
keel_back() {
  if [ -z "$2" ]; then return 0; fi
  if [ -f "$keel_prev/$1" ]; then mv -f -- "$keel_prev/$1" "$2"; else rm -f -- "$2"; fi
}
# shellcheck disable=SC2154,SC2034 # keel_file, keel_env_file, keel_override, keel_with_override and keel_dir belong to prelude.sh
keel_rollback() {
  if [ -z "$keel_prev" ] || [ ! -f "$keel_prev/complete" ]; then
    echo "$keel_name: the files did not change in this run, there is no previous release to return to; services left as they are:$keel_done" >&2
    return 0
  fi
  keel_back file "$keel_file"
  keel_back env "$keel_env_file"
  keel_back override "$keel_override"
  rm -rf -- "$keel_prev"
  if [ -f "$keel_override" ]; then keel_with_override=yes; else keel_with_override=; fi
  if [ -n "$keel_env_file" ] && [ ! -e "$keel_env_file" ]; then keel_env_file=; fi
  if [ "$1" = all ]; then
    set -- up -d
    keel_done=" every service"
  else
    # shellcheck disable=SC2086 # service names, one word each
    set -- up -d --no-deps $keel_done
  fi
  if keel_compose "$@" >&2; then
    echo "$keel_name: returned$keel_done to the previous release (the files in $keel_dir put back)" >&2
  else
    echo "$keel_name: the files in $keel_dir were put back, but bringing$keel_done up with them failed" >&2
  fi
}
keel_step() {
  keel_done="$keel_done $1"
  if ! keel_compose up -d --no-deps "$1"; then
    keel_why="\`up -d --no-deps $1\` failed"
  elif [ -n "$keel_wait_on" ] && ! keel_wait "$1"; then
    keel_why="$1 did not become running/healthy"
  elif [ $# -gt 1 ] && ! keel_check "$@"; then
    keel_why="the check after $1 failed ($keel_try of $3 attempts): $2
--- its output:
$(printf '%s\n' "$keel_out" | tail -n 20)"
  else
    return 0
  fi
  echo "$keel_name: rollout stopped at $1: $keel_why" >&2
  keel_rollback
  exit 1
}
keel_last() {
  if [ -n "$keel_orphans" ]; then keel_up_args="up -d --remove-orphans"; else keel_up_args="up -d"; fi
  # shellcheck disable=SC2086 # fixed words
  if ! keel_compose $keel_up_args; then
    keel_why="\`$keel_up_args\` of the whole project failed"
  elif [ -n "$keel_wait_on" ] && [ $# -gt 0 ] && ! keel_wait "$@"; then
    keel_why="not every service became running/healthy"
  else
    if [ -n "$keel_prev" ]; then rm -rf -- "$keel_prev"; fi
    return 0
  fi
  echo "$keel_name: rollout stopped after the last step: $keel_why" >&2
  keel_rollback all
  exit 1
}

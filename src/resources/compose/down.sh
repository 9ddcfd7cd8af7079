#!/bin/sh
# Take the project down: when $keel_use_compose is set (its compose file
# is there; keel_compose comes from the prelude), `compose down
# --remove-orphans` with its files (an env file that is gone is left
# out); then whatever is left with the project's label $keel_label goes
# with docker itself: containers, networks, and volumes only when
# $keel_volumes is set. Says on stderr after $keel_name when `compose
# down` failed; fails when something could not be removed.
# params: keel_label keel_use_compose keel_volumes keel_name
: "${keel_label?}" "${keel_use_compose?}" "${keel_volumes?}" "${keel_name?}"
if [ -n "$keel_use_compose" ]; then
  if [ -n "$keel_env_file" ] && [ ! -f "$keel_env_file" ]; then keel_env_file=; fi
  if [ -n "$keel_volumes" ]; then set -- -v; else set --; fi
  if ! keel_compose down --remove-orphans "$@"; then
    echo "$keel_name: compose down failed; removing the project's containers and networks by their label" >&2
  fi
fi
keel_ids=$(docker ps -aq --filter "$keel_label") || exit 1
# shellcheck disable=SC2086 # ids, one word each
if [ -n "$keel_ids" ]; then docker rm -f $keel_ids >/dev/null || exit 1; fi
keel_ids=$(docker network ls -q --filter "$keel_label") || exit 1
# shellcheck disable=SC2086 # ids, one word each
if [ -n "$keel_ids" ]; then docker network rm $keel_ids >/dev/null || exit 1; fi
if [ -n "$keel_volumes" ]; then
  keel_ids=$(docker volume ls -q --filter "$keel_label") || exit 1
  # shellcheck disable=SC2086 # names, one word each
  if [ -n "$keel_ids" ]; then docker volume rm $keel_ids >/dev/null || exit 1; fi
fi

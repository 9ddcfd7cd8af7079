#!/bin/sh
# Find Compose (v2 `docker compose` first, then v1 `docker-compose`) and
# define keel_compose, which runs it on this project with $keel_file (and
# $keel_override when $keel_with_override is set) as compose files and
# $keel_env_file (when set) as env file; later lines may point keel_file
# and keel_override at other files. Prints nothing; fails when neither
# Compose is installed.
# params: keel_file keel_override keel_with_override keel_project keel_dir keel_env_file
: "${keel_file?}" "${keel_override?}" "${keel_with_override?}" "${keel_project?}" "${keel_dir?}" "${keel_env_file?}"
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  keel_tool=v2
elif command -v docker-compose >/dev/null 2>&1; then
  keel_tool=v1
else
  # shellcheck disable=SC2016 # backquotes are text in this message
  echo 'keel: neither `docker compose` (v2) nor `docker-compose` (v1) is installed: declare `docker: {}` (it installs Compose) before this project' >&2
  exit 1
fi
keel_compose() {
  if [ -n "$keel_with_override" ]; then set -- -f "$keel_override" "$@"; fi
  set -- -f "$keel_file" "$@"
  if [ -n "$keel_env_file" ]; then set -- --env-file "$keel_env_file" "$@"; fi
  set -- -p "$keel_project" --project-directory "$keel_dir" "$@"
  if [ "$keel_tool" = v2 ]; then docker compose "$@"; else docker-compose "$@"; fi
}

#!/bin/sh
# Read a compose project: dir=yes|no; for the compose, env and override
# files NAME_mode= and NAME=BASE64 (or NAME_type=other when not a regular
# file); hash= (the hash file); docker=yes|no, compose=v2|v1 VERSION,
# daemon=up|down, one ctr=... line per container of the project, and
# image=REF|ID for each image in $keel_images (one a line); releases=BASE64
# (the history of $keel_releases, when it exists); previous=complete|partial
# when a rolling update's copy of the files $keel_prev exists.
# params: keel_dir keel_file keel_env keel_override keel_hash keel_label keel_images keel_releases keel_prev
: "${keel_dir?}" "${keel_file?}" "${keel_env?}" "${keel_override?}" "${keel_hash?}" "${keel_label?}" "${keel_images?}" "${keel_releases?}" "${keel_prev?}"
keel_f() {
  if [ -L "$2" ] || { [ -e "$2" ] && [ ! -f "$2" ]; }; then
    printf '%s_type=other\n' "$1"
  elif [ -f "$2" ]; then
    printf '%s_mode=%s\n' "$1" "$(stat -c %a -- "$2")"
    printf '%s=%s\n' "$1" "$(base64 -w 0 < "$2")"
  fi
}
if [ -d "$keel_dir" ]; then echo dir=yes; else echo dir=no; fi
keel_f file "$keel_file"
if [ -n "$keel_env" ]; then keel_f env "$keel_env"; fi
keel_f override "$keel_override"
if [ -f "$keel_hash" ]; then printf 'hash=%s\n' "$(head -c 100 "$keel_hash" | tr -d '\n')"; fi
if [ -f "$keel_prev/complete" ]; then echo previous=complete; elif [ -e "$keel_prev" ]; then echo previous=partial; fi
if [ -f "$keel_releases" ]; then printf 'releases=%s\n' "$(head -c 65536 "$keel_releases" | base64 -w 0)"; fi
if command -v docker >/dev/null 2>&1; then
  echo docker=yes
  if docker compose version >/dev/null 2>&1; then
    printf 'compose=v2 %s\n' "$(docker compose version --short 2>/dev/null)"
  elif command -v docker-compose >/dev/null 2>&1; then
    printf 'compose=v1 %s\n' "$(docker-compose version --short 2>/dev/null)"
  fi
  if keel_ids=$(timeout 20 docker ps -aq --filter "$keel_label" 2>/dev/null); then
    echo daemon=up
    if [ -n "$keel_ids" ]; then
      # shellcheck disable=SC2086 # container ids, one word each
      timeout 20 docker inspect -f 'ctr={{index .Config.Labels "com.docker.compose.service"}}|{{index .Config.Labels "com.docker.compose.container-number"}}|{{index .Config.Labels "com.docker.compose.oneoff"}}|{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}|{{.State.ExitCode}}|{{.Config.Image}}|{{.Image}}|{{.Name}}' $keel_ids 2>/dev/null || true
    fi
    printf '%s\n' "$keel_images" | while IFS= read -r keel_i; do
      if [ -n "$keel_i" ]; then
        printf 'image=%s|%s\n' "$keel_i" "$(docker image inspect -f '{{.Id}}' "$keel_i" 2>/dev/null || true)"
      fi
    done
  else
    echo daemon=down
  fi
else
  echo docker=no
fi
exit 0

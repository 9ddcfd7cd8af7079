#!/bin/sh
# Read the Docker engine's state: prints pkg=NAME|STATUS|VERSION for each
# known package installed, dockerd=, active=, enabled=, server= (when the
# daemon runs), compose= (v2 `docker compose` or v1 `docker-compose`) and
# daemon_json=BASE64 (or daemon_json=other when it is not a regular file).
# Fails (status 2) when systemd is not running.
# params: keel_packages keel_daemon_json
: "${keel_packages?}" "${keel_daemon_json?}"
if [ ! -d /run/systemd/system ]; then
  echo 'keel: systemd is not running on this host (no /run/systemd/system): the docker kind needs systemd' >&2
  exit 2
fi
# shellcheck disable=SC2086 # a list of package names, one word each
dpkg-query -W -f='pkg=${Package}|${db:Status-Abbrev}|${Version}\n' $keel_packages 2>/dev/null || true
if command -v dockerd >/dev/null 2>&1; then
  printf 'dockerd=%s\n' "$(dockerd --version 2>/dev/null | head -n 1)"
fi
keel_active=$(systemctl is-active docker.service 2>/dev/null) || true
keel_enabled=$(systemctl is-enabled docker.service 2>/dev/null) || true
printf 'active=%s\nenabled=%s\n' "$keel_active" "$keel_enabled"
if [ "$keel_active" = active ] && command -v docker >/dev/null 2>&1; then
  printf 'server=%s\n' "$(timeout 10 docker version --format '{{.Server.Version}}' 2>/dev/null)"
fi
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  printf 'compose=docker compose %s\n' "$(docker compose version --short 2>/dev/null)"
elif command -v docker-compose >/dev/null 2>&1; then
  printf 'compose=docker-compose %s\n' "$(docker-compose version --short 2>/dev/null)"
fi
if [ -L "$keel_daemon_json" ] || { [ -e "$keel_daemon_json" ] && [ ! -f "$keel_daemon_json" ]; }; then
  echo daemon_json=other
elif [ -f "$keel_daemon_json" ]; then
  printf 'daemon_json=%s\n' "$(base64 -w 0 < "$keel_daemon_json")"
fi
exit 0

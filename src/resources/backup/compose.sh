#!/bin/sh
# Defines `dc`, the compose command of a generated postgres backup script:
# `docker compose`, else `docker-compose`, else the run fails.
# params:
if docker compose version >/dev/null 2>&1; then
  dc() { docker compose "$@"; }
elif command -v docker-compose >/dev/null 2>&1; then
  dc() { docker-compose "$@"; }
else
  fail "neither docker compose nor docker-compose is installed"
fi

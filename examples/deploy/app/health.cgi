#!/bin/sh
# The api's health endpoint (/cgi-bin/health): `ok RELEASE`, or a 500 for
# a release whose name ends in `-broken` (to try the automatic rollback).
# Each request is logged on stderr (the container's log).
v=$(cat /www/version)
echo "health requested at release $v" >&2
case "$v" in
  *-broken) printf 'HTTP/1.0 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\nbroken %s\n' "$v" ;;
  *) printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nok %s\n' "$v" ;;
esac

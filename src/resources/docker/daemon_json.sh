#!/bin/sh
# Put the new daemon.json (already written to "$keel_tmp" by the caller,
# which also set an EXIT trap removing it) in place: validate it with
# dockerd when dockerd knows --validate (23.0+), keep the old file as
# $keel_backup, rename the new one over $keel_target, and, with
# $keel_restart set, restart docker; when docker does not start, put the
# old file back, restart again and fail with dockerd's message.
# Prints nothing on success.
# params: keel_target keel_backup keel_restart
: "${keel_target?}" "${keel_backup?}" "${keel_restart?}"
# shellcheck disable=SC2154 # keel_tmp: set by the caller's temporary file
if command -v dockerd >/dev/null 2>&1 && dockerd --help 2>&1 | grep -q -e '--validate'; then
  if ! keel_out=$(dockerd --validate --config-file "$keel_tmp" 2>&1); then
    printf '%s\n' "$keel_out" >&2
    echo "keel: dockerd --validate rejected the new $keel_target; the current file was left as it is" >&2
    exit 1
  fi
fi
keel_had=no
if [ -f "$keel_target" ]; then
  (umask 077 && cp -p "$keel_target" "$keel_backup")
  keel_had=yes
fi
mv -f -- "$keel_tmp" "$keel_target"
trap - EXIT
if [ -n "$keel_restart" ]; then
  keel_since=$(date +%s)
  if ! systemctl restart docker.service; then
    journalctl -u docker.service --since "@$keel_since" -o cat --no-pager 2>/dev/null | grep -v -e '^$' -e '^docker.service' -e 'Docker Application Container Engine' -e 'level=info' -e 'level=debug' -e 'level=warn' | tail -n 4 >&2 || true
    if [ "$keel_had" = yes ]; then
      mv -f "$keel_backup" "$keel_target"
    else
      rm -f "$keel_target"
    fi
    systemctl reset-failed docker.service docker.socket 2>/dev/null || true
    if systemctl restart docker.service; then
      keel_then='docker runs again with the previous configuration'
    else
      keel_then='docker did not start with the previous configuration either'
    fi
    echo "keel: docker failed to start with the new $keel_target (dockerd's message above); the previous file was put back and $keel_then" >&2
    exit 1
  fi
fi
rm -f "$keel_backup"

#!/bin/sh
# Reload sshd (after lookup.sh): systemd's ssh.service or sshd.service, or a
# SIGHUP without systemd; with keel_socket set, also regenerate and restart
# Ubuntu's ssh.socket (it takes Port and ListenAddress). sshd re-executes
# itself on a reload and refuses connections for a moment: wait (at most
# 10 s) for its new pid file, written once it listens again, so the
# connection that confirms access does not race it. Prints nothing; fails
# when sshd does not come back.
# params: keel_socket
: "${keel_socket?}"
# shellcheck disable=SC2154 # keel_sshd is set by lookup.sh before this
keel_pidf=
if [ -n "$keel_sshd" ]; then keel_pidf=$("$keel_sshd" -T 2>/dev/null | sed -n 's/^pidfile //p' | head -n 1); fi
keel_ino=
if [ -n "$keel_pidf" ] && [ -f "$keel_pidf" ]; then keel_ino=$(stat -c "%i %y" "$keel_pidf" 2>/dev/null || true); fi
keel_reloaded=no
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  if [ -n "$keel_socket" ] && systemctl is-active --quiet ssh.socket; then
    systemctl daemon-reload; systemctl restart ssh.socket
  fi
  if systemctl is-active --quiet ssh.service; then systemctl reload ssh.service; keel_reloaded=yes
  elif systemctl is-active --quiet sshd.service; then systemctl reload sshd.service; keel_reloaded=yes
  fi
elif [ -n "$keel_ino" ]; then
  kill -HUP "$(cat "$keel_pidf")" 2>/dev/null && keel_reloaded=yes
fi
if [ "$keel_reloaded" = yes ] && [ -n "$keel_ino" ]; then
  keel_n=0
  while [ ! -f "$keel_pidf" ] || [ "$(stat -c "%i %y" "$keel_pidf" 2>/dev/null)" = "$keel_ino" ]; do
    keel_n=$((keel_n + 1))
    if [ "$keel_n" -gt 100 ]; then
      echo "keel: sshd did not come back within 10 s after the reload (no new $keel_pidf)" >&2
      exit 1
    fi
    sleep 0.1
  done
fi

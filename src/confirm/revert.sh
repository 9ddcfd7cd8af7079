#!/bin/sh
# The start of the revert script: leaves at once when the saved state in
# $d is gone, else defines keel_restore INDEX PATH (puts back one saved
# path, or removes it when it did not exist) and keel_unit INDEX UNIT
# ssh|other (puts a service back in its saved state). Prints nothing.
# params: d
: "${d?}"
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
[ -d "$d" ] || exit 0
logger -t keel "reverting an unconfirmed change that can cut access ($d)" 2>/dev/null || true
keel_restore() {
  p=$2; parent=$(dirname "$p"); base=$(basename "$p")
  if [ -f "$d/path-$1.tar" ]; then
    # Unpacked in the private state directory (never in a directory
    # someone else may write to), then swapped in.
    t="$d/restore-$1"
    rm -rf "$t" && mkdir -p "$t" "$parent"
    if tar -C "$t" -xpf "$d/path-$1.tar"; then
      if [ -e "$p" ] || [ -L "$p" ]; then mv "$p" "$t/.keel-broken"; fi
      mv "$t/$base" "$p"
    fi
    rm -rf "$t"
  elif [ -f "$d/path-$1.absent" ]; then
    rm -rf "$p"
  fi
}
keel_unit() {
  if [ "$3" = ssh ]; then
    mkdir -p /run/sshd
    systemctl restart "$2" 2>/dev/null || systemctl restart ssh 2>/dev/null || systemctl restart sshd 2>/dev/null || service ssh restart 2>/dev/null || true
  elif [ "$(cat "$d/unit-$1" 2>/dev/null)" = active ]; then
    systemctl restart "$2" 2>/dev/null || true
  else
    systemctl stop "$2" 2>/dev/null || true
  fi
}

#!/bin/sh
# Opens every ufw command: stops unless ufw is installed, and defines
# keel_ufw (ufw with no stdin), keel_ufw_count FILE (the number of rules in
# a ufw rules file) and keel_ufw_pos FILE KEY (the 1-based position of the
# non-route rule whose tuple key is KEY; nothing when absent). Prints
# nothing; fails with a message when ufw is missing.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export PATH
if ! command -v ufw >/dev/null 2>&1; then
  # shellcheck disable=SC2016 # the backquotes are text
  echo 'keel: ufw is not installed on this host (declare `- package: { name: ufw }`)' >&2
  exit 1
fi
keel_ufw() { ufw "$@" </dev/null; }
keel_ufw_count() {
  if [ -f "$1" ]; then awk '/^### tuple ### /{n++} END{print n+0}' "$1"; else echo 0; fi
}
keel_ufw_pos() {
  [ -f "$1" ] || return 0
  awk -v key="$2" '/^### tuple ### / { n++; if ($4 ~ /^route:/) next; line = $0; sub(/ comment=.*$/, "", line); sub(/^### tuple ### [^ ]+ /, "", line); sub(/[ \t\r]+$/, "", line); if (line == key) { print n; exit } }' "$1"
}

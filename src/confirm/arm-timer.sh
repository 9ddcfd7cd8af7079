#!/bin/sh
# The end of arming a revert: writes the revert script (the text $revert)
# into $d and has it run in $timeout seconds by a transient systemd timer
# named $unit, or without systemd by a detached sleep. Prints `armed`.
# params: d revert unit timeout
: "${d?}" "${revert?}" "${unit?}" "${timeout?}"
printf '%s' "$revert" > "$d/revert.sh"
chmod 700 "$d/revert.sh"
if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then
  systemd-run --quiet --unit="$unit" --on-active="${timeout}s" --timer-property=AccuracySec=1s /bin/sh "$d/revert.sh"
else
  # shellcheck disable=SC2016 # expanded by the detached shell
  setsid sh -c 'sleep "$1"; sh "$2/revert.sh"' keel-revert "$timeout" "$d" </dev/null >/dev/null 2>&1 &
fi
echo armed

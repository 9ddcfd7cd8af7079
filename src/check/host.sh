#!/bin/sh
# Runs one host-side check, bounded by `timeout` (coreutils) to $keel_secs
# seconds when the host has it, so a hung check does not outlive its
# attempt: a shell command ($keel_check = command), a systemd unit's state
# (unit) or a container's state and health (container), for $keel_arg.
# Prints what the check prints; exits with its status. A command's text
# reaches its `sh -c` through the environment, never its arguments (it may
# hold a secret, and every process's argv is readable by every user).
# params: keel_secs keel_check keel_arg
: "${keel_secs?}" "${keel_check?}" "${keel_arg?}"
case $keel_check in
command)
  KEEL_CHECK_COMMAND=$keel_arg
  export KEEL_CHECK_COMMAND
  # shellcheck disable=SC2016 # expanded by that sh
  set -- sh -c 'keel_c=$KEEL_CHECK_COMMAND; unset KEEL_CHECK_COMMAND; eval "$keel_c"' ;;
unit) set -- systemctl is-active "$keel_arg" ;;
container) set -- docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$keel_arg" ;;
*) echo "keel: unknown host check $keel_check" >&2; exit 2 ;;
esac
if command -v timeout >/dev/null 2>&1; then timeout -k 2 "$keel_secs" "$@"; else "$@"; fi

#!/bin/sh
# Set the kernel parameter keel_key (file keel_p) to keel_v, as `sysctl -w`
# does, and read it back: fails with the cause (missing key, read-only
# /proc/sys, permission, rejected value) or when the kernel reads back
# something else than keel_want (the value with whitespace collapsed).
# The write goes through coreutils' printf (`env printf`): dash's builtin
# reports every failed write as "I/O error". Prints nothing.
# params: keel_key keel_p keel_v keel_want
: "${keel_key?}" "${keel_p?}" "${keel_v?}" "${keel_want?}"
export LC_ALL=C
if [ ! -e "$keel_p" ]; then
  printf 'keel: sysctl %s does not exist on this host (no %s): load the kernel module that provides it first\n' "$keel_key" "$keel_p" >&2
  exit 1
fi
if ! keel_err=$( { env printf '%s\n' "$keel_v" > "$keel_p"; } 2>&1 ); then
  case "$keel_err" in
    *'Read-only file system'*)
      # shellcheck disable=SC2016 # the backquotes are text
      keel_why='/proc/sys is mounted read-only (as in most containers, where such a setting belongs to the container runtime, e.g. `docker run --sysctl`)' ;;
    *'Permission denied'*)
      keel_why='permission denied (the key is read-only, or keel is not running as root)' ;;
    *'Invalid argument'*)
      keel_why='the kernel rejected the value (invalid argument)' ;;
    *)
      keel_why=$keel_err ;;
  esac
  printf 'keel: cannot set sysctl %s to %s: %s\n' "$keel_key" "$keel_v" "$keel_why" >&2
  exit 1
fi
keel_now=$(tr -s ' \t\n' '   ' < "$keel_p" | sed -e 's/^ //' -e 's/ $//')
if [ "$keel_now" != "$keel_want" ]; then
  printf 'keel: sysctl %s was set to %s but the kernel reads back %s (it clamps or reformats values: declare the value as the kernel prints it)\n' "$keel_key" "$keel_v" "$keel_now" >&2
  exit 1
fi

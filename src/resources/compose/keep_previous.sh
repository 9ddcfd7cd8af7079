#!/bin/sh
# Before a rolling update replaces the project's files: copy the compose,
# env and override files as they are now ($keel_file, $keel_env_file,
# $keel_override, set by the prelude) into the directory $keel_prev
# (mode 0700: the env file holds secrets), then mark it `complete`, so a
# failed step can put them back. Prints nothing.
# params: keel_prev
: "${keel_prev?}"
rm -rf -- "$keel_prev"
(umask 077 && mkdir -- "$keel_prev")
keel_keep() {
  if [ -n "$2" ] && [ -f "$2" ]; then cp -p -- "$2" "$keel_prev/$1"; fi
}
# shellcheck disable=SC2154 # keel_file, keel_env_file and keel_override belong to prelude.sh
{
  keel_keep file "$keel_file"
  keel_keep env "$keel_env_file"
  keel_keep override "$keel_override"
}
: > "$keel_prev/complete"

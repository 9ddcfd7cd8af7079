#!/bin/sh
# Put the new env file ("$keel_tmp_env", written by the caller) in place
# for the validation, keeping the old one as $keel_env_backup so the EXIT
# trap can put it back. Prints nothing.
# params: keel_env_path keel_env_backup
: "${keel_env_path?}" "${keel_env_backup?}"
# shellcheck disable=SC2154,SC2034 # keel_tmp_env and keel_env_restore belong to write_begin.sh
if [ -e "$keel_env_path" ]; then
  (umask 077 && cp -p "$keel_env_path" "$keel_env_backup")
  keel_env_restore=had
else
  keel_env_restore=new
fi
mv -f -- "$keel_tmp_env" "$keel_env_path"
keel_tmp_env=

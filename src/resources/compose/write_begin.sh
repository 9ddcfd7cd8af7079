#!/bin/sh
# Start replacing the project's files: until the end of the script
# (`trap - EXIT`) an exit removes the temporary copies and puts the env
# file $keel_env_path back as it was ($keel_env_restore: `had`, from
# $keel_env_backup, or `new`: removed). Prints nothing.
# params: keel_dir keel_env_path keel_env_backup
: "${keel_dir?}" "${keel_env_path?}" "${keel_env_backup?}"
mkdir -p -- "$keel_dir"
keel_tmp_file=
keel_tmp_ovr=
keel_tmp_env=
keel_env_restore=
keel_cleanup() {
  if [ -n "$keel_tmp_file" ]; then rm -f "$keel_tmp_file"; fi
  if [ -n "$keel_tmp_ovr" ]; then rm -f "$keel_tmp_ovr"; fi
  if [ -n "$keel_tmp_env" ]; then rm -f "$keel_tmp_env"; fi
  if [ "$keel_env_restore" = had ]; then mv -f "$keel_env_backup" "$keel_env_path"; fi
  if [ "$keel_env_restore" = new ]; then rm -f "$keel_env_path"; fi
}
trap keel_cleanup EXIT

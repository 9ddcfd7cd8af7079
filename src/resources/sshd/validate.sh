#!/bin/sh
# Check the whole configuration with the new drop-in in place, in a copy:
# every file of the drop-in directory keel_d plus the new drop-in (the
# temporary file keel_tmp) in "$keel_v/d", and sshd_config with its Include
# lines pointing there (keel_re: the directory as a sed regex; keel_rel: the
# same relative to /etc/ssh, or empty), checked with `sshd -t -f`. Prints
# sshd's complaints on stderr (with the real paths) and fails when it
# rejects the configuration. Uses keel_sshd, keel_v, keel_tmp and
# keel_add_include set by the lines before it.
# params: keel_p keel_d keel_base keel_main keel_re keel_rel
: "${keel_p?}" "${keel_d?}" "${keel_base?}" "${keel_main?}" "${keel_re?}" "${keel_rel?}"
# shellcheck disable=SC2154 # keel_v is the private directory made before this
mkdir "$keel_v/d" "$keel_v/main"
for keel_f in "$keel_d"/*; do
  if [ -f "$keel_f" ]; then cp -p -- "$keel_f" "$keel_v/d/"; fi
done
# shellcheck disable=SC2154 # keel_tmp is the temporary drop-in made before this
cp -- "$keel_tmp" "$keel_v/d/$keel_base"
keel_inc='/^[[:space:]]*[Ii][Nn][Cc][Ll][Uu][Dd][Ee][[:space:]=]/'
# shellcheck disable=SC2154 # keel_add_include is decided before this
{
  if [ "$keel_add_include" = yes ]; then printf 'Include %s\n' "$keel_v/d/$keel_base"; fi
  if [ -n "$keel_rel" ]; then
    sed -e "${keel_inc}s#${keel_re}/#${keel_v}/d/#g" -e "${keel_inc}s#\([[:space:]=\"]\)${keel_rel}/#\1${keel_v}/d/#g" "$keel_main"
  else
    sed -e "${keel_inc}s#${keel_re}/#${keel_v}/d/#g" "$keel_main"
  fi
} > "$keel_v/main/sshd_config"
mkdir -p /run/sshd
# shellcheck disable=SC2154 # keel_sshd is set by lookup.sh before this
if ! keel_out=$("$keel_sshd" -t -f "$keel_v/main/sshd_config" 2>&1); then
  printf '%s\n' "$keel_out" | sed -e "s#${keel_v}/main/sshd_config#${keel_main}#g" -e "s#${keel_v}/d/#${keel_d}/#g" >&2
  echo "keel: sshd -t rejected the new configuration (line numbers of $keel_p are those of the new content); $keel_p was left unchanged" >&2
  exit 1
fi

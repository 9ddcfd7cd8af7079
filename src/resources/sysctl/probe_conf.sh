#!/bin/sh
# Read the persisted settings file keel_f: prints conf=present and one
# persisted=<line> for each line matching the ERE keel_re (this key's
# lines) when the file exists. Then the other files systemd-sysctl reads
# at boot under the root `keel_root`, most important folder first: one
# sysctl_file=<path> each, and elsewhere=<path>:<line> for their lines of
# this key.
# params: keel_f keel_re keel_root
: "${keel_f?}" "${keel_re?}" "${keel_root?}"
if [ -f "$keel_f" ]; then
  echo conf=present
  grep -E -e "$keel_re" "$keel_f" | sed 's/^/persisted=/'
fi
for keel_d in etc/sysctl.d run/sysctl.d usr/local/lib/sysctl.d usr/lib/sysctl.d lib/sysctl.d; do
  for keel_c in "$keel_root/$keel_d"/*.conf; do
    if [ ! -f "$keel_c" ] || [ "$keel_c" = "$keel_f" ]; then continue; fi
    printf 'sysctl_file=%s\n' "$keel_c"
    grep -H -E -e "$keel_re" -- "$keel_c" | sed 's/^/elsewhere=/'
  done
done

#!/bin/sh
# The other sysctl settings files that set this key (lines matching the
# ERE keel_re) and take effect after keel's file keel_f: the *.conf files
# of the sysctl.d directories whose name sorts after keel_f's (a name in
# an earlier directory hides the same name in a later one, as
# systemd-sysctl reads them), and /etc/sysctl.conf, which `sysctl
# --system` applies last. Prints other=<file>:<line>:<text> for each.
# keel_root prefixes every path (tests).
# params: keel_f keel_re keel_root
: "${keel_f?}" "${keel_re?}" "${keel_root?}"
keel_base=${keel_f##*/}
keel_seen=/
for keel_d in /etc/sysctl.d /run/sysctl.d /usr/local/lib/sysctl.d /usr/lib/sysctl.d /lib/sysctl.d; do
  for keel_o in "$keel_root$keel_d"/*.conf; do
    [ -f "$keel_o" ] || continue
    keel_n=${keel_o##*/}
    case $keel_seen in *"/$keel_n/"*) continue ;; esac
    keel_seen="$keel_seen$keel_n/"
    LC_ALL=C expr "x$keel_n" \> "x$keel_base" >/dev/null || continue
    grep -n -H -E -e "$keel_re" "$keel_o" 2>/dev/null | sed 's/^/other=/'
  done
done
if [ -f "$keel_root/etc/sysctl.conf" ]; then
  grep -n -H -E -e "$keel_re" "$keel_root/etc/sysctl.conf" 2>/dev/null | sed 's/^/other=/'
fi

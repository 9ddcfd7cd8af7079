#!/bin/sh
# The ufw probe: prints installed=yes|no, then conf.ENABLED= and
# conf.LOGLEVEL= of ufw.conf, default.IPV6= and default.DEFAULT_*_POLICY=
# of /etc/default/ufw, one `v4 TUPLE` / `v6 TUPLE` line per rule of the
# rules files keel_rules4 and keel_rules6, kernel.ipv6=no when the kernel
# has no IPv6, and loaded=yes|no|unknown (ufw's chains in iptables). Fails
# (status 2) when ufw's files cannot be read.
# params: keel_rules4 keel_rules6
: "${keel_rules4?}" "${keel_rules6?}"
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
if ! command -v ufw >/dev/null 2>&1; then
  echo installed=no
  exit 0
fi
echo installed=yes
for f in /etc/ufw/ufw.conf /etc/default/ufw "$keel_rules4" "$keel_rules6"; do
  if [ -e "$f" ] && [ ! -r "$f" ]; then
    echo "keel: cannot read $f: reading ufw's state needs root" >&2
    exit 2
  fi
done
if [ -f /etc/ufw/ufw.conf ]; then
  grep -E '^(ENABLED|LOGLEVEL)=' /etc/ufw/ufw.conf | sed 's/^/conf./'
fi
if [ -f /etc/default/ufw ]; then
  grep -E '^(IPV6|DEFAULT_[A-Z]+_POLICY)=' /etc/default/ufw | sed 's/^/default./'
fi
if [ -f "$keel_rules4" ]; then
  sed -n 's/^### tuple ### /v4 /p' "$keel_rules4"
fi
if [ -f "$keel_rules6" ]; then
  sed -n 's/^### tuple ### /v6 /p' "$keel_rules6"
fi
if [ ! -e /proc/sys/net/ipv6 ]; then
  echo kernel.ipv6=no
fi
if command -v iptables >/dev/null 2>&1; then
  if iptables -w 5 -S ufw-user-input >/dev/null 2>&1; then
    echo loaded=yes
  else
    echo loaded=no
  fi
else
  echo loaded=unknown
fi
exit 0

#!/bin/sh
# Puts the firewall back as saved in $d: UFW off, the saved iptables (or
# nftables) rules loaded, then UFW on again when it was. Prints nothing.
# params: d
: "${d?}"
if command -v ufw >/dev/null 2>&1; then ufw --force disable >/dev/null 2>&1 || true; fi
[ ! -f "$d/rules-v4" ] || iptables-restore < "$d/rules-v4" || true
[ ! -f "$d/rules-v6" ] || ip6tables-restore < "$d/rules-v6" || true
if [ -f "$d/rules-nft" ]; then { nft flush ruleset && nft -f "$d/rules-nft"; } || true; fi
if [ "$(cat "$d/ufw-state" 2>/dev/null)" = active ]; then ufw --force enable >/dev/null 2>&1 || true; fi

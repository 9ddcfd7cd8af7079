#!/bin/sh
# Saves the firewall into $d: whether UFW is on, and the live iptables
# rules (with an open filter table added when the dump has none) or the
# nftables ruleset. Prints nothing.
# params: d
: "${d?}"
if command -v ufw >/dev/null 2>&1 && ufw status 2>/dev/null | grep -q '^Status: active'; then echo active > "$d/ufw-state"; else echo inactive > "$d/ufw-state"; fi
keel_filter() {
  # A table missing from the dump would keep rules added later: restore
  # at least an open filter table.
  grep -q '^\*filter' "$1" || printf '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n' >> "$1"
}
if command -v iptables-save >/dev/null 2>&1; then
  iptables-save > "$d/rules-v4" && keel_filter "$d/rules-v4"
  if command -v ip6tables-save >/dev/null 2>&1; then ip6tables-save > "$d/rules-v6" && keel_filter "$d/rules-v6"; fi
elif command -v nft >/dev/null 2>&1; then
  nft list ruleset > "$d/rules-nft"
fi

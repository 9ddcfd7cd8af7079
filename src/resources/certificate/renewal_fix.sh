#!/bin/sh
# Keep certbot's renewal settings ($keel_rc) in line with keel's: the
# threshold its timer uses ($keel_days) and keel's deploy hook ($keel_hook;
# $keel_hook_sed is the same path escaped for a sed replacement). Does
# nothing without the file. Prints nothing.
# params: keel_rc keel_days keel_hook keel_hook_sed
: "${keel_rc?}" "${keel_days?}" "${keel_hook?}" "${keel_hook_sed?}"
if [ -f "$keel_rc" ]; then
  if grep -q '^renew_before_expiry *=' "$keel_rc"; then
    sed -i "s/^renew_before_expiry *=.*/renew_before_expiry = $keel_days days/" "$keel_rc"
  else
    sed -i "1i renew_before_expiry = $keel_days days" "$keel_rc"
  fi
  if grep -q '^renew_hook *=' "$keel_rc"; then
    sed -i "s|^renew_hook *=.*|renew_hook = $keel_hook_sed|" "$keel_rc"
  else
    sed -i "/^\[renewalparams\]/a renew_hook = $keel_hook" "$keel_rc"
  fi
fi

#!/bin/sh
# Point the link keel_lt (/etc/localtime) at the zone file keel_zf: with
# timedatectl when keel_systemd is set and systemd runs (trusted only when
# the link then names keel_zone), else by renaming a new link over it.
# Prints nothing.
# params: keel_zone keel_zf keel_lt keel_systemd
: "${keel_zone?}" "${keel_zf?}" "${keel_lt?}" "${keel_systemd?}"
keel_tz_ok() {
  case "$(readlink "$keel_lt" 2>/dev/null)" in
    */zoneinfo/"$keel_zone") return 0 ;;
  esac
  return 1
}
if [ -n "$keel_systemd" ] && [ -d /run/systemd/system ] \
   && command -v timedatectl >/dev/null 2>&1 \
   && timedatectl set-timezone "$keel_zone" 2>/dev/null && keel_tz_ok; then
  :
else
  keel_ln=$(mktemp -u "$(dirname -- "$keel_lt")/.localtime.keel.XXXXXX")
  ln -s "$keel_zf" "$keel_ln"
  mv -f "$keel_ln" "$keel_lt"
fi

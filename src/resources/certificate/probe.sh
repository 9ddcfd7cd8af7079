#!/bin/sh
# Read a certificate's state: now= (the host's clock), openssl=, certbot=,
# systemd= and timer= (certbot.timer enabled); for the ACME and
# self-signed locations (prefixes acme. and self.) whether a certificate
# is there, its and its key's sha256 and what openssl reads of it;
# certbot's renewal settings (renewal.*); the deploy hook (hook.mode,
# hook.content as base64); each installed copy (copy_cert., copy_key.,
# when set): type, mode, owner, group, size, sha256.
# params: keel_acme_dir keel_self_dir keel_rc keel_hook keel_copy_cert keel_copy_key
: "${keel_acme_dir?}" "${keel_self_dir?}" "${keel_rc?}" "${keel_hook?}" "${keel_copy_cert?}" "${keel_copy_key?}"
keel_cert() {
  [ -f "$2" ] || return 0
  echo "$1.present=yes"
  printf '%s.sha256=%s\n' "$1" "$(sha256sum < "$2" | cut -d ' ' -f 1)"
  if [ -f "$3" ]; then printf '%s.key_sha256=%s\n' "$1" "$(sha256sum < "$3" | cut -d ' ' -f 1)"; fi
  command -v openssl >/dev/null 2>&1 || return 0
  openssl x509 -in "$2" -noout -nameopt RFC2253 -issuer -subject -serial -startdate -enddate 2>/dev/null | sed "s/^/$1./"
  keel_d=$(openssl x509 -in "$2" -noout -enddate 2>/dev/null | cut -d = -f 2-)
  if [ -n "$keel_d" ]; then printf '%s.not_after_epoch=%s\n' "$1" "$(date -d "$keel_d" +%s 2>/dev/null)"; fi
  keel_d=$(openssl x509 -in "$2" -noout -startdate 2>/dev/null | cut -d = -f 2-)
  if [ -n "$keel_d" ]; then printf '%s.not_before_epoch=%s\n' "$1" "$(date -d "$keel_d" +%s 2>/dev/null)"; fi
  printf '%s.san=%s\n' "$1" "$(openssl x509 -in "$2" -noout -ext subjectAltName 2>/dev/null | sed 1d | tr -d '\n')"
  printf '%s.key_alg=%s\n' "$1" "$(openssl x509 -in "$2" -noout -text 2>/dev/null | sed -n 's/^ *Public Key Algorithm: *//p' | head -n 1)"
}
keel_copy() {
  if [ -L "$2" ]; then echo "$1.type=link"
  elif [ -d "$2" ]; then echo "$1.type=dir"
  elif [ -f "$2" ]; then
    echo "$1.type=file"
    stat -L --printf "$1.mode=%a\n$1.uid=%u\n$1.gid=%g\n$1.owner=%U\n$1.group=%G\n$1.size=%s\n" -- "$2"
    printf '%s.sha256=%s\n' "$1" "$(sha256sum < "$2" | cut -d ' ' -f 1)"
  elif [ -e "$2" ]; then echo "$1.type=other"
  else echo "$1.type=absent"
  fi
}
echo "now=$(date +%s)"
if command -v openssl >/dev/null 2>&1; then echo openssl=yes; else echo openssl=no; fi
if command -v certbot >/dev/null 2>&1; then echo certbot=yes; else echo certbot=no; fi
if [ -d /run/systemd/system ]; then
  echo systemd=yes
  echo "timer=$(systemctl is-enabled certbot.timer 2>/dev/null)"
else
  echo systemd=no
fi
keel_cert acme "$keel_acme_dir/fullchain.pem" "$keel_acme_dir/privkey.pem"
keel_cert self "$keel_self_dir/cert.pem" "$keel_self_dir/key.pem"
if [ -f "$keel_rc" ]; then
  echo renewal.present=yes
  sed -n -e 's/^server *= */renewal.server=/p' -e 's/^authenticator *= */renewal.authenticator=/p' -e 's/^webroot_path *= */renewal.webroot_path=/p' -e 's/^renew_hook *= */renewal.renew_hook=/p' -e 's/^renew_before_expiry *= */renewal.renew_before_expiry=/p' "$keel_rc"
fi
if [ -f "$keel_hook" ]; then
  printf 'hook.mode=%s\n' "$(stat -c %a -- "$keel_hook")"
  printf 'hook.content=%s\n' "$(base64 -w 0 < "$keel_hook")"
fi
if [ -n "$keel_copy_cert" ]; then keel_copy copy_cert "$keel_copy_cert"; fi
if [ -n "$keel_copy_key" ]; then keel_copy copy_key "$keel_copy_key"; fi

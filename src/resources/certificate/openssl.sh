#!/bin/sh
# Generate a self-signed certificate and its key ($keel_key: rsa or ec)
# for $keel_days days into $keel_dir/{cert,key}.pem (key 0600), through a
# private temporary folder so a failure leaves the old pair in place.
# $keel_subj is the subject, $keel_san the subjectAltName extension.
# Prints openssl's message on failure.
# params: keel_dir keel_key keel_days keel_subj keel_san
: "${keel_dir?}" "${keel_key?}" "${keel_days?}" "${keel_subj?}" "${keel_san?}"
if ! command -v openssl >/dev/null 2>&1; then
  # shellcheck disable=SC2016 # backquotes are text in this message
  echo 'keel: openssl is not installed on this host; declare `- package: { name: openssl }` before this certificate' >&2
  exit 1
fi
mkdir -p -- "$keel_dir"
chmod 0755 "$keel_dir"
keel_ss=$(mktemp -d "$keel_dir/.keel.XXXXXX")
case $keel_key in
  rsa) set -- -newkey rsa:2048 ;;
  *) set -- -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 ;;
esac
if ! (umask 077; openssl req -x509 "$@" -nodes -days "$keel_days" -subj "$keel_subj" -addext "$keel_san" -addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=serverAuth -keyout "$keel_ss/key.pem" -out "$keel_ss/cert.pem" 2>"$keel_ss/err"); then
  cat -- "$keel_ss/err" >&2
  rm -rf -- "$keel_ss"
  exit 1
fi
chmod 0600 "$keel_ss/key.pem"
chmod 0644 "$keel_ss/cert.pem"
mv -f -- "$keel_ss/key.pem" "$keel_dir/key.pem"
mv -f -- "$keel_ss/cert.pem" "$keel_dir/cert.pem"
rm -rf -- "$keel_ss"

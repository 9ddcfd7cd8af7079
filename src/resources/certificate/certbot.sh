#!/bin/sh
# Obtain (or renew) a certificate with certbot, whose arguments the caller
# set with `set --`. certbot runs the deploy hook $keel_hook after an
# issuance but ignores its failure, so the hook touches $KEEL_HOOK_DONE
# and, when it did not complete, runs here so a failure stops the run.
# With $keel_ca_bundle set, certbot trusts that CA (a custom directory).
# With $keel_self_dir set, the self-signed certificate this replaces is
# removed. Prints certbot's messages.
# params: keel_hook keel_ca_bundle keel_self_dir
: "${keel_hook?}" "${keel_ca_bundle?}" "${keel_self_dir?}"
if ! command -v certbot >/dev/null 2>&1; then
  # shellcheck disable=SC2016 # backquotes are text in this message
  echo 'keel: certbot is not installed on this host; declare `- package: { name: certbot }` before this certificate' >&2
  exit 1
fi
if [ -n "$keel_ca_bundle" ]; then
  REQUESTS_CA_BUNDLE=$keel_ca_bundle
  export REQUESTS_CA_BUNDLE
fi
keel_hook_dir=$(mktemp -d)
KEEL_HOOK_DONE="$keel_hook_dir/done"
export KEEL_HOOK_DONE
if ! certbot "$@"; then
  rm -rf -- "$keel_hook_dir"
  echo 'keel: certbot could not obtain the certificate (its messages are above; details in /var/log/letsencrypt/letsencrypt.log)' >&2
  exit 1
fi
unset KEEL_HOOK_DONE
if [ ! -e "$keel_hook_dir/done" ]; then
  rm -rf -- "$keel_hook_dir"
  "$keel_hook"
fi
rm -rf -- "$keel_hook_dir"
if [ -n "$keel_self_dir" ]; then
  rm -rf -- "$keel_self_dir"
fi

#!/bin/sh
# Delete certbot's lineage $keel_name (after a self-signed certificate
# replaced it), so certbot's timer stops renewing it. Does nothing without
# certbot. Prints certbot's messages.
# params: keel_name
: "${keel_name?}"
if command -v certbot >/dev/null 2>&1; then
  certbot delete --non-interactive --cert-name "$keel_name"
fi

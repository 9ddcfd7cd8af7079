#!/bin/sh
# Check the temporary rule file $keel_tmp (made by the lines before this
# one) with `visudo -c`; on failure say so and stop, leaving the installed
# rule alone. Prints visudo's complaints on stderr.
# params: keel_user
: "${keel_user?}"
# shellcheck disable=SC2154 # keel_tmp is set by the temporary file lines before
if ! visudo -cqf "$keel_tmp" >&2; then
  echo "keel: the sudo rule for $keel_user failed \`visudo -c\`; it was not installed" >&2
  exit 1
fi

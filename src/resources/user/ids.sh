#!/bin/sh
# The groups of an existing user: prints primary=<name of the primary
# group> and groups=<every group, primary included, space-separated>.
# params: keel_user
: "${keel_user?}"
printf 'primary=%s\n' "$(id -gn "$keel_user")"
printf 'groups=%s\n' "$(id -Gn "$keel_user")"

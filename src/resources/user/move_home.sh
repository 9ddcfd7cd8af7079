#!/bin/sh
# Point the user at a new home and move the old one there (`usermod -m`);
# when the new home exists already or the old one is not a directory, only
# point at it (usermod -m would fail). Prints nothing.
# params: keel_user keel_old keel_new
: "${keel_user?}" "${keel_old?}" "${keel_new?}"
if [ -e "$keel_new" ] || [ ! -d "$keel_old" ]; then
  usermod -d "$keel_new" "$keel_user"
else
  usermod -d "$keel_new" -m "$keel_user"
fi

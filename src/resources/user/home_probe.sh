#!/bin/sh
# What is at the home `keel_home` of a user about to be created (useradd
# keeps an existing one as it is): prints home=absent|dir|other, and for a
# directory home_uid=<owner's uid> and home_owner=<its name, or UNKNOWN>.
# params: keel_home
: "${keel_home?}"
if [ -L "$keel_home" ] || { [ -e "$keel_home" ] && [ ! -d "$keel_home" ]; }; then
  echo home=other
elif [ -d "$keel_home" ]; then
  echo home=dir
  stat --printf 'home_uid=%u\nhome_owner=%U\n' -- "$keel_home"
else
  echo home=absent
fi

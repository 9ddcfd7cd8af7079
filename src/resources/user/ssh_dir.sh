#!/bin/sh
# Before the keys are written as the user: make sure the home and its .ssh
# exist and .ssh belongs to the user, without following links (`chown -h`);
# defines keel_as_user, which runs the script on its stdin as the user.
# Prints nothing.
# params: keel_user keel_home keel_dir
: "${keel_user?}" "${keel_home?}" "${keel_dir?}"
if [ ! -e "$keel_home" ] && [ ! -L "$keel_home" ]; then
  mkdir -p "$keel_home"; chown "$keel_user:" "$keel_home"
fi
if [ ! -e "$keel_dir" ] && [ ! -L "$keel_dir" ]; then mkdir "$keel_dir"; fi
chown -h "$keel_user:" "$keel_dir"
keel_as_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$keel_user" -- sh -s; else sh -s; fi
}

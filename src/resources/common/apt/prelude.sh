#!/bin/sh
# Defines keel_apt: apt-get with the options every keel apt call uses
# (non-interactive, keep locally modified configuration files, wait for the
# dpkg lock). Prints nothing.
export DEBIAN_FRONTEND=noninteractive
keel_apt() {
  apt-get -y -q -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

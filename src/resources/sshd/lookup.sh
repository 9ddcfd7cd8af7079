#!/bin/sh
# Find the sshd binary (root's PATH has /usr/sbin; a user's may not): sets
# keel_sshd to its path, or to nothing when sshd is not installed. Prints
# nothing.
keel_sshd=$(command -v sshd 2>/dev/null || true)
if [ -z "$keel_sshd" ] && [ -x /usr/sbin/sshd ]; then keel_sshd=/usr/sbin/sshd; fi

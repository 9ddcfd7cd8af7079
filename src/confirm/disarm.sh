#!/bin/sh
# Confirms a change: drops the saved state $d and stops the revert's timer
# $unit. Prints `disarmed`.
# params: d unit
: "${d?}" "${unit?}"
rm -rf "$d"
systemctl stop "$unit.timer" 2>/dev/null || true
systemctl reset-failed "$unit.service" 2>/dev/null || true
echo disarmed

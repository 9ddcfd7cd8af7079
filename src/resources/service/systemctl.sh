#!/bin/sh
# Run `systemctl keel_verb` on the unit keel_unit, after a daemon-reload
# when systemd says the unit's file changed on disk. Prints what systemctl
# prints.
# params: keel_unit keel_verb
: "${keel_unit?}" "${keel_verb?}"
if [ "$(systemctl show -p NeedDaemonReload --value -- "$keel_unit" 2>/dev/null)" = yes ]; then
  systemctl daemon-reload
fi
systemctl "$keel_verb" -- "$keel_unit"

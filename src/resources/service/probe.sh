#!/bin/sh
# Show the unit keel_unit as key=value lines (Id, LoadState, ActiveState,
# SubState, UnitFileState); fails with a message when systemd is not
# running.
# params: keel_unit
: "${keel_unit?}"
if [ ! -d /run/systemd/system ]; then
  echo 'keel: systemd is not running on this host (no /run/systemd/system): the service kind needs systemd' >&2
  exit 2
fi
systemctl show -p Id -p LoadState -p ActiveState -p SubState -p UnitFileState -- "$keel_unit"

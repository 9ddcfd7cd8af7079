#!/bin/sh
# Read the backup destination keel_d: prints dest=dir with
# dest_stat=<mode:owner:group>, dest=other (not a directory) or
# dest=absent.
# params: keel_d
: "${keel_d?}"
if [ -d "$keel_d" ]; then
  echo dest=dir
  stat -L -c 'dest_stat=%a:%U:%G' -- "$keel_d"
elif [ -e "$keel_d" ] || [ -L "$keel_d" ]; then echo dest=other
else echo dest=absent
fi

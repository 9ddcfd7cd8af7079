#!/bin/sh
# Replace the file `keel_edit_path` (its symbolic links resolved, as
# "$keel_t") with what keel_fill prints, through the temporary file the
# caller's functions create (keel_tmp_create, into "$keel_tmp"), give the
# target's permissions (keel_tmp_perms) and rename over it
# (keel_tmp_rename). A file that is a mount point cannot be renamed over,
# so it is rewritten in place from the complete temporary file. Prints
# nothing.
# params: keel_edit_path
: "${keel_edit_path?}"
keel_t=$(readlink -f -- "$keel_edit_path")
keel_tmp=
keel_tmp_create
trap 'rm -f -- "$keel_tmp"' EXIT
keel_fill > "$keel_tmp"
keel_tmp_perms
if cut -d' ' -f5 /proc/self/mountinfo 2>/dev/null | grep -qxF -- "$keel_t"; then
  cat "$keel_tmp" > "$keel_t"
  rm -f "$keel_tmp"
else
  keel_tmp_rename
fi
trap - EXIT

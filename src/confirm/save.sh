#!/bin/sh
# Defines keel_save INDEX PATH (saves a path into $d as a tar file, or
# records that it does not exist) and keel_state INDEX UNIT (records
# whether a service is active). Prints nothing.
# params: d
: "${d?}"
keel_save() {
  if [ -e "$2" ] || [ -L "$2" ]; then
    tar -C "$(dirname "$2")" -cpf "$d/path-$1.tar" "./$(basename "$2")"
  else
    : > "$d/path-$1.absent"
  fi
}
keel_state() {
  if systemctl is-active --quiet "$2" 2>/dev/null; then echo active; else echo inactive; fi > "$d/unit-$1"
}

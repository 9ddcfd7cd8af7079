#!/bin/sh
# The repository's two files: for each, `NAME=absent|file|dir|link|other`
# and for a regular file NAME_mode= and NAME_b64= (its content in base64),
# NAME being `sources` for `keel_sources` and `key` for `keel_keyfile`.
# params: keel_sources keel_keyfile
: "${keel_sources?}" "${keel_keyfile?}"
keel_file() {
  if [ -L "$2" ]; then echo "$1=link"
  elif [ -d "$2" ]; then echo "$1=dir"
  elif [ -f "$2" ]; then
    echo "$1=file"
    printf '%s_mode=%s\n' "$1" "$(stat -c %a -- "$2")"
    printf '%s_b64=%s\n' "$1" "$(base64 -w 0 < "$2")"
  elif [ -e "$2" ]; then echo "$1=other"
  else echo "$1=absent"; fi
}
keel_file sources "$keel_sources"
keel_file key "$keel_keyfile"

#!/bin/sh
# Read the installed backup script keel_p: prints script=file with
# script_stat=<mode:owner:group> and script_b64=<its content in base64 on
# one line>, script=other (a link or not a regular file) or script=absent.
# params: keel_p
: "${keel_p?}"
if [ -L "$keel_p" ]; then echo script=other
elif [ -f "$keel_p" ]; then
  echo script=file
  stat -c 'script_stat=%a:%U:%G' -- "$keel_p"
  printf 'script_b64='
  base64 -w 0 < "$keel_p"
  echo
elif [ -e "$keel_p" ]; then echo script=other
else echo script=absent
fi

#!/bin/sh
# What the `line` kind needs to know about the file `p`. With `has_re` set,
# first whether `line` matches the extended regular expression `re`
# (regex=match|nomatch, or regex=invalid and grep's regex_error=). Then
# type=absent|file|dir|link|other; for a link its target; for a regular
# file its mode, ids, names and size, then readable=no, too_large=yes
# (over `limit` bytes), or the numbers of the lines matching `re`
# (match=N, with `has_re`) and the content base64-encoded after a
# `content:` line.
# params: p re line has_re limit
: "${p?}" "${re?}" "${line?}" "${has_re?}" "${limit?}"
if [ -n "$has_re" ]; then
  if keel_err=$(printf '%s\n' "$line" | grep -qE -f /dev/fd/3 2>&1 3<<KEEL_RE
$re
KEEL_RE
); then
    echo regex=match
  elif [ "$?" -eq 1 ]; then
    echo regex=nomatch
  else
    echo regex=invalid
    printf 'regex_error=%s\n' "$(printf '%s\n' "$keel_err" | head -n 1)"
  fi
fi
if [ -L "$p" ]; then
  echo type=link
  printf 'target=%s\n' "$(readlink -- "$p")"
elif [ -f "$p" ]; then
  echo type=file
  stat --printf 'mode=%a\nuid=%u\ngid=%g\nowner=%U\ngroup=%G\nsize=%s\n' -- "$p"
  if [ ! -r "$p" ]; then
    echo readable=no
  elif [ "$(stat -c %s -- "$p")" -gt "$limit" ]; then
    echo too_large=yes
  else
    if [ -n "$has_re" ]; then
      printf '%s\n' "$re" | grep -naE -f - -- "$p" 2>/dev/null | cut -d: -f1 | sed 's/^/match=/'
    fi
    echo content:
    base64 < "$p"
  fi
elif [ -d "$p" ]; then
  echo type=dir
elif [ -e "$p" ]; then
  echo type=other
else
  echo type=absent
fi

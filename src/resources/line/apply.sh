#!/bin/sh
# Apply a `line` resource to the file `p` as it is now (the same edit the
# plan computed). The caller defines before this script: keel_replace FN,
# which replaces "$p" atomically with what the function FN prints;
# keel_create, which creates "$p" holding `line` (only with `create` set);
# keel_set_perms, which gives "$p" its declared permissions. With `absent`
# set, every line matching `re` (with `has_re`), or else equal to `line`, is
# removed. Otherwise the first line matching `re` is replaced by `line`, or
# `line` is appended when no line equals it; a missing file is created
# with `create` set and an error otherwise. `line` and `re` reach grep on
# its standard input, never as arguments. A line that ends with a CR (a
# CRLF file) counts as equal to `line`; a replacing line keeps the CR of
# the line it replaces, and an added line gets one when the file's first
# line has one. Prints nothing on success.
# params: p line re has_re absent create
: "${p?}" "${line?}" "${re?}" "${has_re?}" "${absent?}" "${create?}"
set -e
if [ -L "$p" ] || { [ -e "$p" ] && [ ! -f "$p" ]; }; then
  printf '%s\n' "keel: $p is not a regular file" >&2
  exit 1
fi
keel_cr=$(printf '\r')
keel_grep_re() { printf '%s\n' "$re" | grep "$1" -f - -- "$p"; }
keel_grep_line() { printf '%s\n%s\n' "$line" "$line$keel_cr" | grep "$1" -f - -- "$p"; }
# The CR to write after `line` where the line $1 stood (empty: none).
keel_cr_of() {
  case $1 in *"$keel_cr") printf '%s' "$keel_cr" ;; esac
}
keel_found() {
  if [ -n "$has_re" ]; then keel_grep_re -qaE; else keel_grep_line -qaxF; fi
}
keel_fill_remove() {
  if [ -n "$has_re" ]; then
    keel_grep_re -vaE || [ "$?" -eq 1 ]
  else
    keel_grep_line -vaxF || [ "$?" -eq 1 ]
  fi
}
keel_fill_replace() {
  head -n "$((keel_n - 1))" < "$p"
  printf '%s%s\n' "$line" "$(keel_cr_of "$keel_cur")"
  tail -n "+$((keel_n + 1))" < "$p"
}
keel_fill_append() {
  cat < "$p"
  if [ -n "$(tail -c 1 < "$p")" ]; then echo; fi
  printf '%s%s\n' "$line" "$(keel_cr_of "$(head -n 1 < "$p")")"
}
if [ -n "$absent" ]; then
  if [ -e "$p" ] && keel_found; then keel_replace keel_fill_remove; fi
elif [ ! -e "$p" ]; then
  if [ -n "$create" ]; then
    keel_create
  else
    printf '%s\n' "keel: $p does not exist (set create: true to create it)" >&2
    exit 1
  fi
  keel_set_perms
else
  keel_n=
  if [ -n "$has_re" ]; then keel_n=$(keel_grep_re -naE | head -n 1 | cut -d: -f1); fi
  if [ -n "$keel_n" ]; then
    keel_cur=$(sed -n "${keel_n}p" < "$p")
    if [ "$keel_cur" != "$line" ] && [ "$keel_cur" != "$line$keel_cr" ]; then
      keel_replace keel_fill_replace
    fi
  elif ! keel_grep_line -qaxF; then
    keel_replace keel_fill_append
  fi
  keel_set_perms
fi

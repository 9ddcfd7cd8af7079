#!/bin/sh
# Print the persisted settings file (read from "$keel_t", set by the file
# rewrite around this fill) with this key's first line (ERE keel_re)
# replaced by keel_line and its other lines dropped, or keel_line appended;
# a missing file becomes a header comment and keel_line.
# params: keel_line keel_re
: "${keel_line?}" "${keel_re?}"
# shellcheck disable=SC2154 # keel_t is set by the rewrite around this fill
if [ ! -e "$keel_t" ]; then
  # shellcheck disable=SC2016 # the backquotes are text
  printf '# Managed by keel: one line per `sysctl` resource.\n%s\n' "$keel_line"
else
  keel_n=$(grep -n -m 1 -E -e "$keel_re" "$keel_t" | cut -d: -f1)
  if [ -n "$keel_n" ]; then
    head -n "$((keel_n - 1))" "$keel_t"
    printf '%s\n' "$keel_line"
    tail -n "+$((keel_n + 1))" "$keel_t" | { grep -v -E -e "$keel_re" || true; }
  else
    cat "$keel_t"
    if [ -n "$(tail -c 1 "$keel_t")" ]; then echo; fi
    printf '%s\n' "$keel_line"
  fi
fi

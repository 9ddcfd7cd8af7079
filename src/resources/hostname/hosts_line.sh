#!/bin/sh
# Print /etc/hosts (read from "$keel_t", set by the file rewrite around
# this fill) with its first 127.0.1.1 line replaced by keel_line, or
# keel_line added after the 127.0.0.1 line (first when there is none); a
# missing file becomes a loopback line and keel_line.
# params: keel_line
: "${keel_line?}"
keel_own='^[[:space:]]*127\.0\.1\.1([[:space:]]|$)'
keel_lo='^[[:space:]]*127\.0\.0\.1([[:space:]]|$)'
# shellcheck disable=SC2154 # keel_t is set by the rewrite around this fill
if [ ! -e "$keel_t" ]; then
  printf '127.0.0.1\tlocalhost\n%s\n' "$keel_line"
else
  keel_n=$(grep -n -m 1 -E "$keel_own" "$keel_t" | cut -d: -f1)
  if [ -n "$keel_n" ]; then
    head -n "$((keel_n - 1))" "$keel_t"
    printf '%s\n' "$keel_line"
    tail -n "+$((keel_n + 1))" "$keel_t"
  else
    keel_n=$(grep -n -m 1 -E "$keel_lo" "$keel_t" | cut -d: -f1)
    if [ -n "$keel_n" ]; then
      head -n "$keel_n" "$keel_t"
      printf '%s\n' "$keel_line"
      tail -n "+$((keel_n + 1))" "$keel_t"
    else
      printf '%s\n' "$keel_line"
      cat "$keel_t"
    fi
  fi
fi

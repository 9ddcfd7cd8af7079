#!/bin/sh
# Replace the block marked keel_mark in the crontab of the user keel_u by
# keel_block (empty: remove it): read the crontab again, copy it line by
# line with every block so marked dropped (keel_block goes where the first
# one was, or at the end), and install the result with `crontab FILE` only
# when it changed. Prints nothing; crontab's refusal fails the step.
# keel_adopt (may be empty): a job line written by hand with the entry's
# schedule and command; when no block is marked before it, the block takes
# its place (outside other keel blocks) instead of being appended.
# params: keel_u keel_mark keel_block keel_adopt
: "${keel_u?}" "${keel_mark?}" "${keel_block?}" "${keel_adopt?}"
if [ "$(id -un)" = "$keel_u" ]; then keel_ct() { crontab "$@"; }; else keel_ct() { crontab -u "$keel_u" "$@"; }; fi
keel_d=$(umask 077 && mktemp -d) || { echo 'keel: cannot create a temporary directory' >&2; exit 1; }
trap 'rm -rf "$keel_d"' EXIT
if ! keel_ct -l > "$keel_d/old" 2> "$keel_d/err"; then
  if grep -q '^no crontab for ' "$keel_d/err"; then : > "$keel_d/old"; else cat "$keel_d/err" >&2; exit 1; fi
fi
printf '%s' "$keel_block" > "$keel_d/block"
keel_in=0
keel_placed=0
keel_other=0
while IFS= read -r keel_l || [ -n "$keel_l" ]; do
  if [ "$keel_l" = "$keel_mark" ]; then
    [ "$keel_placed" = 1 ] || cat "$keel_d/block"
    keel_placed=1
    keel_in=1
    continue
  fi
  keel_t=${keel_l#"${keel_l%%[!	 ]*}"}
  case $keel_t in
    ''|'#'*) keel_kind=other ;;
    *=*)
      keel_n=${keel_l%%=*}
      keel_n=${keel_n#"${keel_n%%[!	 ]*}"}
      keel_n=${keel_n%"${keel_n##*[!	 ]}"}
      case $keel_n in
        [A-Za-z_]*) case $keel_n in *[!A-Za-z0-9_]*) keel_kind=job ;; *) keel_kind='env' ;; esac ;;
        *) keel_kind=job ;;
      esac ;;
    *) keel_kind=job ;;
  esac
  if [ "$keel_in" = 1 ]; then
    keel_in=0
    case $keel_kind in
      env) keel_in=1; continue ;;
      job) continue ;;
    esac
  fi
  if [ "$keel_other" = 1 ]; then
    [ "$keel_kind" = env ] || keel_other=0
  elif [ "$keel_kind" = job ] && [ "$keel_placed" = 0 ] && [ -n "$keel_adopt" ] && [ "$keel_l" = "$keel_adopt" ]; then
    cat "$keel_d/block"
    keel_placed=1
    continue
  fi
  case $keel_l in '# keel: '*) keel_other=1 ;; esac
  printf '%s\n' "$keel_l"
done < "$keel_d/old" > "$keel_d/new"
[ "$keel_placed" = 1 ] || cat "$keel_d/block" >> "$keel_d/new"
if ! cmp -s "$keel_d/old" "$keel_d/new"; then
  keel_ct "$keel_d/new"
fi
rm -rf "$keel_d"
trap - EXIT

#!/bin/sh
# Install a new or changed apt repository (see the kind's module docs).
# The caller defines three functions before this script:
# keel_write_candidates writes the candidate key and sources (without
# Signed-By) to "$keel_cand_key" and "$keel_cand_src"; keel_install_files
# replaces the key `keel_key` and the sources `keel_src` atomically;
# keel_put_back BACKUP TARGET puts a saved file back atomically.
# 1. The candidate source alone is fetched and verified with apt-get update
#    (on failure apt's message is printed and nothing is installed);
# 2. the files are installed, keeping the previous ones, and when apt read
#    its configuration before and cannot now, the previous files are put
#    back and the script fails. Prints nothing else on success.
# params: keel_src keel_key keel_name
: "${keel_src?}" "${keel_key?}" "${keel_name?}"
export DEBIAN_FRONTEND=noninteractive
keel_dir=$(mktemp -d)
trap 'rm -rf "$keel_dir"' EXIT
chmod 0755 "$keel_dir"
keel_cand_key="$keel_dir/keel-$keel_name.asc"
keel_cand_src="$keel_dir/keel-$keel_name.sources"
keel_write_candidates
printf 'Signed-By: %s\n' "$keel_cand_key" >> "$keel_cand_src"
chmod 0644 "$keel_cand_key" "$keel_cand_src"
# 1. The new source alone: fetch and verify it.
if ! keel_out=$(apt-get -q -o DPkg::Lock::Timeout=120 --error-on=any -o Dir::Etc::sourcelist="$keel_cand_src" -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 update 2>&1); then
  keel_msg=$(printf '%s\n' "$keel_out" | grep -E '^(E|W|Err):|NO_PUBKEY|signature' | grep -v '^Ign:' | tail -n 6)
  if [ -z "$keel_msg" ]; then keel_msg=$(printf '%s\n' "$keel_out" | tail -n 6); fi
  printf '%s\n' "$keel_msg" >&2
  printf 'keel: apt-get update failed for apt repository %s; its files were left as they were\n' "$keel_name" >&2
  exit 1
fi
# 2. Install (keeping the previous files), then check the whole configuration.
keel_parsed_before=yes
apt-cache policy >/dev/null 2>&1 || keel_parsed_before=no
keel_path_of() {
  if [ "$1" = src ]; then keel_p=$keel_src; else keel_p=$keel_key; fi
}
for keel_f in src key; do
  keel_path_of "$keel_f"
  if [ -e "$keel_p" ]; then cp -p -- "$keel_p" "$keel_dir/old.$keel_f"; fi
done
keel_restore() {
  for keel_f in src key; do
    keel_path_of "$keel_f"
    if [ -e "$keel_dir/old.$keel_f" ]; then
      keel_put_back "$keel_dir/old.$keel_f" "$keel_p"
    else
      rm -f -- "$keel_p"
    fi
  done
}
mkdir -p -- "$(dirname -- "$keel_key")" "$(dirname -- "$keel_src")"
# Key first, so the sources never name a missing key. `set -e` must hold
# inside the subshell, so it does not run as a condition.
set +e
(
  set -e
  keel_install_files
)
keel_rc=$?
set -e
if [ "$keel_rc" -ne 0 ]; then
  keel_restore
  echo "keel: could not install the files of apt repository $keel_name; the previous files were restored" >&2
  exit 1
fi
if [ "$keel_parsed_before" = yes ] && ! keel_out=$(apt-cache policy 2>&1 >/dev/null); then
  keel_restore
  printf '%s\n' "$keel_out" | grep -E '^(E|W):' | tail -n 6 >&2
  printf 'keel: with apt repository %s added, apt cannot read its configuration; the previous files were restored\n' "$keel_name" >&2
  exit 1
fi

#!/bin/sh
# Read the host's size and system: prints cpus=<online CPUs>,
# mem_kb=<MemTotal in kB>, os_id=<ID> and os_version=<VERSION_ID> from
# /etc/os-release.
# params:
printf 'cpus=%s\n' "$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)"
printf 'mem_kb=%s\n' "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
# shellcheck disable=SC1091 # the host's file
. /etc/os-release 2>/dev/null
printf 'os_id=%s\nos_version=%s\n' "$ID" "$VERSION_ID"

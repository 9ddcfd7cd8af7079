#!/bin/sh
# Prints the host facts templates see as `facts.*`, one key=value a line:
# hostname, fqdn, os_*, arch, kernel, cpus, memory_kb, user.
# shellcheck source=/dev/null # the host's own file
. /etc/os-release 2>/dev/null
printf 'hostname=%s\n' "$(hostname 2>/dev/null || cat /etc/hostname)"
printf 'fqdn=%s\n' "$(hostname -f 2>/dev/null || hostname 2>/dev/null)"
printf 'os_id=%s\n' "${ID:-unknown}"
printf 'os_like=%s\n' "${ID_LIKE:-}"
printf 'os_version_id=%s\n' "${VERSION_ID:-}"
printf 'os_codename=%s\n' "${VERSION_CODENAME:-}"
printf 'os_pretty_name=%s\n' "${PRETTY_NAME:-}"
printf 'arch=%s\n' "$(uname -m)"
printf 'kernel=%s\n' "$(uname -r)"
printf 'cpus=%s\n' "$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || echo 1)"
printf 'memory_kb=%s\n' "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null)"
printf 'user=%s\n' "$(id -un)"

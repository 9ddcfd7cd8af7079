#!/usr/bin/env bash
# Prepares a Debian machine for keel's test suite: installs what the sandbox
# needs (docker engine, debootstrap, OpenSSH client) and makes sure dockerd is
# running. Idempotent: installs only what is missing and starts dockerd only
# if `docker info` fails. Needs root; uses sudo when not run as root.
set -euo pipefail

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
else
    SUDO=(sudo)
fi

# Is `$1` an executable on PATH or in the sbin directories?
have() {
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

missing=()
{ have docker && have dockerd; } || missing+=(docker.io)
have debootstrap || missing+=(debootstrap)
{ have ssh && have ssh-keygen; } || missing+=(openssh-client)
have sshd || missing+=(openssh-server)
have tar || missing+=(tar)
have shellcheck || missing+=(shellcheck)

if [ "${#missing[@]}" -gt 0 ]; then
    echo "ci-setup: installing ${missing[*]}"
    "${SUDO[@]}" apt-get update -q
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
    echo "ci-setup: docker, debootstrap, openssh-client and openssh-server are installed"
fi

docker_up() {
    "${SUDO[@]}" docker info >/dev/null 2>&1
}

if docker_up; then
    echo "ci-setup: dockerd is running"
    exit 0
fi

# On a machine booted with systemd the package's unit is the normal way.
if [ -d /run/systemd/system ] && have systemctl; then
    "${SUDO[@]}" systemctl start docker >/dev/null 2>&1 || true
fi

log=/var/log/keel-dockerd.log
if ! docker_up; then
    echo "ci-setup: starting dockerd in the background (log: $log)"
    "${SUDO[@]}" sh -c "setsid dockerd >'$log' 2>&1 </dev/null &"
fi

for _ in $(seq 1 30); do
    if docker_up; then
        echo "ci-setup: dockerd is running"
        exit 0
    fi
    sleep 1
done

echo "ci-setup: dockerd did not come up within 30 s; last lines of $log:" >&2
"${SUDO[@]}" tail -n 30 "$log" >&2 || true
exit 1

"""The benchmark's workload for pyinfra (bench/run.sh): the same state as
keel.yaml and ansible.yml. pyinfra has no UFW operation, so the firewall is
a guarded shell command that runs only while UFW is inactive."""
from io import StringIO

from pyinfra.operations import apt, files, server, systemd

ENV = "APP_ENV=production\nAPP_PORT=8080\nLOG_LEVEL=info\n"
BACKUP = """#!/bin/sh
# Nightly backup of the app's shared files (bench workload).
set -eu
tar -czf /var/backups/app/shared-$(date +%F).tar.gz -C /srv/app shared
find /var/backups/app -name 'shared-*.tar.gz' -mtime +7 -delete
"""
SSHD = """PermitRootLogin prohibit-password
PasswordAuthentication no
MaxAuthTries 3
X11Forwarding no
"""

apt.packages(name="packages", packages=["ufw", "cron", "rsync", "jq"],
             update=True, cache_time=3600)
files.directory(name="/srv/app", path="/srv/app", mode="755")
files.directory(name="/srv/app/shared", path="/srv/app/shared", mode="750")
files.directory(name="/var/backups/app", path="/var/backups/app", mode="700")
files.put(name="env file", src=StringIO(ENV), dest="/srv/app/shared/.env", mode="600")
sshd = files.put(name="sshd hardening", src=StringIO(SSHD),
                 dest="/etc/ssh/sshd_config.d/50-bench.conf", mode="644")
systemd.service(name="reload sshd", service="ssh", reloaded=True, _if=sshd.did_change)
server.shell(
    name="ufw",
    commands=[
        "ufw status | grep -q 'Status: active' || { ufw default deny incoming && "
        "ufw default allow outgoing && ufw allow 22/tcp comment ssh && "
        "ufw allow 80/tcp comment http && ufw allow 443/tcp comment https && "
        "ufw --force enable; }"
    ],
)
files.put(name="backup script", src=StringIO(BACKUP),
          dest="/usr/local/bin/app-backup", mode="755")
server.crontab(name="backup cron", command="/usr/local/bin/app-backup",
               minute="0", hour="3", cron_name="app-backup")
systemd.service(name="cron service", service="cron", running=True, enabled=True)

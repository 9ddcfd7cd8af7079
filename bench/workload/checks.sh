#!/bin/sh
# The benchmark's floor for a run with nothing to change (bench/run.sh):
# every read-only check of the workload, once, as one would type them by
# hand. bench/on-all.sh runs it on every host at once, one fresh SSH
# connection each; keel's no-change run and plan are compared with it.
dpkg-query -W -f='${Package} ${db:Status-Abbrev} ${Version}\n' ufw cron rsync jq
stat -c '%n %a %U %G %F' /srv/app /srv/app/shared /var/backups/app \
    /srv/app/shared/.env /usr/local/bin/app-backup /etc/ssh/sshd_config.d
sha256sum /srv/app/shared/.env /usr/local/bin/app-backup /etc/ssh/sshd_config.d/*.conf
sshd -T | grep -Ei '^(permitrootlogin|passwordauthentication|maxauthtries|x11forwarding) '
ufw status verbose
crontab -l -u root
systemctl is-active cron
systemctl is-enabled cron

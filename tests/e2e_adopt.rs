//! End to end, over real SSH against a fresh Debian host: adopting a server
//! configured by hand, as the operations guide has it done.
//!
//! - By hand: root's crontab runs the backup at 02:00 (with another line
//!   and a `MAILTO`), and `sshd_config` is edited in place — `MaxAuthTries
//!   3` where Debian has it commented out, and a `Match` block at the end
//!   that lets passwords in again from one network; `/etc/sysctl.conf`
//!   gets a `vm.swappiness` line; a `deploy` user gets sudo in
//!   /etc/sudoers.d/deploy.
//! - A stack declaring the same job and sshd settings plans the cron entry
//!   as an update that marks the hand-written line (not a second copy), and
//!   names the `Match` block that overrides `PasswordAuthentication` and
//!   the `/etc/sysctl.conf` line that `sysctl --system` applies after
//!   keel's file.
//! - `keel import` hands the line to the stack; apply leaves one 02:00 job
//!   in the crontab, every other line as it was; the next plan has nothing
//!   to do, and `plan --all` still names the `Match` block and the line.

mod support;

use support::{Host, expect};

const BASE: &str = "name: adopt
targets: [web]
resources:
  - package: { name: cron }
";

const DECLARED: &str =
    "  - cron: { name: db-backup, schedule: \"0 2 * * *\", command: /usr/local/bin/backup-db.sh }
  - sysctl: { name: vm.swappiness, value: \"20\", apply: false }
  - user: { name: deploy, sudo: true }
  - sshd:
      settings:
        MaxAuthTries: 3
        PasswordAuthentication: \"no\"
";

const CRONTAB: &str = "MAILTO=\"\"\n0 2 * * * /usr/local/bin/backup-db.sh\n30 3 * * * find /backup -mtime +7 -delete\n";

#[test]
fn a_server_configured_by_hand_is_adopted_without_duplicates() {
    let h = Host::start("adopt");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    let keel = |args: &[&str]| h.keel_inv(inv, args);
    let base = h.write("base.yaml", BASE);
    expect(&keel(&["apply", "--yes", &base]), 0, "the cron package");
    // The hand edits.
    h.sh(&format!("printf '%s' '{CRONTAB}' | crontab -"));
    h.sh(
        "sed -i 's/^#MaxAuthTries 6/MaxAuthTries 3/; s/^#PasswordAuthentication yes/PasswordAuthentication no/' /etc/ssh/sshd_config \
         && printf '\\nMatch Address 192.0.2.0/24\\n    PasswordAuthentication yes\\n' >> /etc/ssh/sshd_config \
         && sshd -t && systemctl reload ssh",
    );
    h.sh(
        "useradd -m -s /bin/bash deploy && echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/deploy \
         && chmod 440 /etc/sudoers.d/deploy",
    );
    h.sh("printf '\\n# tuned by hand\\nvm.swappiness = 10\\n' >> /etc/sysctl.conf");
    let sysctl_line = h.sh("grep -n '^vm.swappiness' /etc/sysctl.conf | cut -d: -f1");
    let match_line =
        h.sh("grep -n '^Match Address 192.0.2.0/24' /etc/ssh/sshd_config | cut -d: -f1");
    let match_line: usize = match_line.trim().parse().expect("the Match line's number");

    let full = h.write("full.yaml", &format!("{BASE}{DECLARED}"));
    let p = keel(&["plan", &full]);
    expect(&p, 0, "plan on the hand-configured host");
    let warning = format!(
        "PasswordAuthentication yes at /etc/ssh/sshd_config:{} is under `Match Address 192.0.2.0/24` (line {match_line})",
        match_line + 1
    );
    let sysctl_warning = format!(
        "/etc/sysctl.conf:{} sets vm.swappiness = 10: `sysctl --system` (and `sysctl -p`) apply that file last",
        sysctl_line.trim()
    );
    for want in [
        "`deploy` already has a sudo rule that is not keel's (/etc/sudoers.d/deploy:1); it stays",
        sysctl_warning.as_str(),
        "~ cron[root/db-backup]",
        "line 2 of root's crontab, written by hand, already runs this schedule and command",
        "+ sshd[/etc/ssh/sshd_config.d/50-keel.conf]",
        warning.as_str(),
    ] {
        assert!(p.stdout.contains(want), "{want}:\n{}", p.stdout);
    }
    assert!(!p.stdout.contains("+ cron["), "{}", p.stdout);

    let r = keel(&["import", &full]);
    expect(&r, 0, "import");
    assert!(r.stdout.contains("= cron[root/db-backup]"), "{}", r.stdout);
    // (`sh` trims the last newline.)
    assert_eq!(
        h.sh("crontab -l"),
        CRONTAB.trim_end(),
        "import changes nothing"
    );

    expect(&keel(&["apply", "--yes", &full]), 0, "apply");
    assert_eq!(
        h.sh("crontab -l"),
        CRONTAB
            .replace("0 2 * * *", "# keel: db-backup\n0 2 * * *")
            .trim_end(),
        "the line is marked in place, once"
    );
    h.expect_no_changes(inv, &full, &[]);
    let all = keel(&["plan", "--all", &full]);
    expect(&all, 0, "plan --all");
    assert!(all.stdout.contains(&warning), "{}", all.stdout);
    assert!(all.stdout.contains(&sysctl_warning), "{}", all.stdout);
}

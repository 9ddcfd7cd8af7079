//! End to end, over real SSH against fresh Debian hosts: every change that
//! can cut keel's access runs under commit-confirmed, not only the `sshd`
//! and `ufw` kinds (issue 7, finding 7). Each way that used to report "ok"
//! and lose the host for good — a `line` moving sshd's port with a
//! notified restart, a `file` drop-in under /etc/ssh/sshd_config.d/, a
//! `command` turning UFW on without an SSH rule — now fails the run with a
//! message naming the change, and the host is reachable again with its
//! previous configuration; a PAM line is reverted too, saving that file
//! only. A harmless change under /etc/ssh is applied and confirmed. And
//! whatever the change, a run that changed a host ends with a brand-new
//! SSH connection: losing it is the run's first error.

mod support;

use support::{Host, expect};

/// A fresh login over a new SSH connection (not keel's), as root on 22.
fn root_logs_in(h: &Host) -> bool {
    h.ssh_as("root", 22, "true").status.success()
}

/// Nothing of a revert is left on the host: no saved state, no timer, no
/// temporary directory next to what was restored.
fn no_revert_left(h: &Host) {
    assert!(
        !h.sh_ok("ls /var/lib/keel/rollback/* 2>/dev/null | grep -q ."),
        "saved state left: {}",
        h.sh("ls -la /var/lib/keel/rollback/ 2>&1 || true")
    );
    assert!(
        !h.sh("systemctl list-timers --all").contains("keel-revert"),
        "a revert timer is left"
    );
    assert!(
        h.sh("find /etc -name '.keel-restore-*' 2>/dev/null")
            .trim()
            .is_empty(),
        "a temporary restore directory is left"
    );
}

/// A forced apply of `stack` that cuts access: it fails, names `change` as
/// what was reverted, and root logs in again over a new connection.
fn reverted(h: &Host, inv: &str, stack: &str, change: &str) -> support::Run {
    let apply = h.keel(
        &["apply", "--yes", "--allow-lockout-risk", "-i", inv, stack],
        &[],
    );
    expect(&apply, 1, "apply of a change that cuts access");
    assert!(
        apply.stdout.contains("FAILED"),
        "never ok: {}{}",
        apply.stdout,
        apply.stderr
    );
    let line = apply
        .stdout
        .lines()
        .find(|l| l.contains(change) && l.contains('✗'))
        .unwrap_or_else(|| panic!("names {change}: {}", apply.stdout));
    assert!(line.contains("reverted"), "{change} was reverted: {line}");
    assert!(root_logs_in(h), "root logs in again on 22");
    no_revert_left(h);
    apply
}

#[test]
fn a_line_moving_the_ssh_port_with_a_notified_restart_is_reverted() {
    let h = Host::start("guard-line");
    let inv = h.inventory("root", &[], "    confirm_timeout: 90\n");
    let inv = inv.to_str().unwrap();
    let before = h.sh("cat /etc/ssh/sshd_config");
    let stack = h.write(
        "line.yaml",
        r#"name: port-by-line
targets: [web]
resources:
  - line:
      path: /etc/ssh/sshd_config
      match: "^#?Port "
      line: Port 2222
      notify:
        - service[ssh]
  - service:
      name: ssh
"#,
    );
    // The analysis reads the line and refuses it, naming the kind to use.
    let plan = h.keel(&["plan", "-i", inv, &stack], &[]);
    expect(&plan, 1, "refused at plan");
    assert!(
        plan.stderr.contains("sshd will listen on port 2222"),
        "{}",
        plan.stderr
    );
    assert!(plan.stderr.contains("`sshd` kind"), "{}", plan.stderr);
    // Forced: applied, the new connection fails, everything is put back.
    reverted(&h, inv, &stack, "line[/etc/ssh/sshd_config");
    assert_eq!(
        h.sh("cat /etc/ssh/sshd_config"),
        before,
        "sshd_config as it was"
    );
    assert!(
        h.sh("sshd -T 2>/dev/null").lines().any(|l| l == "port 22"),
        "sshd listens on 22 again"
    );
}

#[test]
fn a_dropin_file_shutting_out_the_login_user_is_reverted() {
    let h = Host::start("guard-file");
    let inv = h.inventory("root", &[], "    confirm_timeout: 90\n");
    let inv = inv.to_str().unwrap();
    let stack = h.write(
        "dropin.yaml",
        r#"name: dropin
targets: [web]
resources:
  - file:
      path: /etc/ssh/sshd_config.d/10-only-nobody.conf
      content: "AllowUsers nobody\n"
      notify:
        - service[ssh]
  - service:
      name: ssh
      on_notify: reload
"#,
    );
    let plan = h.keel(&["plan", "-i", inv, &stack], &[]);
    expect(&plan, 1, "refused at plan");
    assert!(
        plan.stderr
            .contains("`AllowUsers nobody` does not include `root`"),
        "{}",
        plan.stderr
    );
    reverted(
        &h,
        inv,
        &stack,
        "file[/etc/ssh/sshd_config.d/10-only-nobody.conf]",
    );
    assert!(
        !h.sh_ok("test -e /etc/ssh/sshd_config.d/10-only-nobody.conf"),
        "the new drop-in is gone"
    );
    assert!(
        !h.sh("sshd -T 2>/dev/null").contains("allowusers nobody"),
        "previous sshd configuration"
    );
}

#[test]
fn a_command_enabling_ufw_without_an_ssh_rule_is_reverted() {
    let h = Host::start("guard-cmd");
    let inv = h.inventory("root", &[], "    confirm_timeout: 120\n");
    let inv = inv.to_str().unwrap();
    let base = h.write(
        "base.yaml",
        "name: base\ntargets: [web]\nresources:\n  - package: { name: ufw }\n",
    );
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &base], &[]),
        0,
        "install ufw",
    );
    let ufw_files = h.sh("cat /etc/default/ufw /etc/ufw/ufw.conf");
    let stack = h.write(
        "cmd.yaml",
        r#"name: firewall-by-command
targets: [web]
resources:
  - command:
      name: firewall-on
      run: ufw default deny incoming && ufw --force enable
      unless: "ufw status | grep -q 'Status: active'"
"#,
    );
    // Nothing to read in a command: no refusal, but commit-confirmed.
    let apply = reverted(&h, inv, &stack, "command[firewall-on]");
    assert!(
        apply.stdout.contains("the firewall rules"),
        "the revert covered the firewall: {}",
        apply.stdout
    );
    assert!(
        h.sh("ufw status").contains("Status: inactive"),
        "the firewall is back to its previous state"
    );
    assert_eq!(
        h.sh("cat /etc/default/ufw /etc/ufw/ufw.conf"),
        ufw_files,
        "UFW's files as they were"
    );
}

#[test]
fn a_harmless_change_under_etc_ssh_is_applied_and_confirmed() {
    let h = Host::start("guard-banner");
    let inv = h.inventory("root", &[], "    confirm_timeout: 90\n");
    let inv = inv.to_str().unwrap();
    let stack = h.write(
        "banner.yaml",
        r#"name: banner
targets: [web]
resources:
  - file:
      path: /etc/ssh/keel-banner
      content: "Authorized use only (keel e2e)\n"
  - file:
      path: /etc/ssh/sshd_config.d/20-banner.conf
      content: "Banner /etc/ssh/keel-banner\n"
      depends_on:
        - file[/etc/ssh/keel-banner]
      notify:
        - service[ssh]
  - service:
      name: ssh
      on_notify: reload
"#,
    );
    expect(
        &h.keel(&["plan", "-i", inv, &stack], &[]),
        0,
        "nothing refused",
    );
    let apply = h.keel(&["apply", "--yes", "-v", "-i", inv, &stack], &[]);
    expect(&apply, 0, "banner apply");
    assert!(
        apply.stderr.contains("armed a revert") && apply.stderr.contains("/etc/ssh"),
        "ran under commit-confirmed, saving /etc/ssh: {}",
        apply.stderr
    );
    assert!(
        apply.stderr.contains("access confirmed"),
        "confirmed with a new connection: {}",
        apply.stderr
    );
    assert!(root_logs_in(&h), "root still logs in");
    assert!(
        h.sh("sshd -T 2>/dev/null")
            .lines()
            .any(|l| l == "banner /etc/ssh/keel-banner"),
        "the banner is configured"
    );
    no_revert_left(&h);
    let plan = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack], &[]);
    expect(&plan, 0, "converged");
}

#[test]
fn a_run_that_loses_access_some_other_way_fails_first_thing() {
    let h = Host::start("guard-net");
    let inv = h.inventory("root", &[], "    confirm_timeout: 90\n");
    let inv = inv.to_str().unwrap();
    // Stops sshd's listener without naming anything the exposure rules
    // know (keel's own session survives: sshd keeps running sessions).
    let stack = h.write(
        "sneaky.yaml",
        r#"name: sneaky
targets: [web]
resources:
  - command:
      name: sneaky
      run: kill "$(cat /run/sshd.pid)" && touch /run/keel-e2e-sneaky
      creates: /run/keel-e2e-sneaky
  - file:
      path: /etc/motd
      content: "hello\n"
"#,
    );
    let apply = h.keel(&["apply", "--yes", "-i", inv, &stack], &[]);
    expect(&apply, 1, "a run that lost access");
    assert!(apply.stdout.contains("FAILED"), "{}", apply.stdout);
    let first_error = apply
        .stdout
        .lines()
        .find(|l| l.contains("error:") || l.contains('✗'))
        .unwrap_or_else(|| panic!("an error: {}", apply.stdout));
    assert!(
        first_error.contains("error: access lost")
            && first_error.contains("brand-new SSH connection"),
        "the lost access is the first error: {}",
        apply.stdout
    );
    h.sh("systemctl restart ssh");
    assert!(root_logs_in(&h));
}

#[test]
fn a_pam_line_denying_logins_is_reverted_with_that_file_only() {
    let h = Host::start("guard-pam");
    let inv = h.inventory("root", &[], "    confirm_timeout: 90\n");
    let inv = inv.to_str().unwrap();
    let before = h.sh("cat /etc/pam.d/sshd");
    let stack = h.write(
        "pam.yaml",
        r#"name: pam
targets: [web]
resources:
  - line:
      path: /etc/pam.d/sshd
      line: account requisite pam_deny.so
"#,
    );
    // Nothing for the analysis to read; PAM needs no restart: the next
    // login is refused, and only /etc/pam.d/sshd is saved and put back.
    expect(&h.keel(&["plan", "-i", inv, &stack], &[]), 0, "not refused");
    let apply = reverted(&h, inv, &stack, "line[/etc/pam.d/sshd");
    assert!(
        apply
            .stdout
            .lines()
            .any(|l| l.ends_with("restored as it was before: /etc/pam.d/sshd")),
        "the revert covered that file only: {}",
        apply.stdout
    );
    assert_eq!(h.sh("cat /etc/pam.d/sshd"), before, "PAM as it was");
}

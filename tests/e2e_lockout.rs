//! End to end, over real SSH against fresh Debian hosts: keel never locks
//! the owner out.
//! - The guide's hardening (G23 + G24) on a fresh host that starts with
//!   sshd on 22 and root access: sshd moves to 2222, root login goes off via
//!   a new sudo user, passwords off, UFW denies incoming but 2222/80/443;
//!   the next run connects on 2222 as the new user and plans no changes.
//! - With the analysis forced off, a change that really breaks access is
//!   applied, keel reports it, and the host is reachable again with its
//!   previous configuration — checked over a fresh connection.
//! - keel killed (SIGKILL) in the middle of a commit-confirmed change: the
//!   host still reverts by itself within the timeout.

mod support;

use std::time::{Duration, Instant};
use support::{Host, Keel, expect};

/// A fresh login over a new SSH connection (not keel's), as `user` on `port`.
fn fresh_login(h: &Host, user: &str, port: u16) -> bool {
    h.ssh_as(user, port, "true").status.success()
}

fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    panic!("{what}: not within {secs} s");
}

#[test]
fn guide_hardening_through_a_new_sudo_user() {
    let h = Host::start("harden");
    let key = h.testbed.public_key().trim().to_string();
    let inv = h.inventory(
        "deploy",
        &[("deploy_key", &key)],
        "    port: 2222\n    bootstrap_port: 22\n    bootstrap_user: root\n    confirm_timeout: 60\n",
    );
    let inv = inv.to_str().unwrap();
    let stack = h.write(
        "harden.yaml",
        r#"name: hardening
targets: [web]
resources:
  - package: { name: ufw }
  - user:
      name: deploy
      shell: /bin/bash
      sudo: true
      authorized_keys:
        - "{{vars.deploy_key}}"
  - sshd:
      settings:
        Port: 2222
        PermitRootLogin: "no"
        PasswordAuthentication: "no"
        PubkeyAuthentication: "yes"
        MaxAuthTries: 3
        ClientAliveInterval: 300
        ClientAliveCountMax: 2
  - ufw:
      defaults: { incoming: deny, outgoing: allow }
      rules:
        - { allow: 2222/tcp, comment: ssh }
        - { allow: 80/tcp }
        - { allow: 443/tcp }
      enabled: true
"#,
    );
    let apply = h.keel(&["apply", "--yes", "-v", "-i", inv, &stack], &[]);
    expect(&apply, 0, "hardening apply");
    assert!(
        apply.stderr.contains("bootstrap"),
        "the first run used the bootstrap login: {}",
        apply.stderr
    );
    assert!(
        apply.stderr.contains("access confirmed"),
        "confirmed with a new connection: {}",
        apply.stderr
    );
    assert!(
        !apply.stderr.contains("keeping the current connection"),
        "later steps use deploy@2222: {}",
        apply.stderr
    );

    // The host, checked directly and over fresh connections.
    let t = h.sh("sshd -T 2>/dev/null | grep -E '^(port|permitrootlogin|passwordauthentication|maxauthtries|clientaliveinterval|clientalivecountmax) '");
    for line in [
        "port 2222",
        "permitrootlogin no",
        "passwordauthentication no",
        "maxauthtries 3",
        "clientaliveinterval 300",
        "clientalivecountmax 2",
    ] {
        assert!(t.lines().any(|l| l == line), "{line} in:\n{t}");
    }
    assert!(
        h.sh("ufw status verbose")
            .contains("Default: deny (incoming), allow (outgoing)")
    );
    assert!(fresh_login(&h, "deploy", 2222), "deploy logs in on 2222");
    assert!(!fresh_login(&h, "root", 2222), "root login is off");
    assert!(!fresh_login(&h, "deploy", 22), "port 22 is closed");
    assert!(
        !h.sh_ok("ls /var/lib/keel/rollback/* 2>/dev/null | grep -q ."),
        "the revert was disarmed"
    );
    assert!(
        !h.sh("systemctl list-timers --all").contains("keel-revert"),
        "no revert timer left"
    );

    // The next run connects on 2222 as deploy and plans no changes.
    let plan = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack], &[]);
    expect(&plan, 0, "plan after hardening");
    assert!(
        plan.stdout.contains("deploy@") && plan.stdout.contains(":2222"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
}

#[test]
fn a_change_that_breaks_access_is_reverted() {
    let h = Host::start("revert");
    let inv = h.inventory("root", &[], "    confirm_timeout: 40\n");
    let inv = inv.to_str().unwrap();
    let stack = h.write("nobody.yaml",
        "name: lockout\ntargets: [web]\nresources:\n  - sshd:\n      settings:\n        AllowUsers: [nobody]\n",
    );
    // The analysis refuses it...
    expect(
        &h.keel(&["plan", "-i", inv, &stack], &[]),
        1,
        "refused at plan",
    );
    // ...forced, keel applies it, finds it cannot log in any more, and reverts.
    let apply = h.keel(
        &["apply", "--yes", "--allow-lockout-risk", "-i", inv, &stack],
        &[],
    );
    expect(&apply, 1, "apply of a breaking change");
    assert!(apply.stdout.contains("reverted"), "{}", apply.stdout);
    assert!(
        apply.stdout.contains("sshd["),
        "names the change that broke access: {}",
        apply.stdout
    );
    wait_until("root can log in again", 45, || fresh_login(&h, "root", 22));
    assert!(
        !h.sh("sshd -T 2>/dev/null").contains("allowusers nobody"),
        "previous sshd configuration"
    );
    expect(
        &h.keel(&["plan", "--allow-lockout-risk", "-i", inv, &stack], &[]),
        0,
        "a plan still works",
    );
}

#[test]
fn killing_keel_mid_change_still_reverts() {
    let h = Host::start("killed");
    let inv = h.inventory("root", &[], "    confirm_timeout: 25\n");
    let inv = inv.to_str().unwrap();
    // Install ufw first (no access change), so the timed part is short.
    let base = h.write(
        "base.yaml",
        "name: base\ntargets: [web]\nresources:\n  - package: { name: ufw }\n",
    );
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &base], &[]),
        0,
        "install ufw",
    );
    // A firewall that drops SSH: the fresh-connection check then hangs until
    // its timeout, which leaves time to kill keel after the change.
    let stack = h.write("drop.yaml",
        "name: drop\ntargets: [web]\nresources:\n  - package: { name: ufw }\n  - ufw:\n      defaults: { incoming: deny }\n      rules:\n        - { allow: 443/tcp }\n      enabled: true\n",
    );
    let mut child = Keel::new()
        .args(["apply", "--yes", "--allow-lockout-risk", "-i", inv, &stack])
        .spawn();
    wait_until("the firewall is on and the revert armed", 60, || {
        h.sh_ok("ufw status | grep -q 'Status: active'")
            && h.sh_ok("ls /var/lib/keel/rollback/*/revert.sh >/dev/null 2>&1")
    });
    child.kill(); // SIGKILL
    assert!(!fresh_login(&h, "root", 22), "access is cut for now");
    wait_until("the host reverts by itself", 60, || {
        fresh_login(&h, "root", 22)
    });
    assert!(
        h.sh("ufw status").contains("Status: inactive"),
        "the firewall is back to its previous state"
    );
}

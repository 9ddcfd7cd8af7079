//! End to end, over real SSH against a fresh Debian host in a container, the
//! `ufw` kind (G24): install ufw with a `package` resource in the same stack,
//! deny incoming by default, allow SSH (22/tcp — the test itself connects on
//! it), 2222, 80 and 443, enable the firewall. The test host's container has
//! NET_ADMIN, so ufw loads real netfilter rules — in the container's own
//! network namespace only.
//!
//! Then: plan again (exit 0, and a fresh SSH connection gets through the
//! firewall); a rule added by hand is listed as unmanaged and kept, and is
//! not drift (exit 0); a keel rule deleted by hand and a default changed by
//! hand are drift (exit 2), and apply puts the rule back in its declared
//! place; a rule removed from the stack is deleted while the hand-made rule
//! stays. Then the full rule syntax (sources, ranges, interfaces, outbound,
//! limit, an IPv6-only rule) converges to exactly the tuples ufw writes; a
//! hand-made rule that gets declared is adopted in place; keel rules put out
//! of order by hand are re-created in declared order. Last, an invalid port
//! is a `keel validate` diagnostic at its line and never reaches the host.

mod support;

use support::{Host, expect};

fn stack(rules: &str) -> String {
    format!(
        "name: firewall
targets: [web]
resources:
  - package: {{ name: ufw }}
  - ufw:
      defaults: {{ incoming: deny, outgoing: allow }}
      logging: low
      enabled: true
      rules:
{rules}"
    )
}

const G24_RULES: &str = "        - { allow: 22/tcp, comment: ssh }
        - { allow: 2222/tcp }
        - { allow: 80/tcp }
        - { allow: 443/tcp }
";

/// The ports of the IPv4 rules, in ufw's order (from its own rule file).
fn v4_ports(h: &Host) -> Vec<String> {
    h.sh("sed -n 's/^### tuple ### [^ ]* [^ ]* \\([^ ]*\\) .*/\\1/p' /etc/ufw/user.rules")
        .lines()
        .map(str::to_string)
        .collect()
}

/// The same for the IPv6 rules.
fn v6_ports(h: &Host) -> Vec<String> {
    h.sh("sed -n 's/^### tuple ### [^ ]* [^ ]* \\([^ ]*\\) .*/\\1/p' /etc/ufw/user6.rules")
        .lines()
        .map(str::to_string)
        .collect()
}

/// The IPv4 tuples (without `### tuple ###`), in order.
fn v4_tuples(h: &Host) -> Vec<String> {
    h.sh("sed -n 's/^### tuple ### //p' /etc/ufw/user.rules")
        .lines()
        .map(str::to_string)
        .collect()
}

/// A fresh SSH connection (not keel's) gets through the firewall.
fn ssh_gets_in(h: &Host) -> bool {
    h.host
        .ssh_command(&h.testbed, 22)
        .arg("true")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn ufw_firewall_converges_keeps_unmanaged_rules_and_detects_drift() {
    let h = Host::start("ufw");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    let g24 = h.write("stack.yaml", &stack(G24_RULES));

    expect(&h.keel(&["validate", "-i", inv, &g24], &[]), 0, "validate");
    let plan = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &g24], &[]);
    expect(&plan, 2, "first plan");
    for want in [
        "+ ufw[firewall]",
        "known after apply: ufw is not installed yet",
        "rule allow 22/tcp: (none) → added",
        "rule allow 443/tcp: (none) → added",
        "enabled: false → true",
    ] {
        assert!(plan.stdout.contains(want), "{want}:\n{}", plan.stdout);
    }

    // Converge in one apply.
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &g24], &[]),
        0,
        "apply",
    );
    let status = h.sh("ufw status verbose");
    assert!(status.contains("Status: active"), "{status}");
    assert!(status.contains("Logging: on (low)"), "{status}");
    assert!(
        status.contains("Default: deny (incoming), allow (outgoing)"),
        "{status}"
    );
    for port in ["22/tcp", "2222/tcp", "80/tcp", "443/tcp"] {
        for v6 in ["", " (v6)"] {
            let rule = format!("{port}{v6}");
            assert!(
                status.lines().any(|l| l.starts_with(&format!("{rule} "))
                    && l.contains("ALLOW IN")
                    && l.contains("# keel")),
                "{rule} allowed, marked as keel's:\n{status}"
            );
        }
    }
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("22/tcp ") && l.ends_with("# keel: ssh")),
        "{status}"
    );
    assert_eq!(v4_ports(&h), ["22", "2222", "80", "443"]);
    assert!(
        h.sh("iptables -S ufw-user-input")
            .contains("--dport 2222 -j ACCEPT"),
        "rules loaded in netfilter"
    );

    // Still reachable over SSH with the firewall on; nothing left to do.
    assert!(ssh_gets_in(&h), "SSH gets through the firewall");
    h.expect_no_changes(inv, &g24, &[]);

    // A rule added by hand: listed as unmanaged and kept; not drift.
    h.sh("ufw allow 8080/tcp");
    let manual = h.keel(
        &["plan", "--all", "--detailed-exitcode", "-i", inv, &g24],
        &[],
    );
    expect(&manual, 0, "plan with an unmanaged rule");
    assert!(
        manual
            .stdout
            .contains("unmanaged rule kept: allow 8080/tcp"),
        "{}",
        manual.stdout
    );

    // Drift by hand: a keel rule deleted, the incoming default loosened.
    h.sh("ufw delete allow 80/tcp && ufw default allow incoming");
    assert_eq!(v4_ports(&h), ["22", "2222", "443", "8080"]);
    let drift = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &g24], &[]);
    expect(&drift, 2, "plan after drift");
    for want in [
        "~ ufw[firewall]",
        "rule allow 80/tcp: (none) → added",
        "default incoming: allow → deny",
        "unmanaged rule kept: allow 8080/tcp",
    ] {
        assert!(drift.stdout.contains(want), "{want}:\n{}", drift.stdout);
    }
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &g24], &[]),
        0,
        "apply after drift",
    );
    assert_eq!(
        v4_ports(&h),
        ["22", "2222", "80", "443", "8080"],
        "80 back in its declared place, before 443"
    );
    assert_eq!(v6_ports(&h), ["22", "2222", "80", "443", "8080"]);
    assert!(
        h.sh("grep DEFAULT_INPUT_POLICY /etc/default/ufw")
            .contains("DROP")
    );
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, &g24], &[]),
        0,
        "plan after fixing drift",
    );

    // A rule removed from the stack: only that keel rule goes.
    let without_2222 = h.write(
        "stack2.yaml",
        &stack(
            "        - { allow: 22/tcp, comment: ssh }
        - { allow: 80/tcp }
        - { allow: 443/tcp }
",
        ),
    );
    let removal = h.keel(
        &["plan", "--detailed-exitcode", "-i", inv, &without_2222],
        &[],
    );
    expect(&removal, 2, "plan without 2222");
    assert!(
        removal
            .stdout
            .contains("rule allow 2222/tcp (keel): present → removed"),
        "{}",
        removal.stdout
    );
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &without_2222], &[]),
        0,
        "apply without 2222",
    );
    assert_eq!(v4_ports(&h), ["22", "80", "443", "8080"]);
    let status = h.sh("ufw status");
    assert!(!status.contains("2222"), "{status}");
    assert!(
        status.contains("8080/tcp (v6)"),
        "the hand-made rule stays: {status}"
    );
    assert!(ssh_gets_in(&h));
    expect(
        &h.keel(
            &["plan", "--detailed-exitcode", "-i", inv, &without_2222],
            &[],
        ),
        0,
        "plan after removal",
    );

    // The full rule syntax, against ufw's own normalization; a hand-made
    // rule that gets declared is adopted; keel's rules are kept in order.
    h.sh("ufw limit 2200/tcp");
    let full = h.write(
        "stack3.yaml",
        &stack(
            "        - { allow: 22/tcp, comment: ssh }
        - { deny: 5432/tcp, from: 10.9.1.2/16 }
        - { allow: 5432/tcp }
        - { deny: 3306, from: 10.0.0.0/8 }
        - { allow: 8000:8100/tcp, from: 192.168.1.0/24, to: any, interface: eth0, direction: in }
        - { reject: 25/tcp, direction: out }
        - { limit: 2200/tcp, comment: alt ssh }
        - { allow: 53/udp, to: \"FD00::53/128\", direction: out }
",
        ),
    );
    let adopt = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &full], &[]);
    expect(&adopt, 2, "plan of the full syntax");
    for want in [
        "rule limit 2200/tcp: not managed by keel → managed by keel",
        "rule deny 5432/tcp from 10.9.0.0/16: (none) → added",
        "rule allow out 53/udp to fd00::53: (none) → added",
        "rule allow 80/tcp (keel): present → removed",
        "rule allow 443/tcp (keel): present → removed",
    ] {
        assert!(adopt.stdout.contains(want), "{want}:\n{}", adopt.stdout);
    }
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &full], &[]),
        0,
        "apply the full syntax",
    );
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, &full], &[]),
        0,
        "the full syntax converged (keel predicts ufw's tuples)",
    );
    assert_eq!(
        v4_tuples(&h),
        [
            "allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in comment=6b65656c3a20737368",
            "allow tcp 8080 0.0.0.0/0 any 0.0.0.0/0 in",
            "deny tcp 5432 0.0.0.0/0 any 10.9.0.0/16 in comment=6b65656c",
            "allow tcp 5432 0.0.0.0/0 any 0.0.0.0/0 in comment=6b65656c",
            "deny any 3306 0.0.0.0/0 any 10.0.0.0/8 in comment=6b65656c",
            "allow tcp 8000:8100 0.0.0.0/0 any 192.168.1.0/24 in_eth0 comment=6b65656c",
            "reject tcp 25 0.0.0.0/0 any 0.0.0.0/0 out comment=6b65656c",
            "limit tcp 2200 0.0.0.0/0 any 0.0.0.0/0 in comment=6b65656c3a20616c7420737368",
        ],
        "keel's rules in declared order, inserted before the adopted 2200 rule \
         (which kept its place); the hand-made 8080 rule untouched"
    );
    assert!(
        h.sh("grep -c 'allow udp 53 fd00::53 any ::/0 out' /etc/ufw/user6.rules") == "1",
        "IPv6-only rule"
    );

    // Out of order by hand: the deny for 10.9/16 moved after the allow.
    h.sh(
        "ufw delete deny proto tcp from 10.9.0.0/16 to any port 5432 \
          && ufw deny proto tcp from 10.9.0.0/16 to any port 5432 comment keel",
    );
    let order = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &full], &[]);
    expect(&order, 2, "plan with keel rules out of order");
    assert!(
        order.stdout.contains(
            "rule deny 5432/tcp from 10.9.0.0/16: out of declared order → re-created in declared order"
        ),
        "{}",
        order.stdout
    );
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &full], &[]),
        0,
        "apply the order",
    );
    assert_eq!(
        v4_ports(&h),
        [
            "22",
            "8080",
            "5432",
            "5432",
            "3306",
            "8000:8100",
            "25",
            "2200"
        ]
    );
    assert!(v4_tuples(&h)[2].starts_with("deny tcp 5432 "));
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, &full], &[]),
        0,
        "plan after re-ordering",
    );
    assert!(ssh_gets_in(&h));

    // An invalid port: a diagnostic at its line, and the host untouched.
    let bad = h.write(
        "stack-bad.yaml",
        "name: bad
targets: [web]
resources:
  - ufw:
      enabled: true
      rules:
        - { allow: 22/tcp }
        - { allow: 70000/tcp, comment: typo }
",
    );
    let before = h.sh("sha256sum /etc/ufw/user.rules /etc/ufw/user6.rules");
    let v = h.keel(&["validate", "-i", inv, &bad], &[]);
    expect(&v, 1, "validate a bad port");
    assert!(
        v.stderr.contains("port 70000 is out of range (1–65535)"),
        "{}",
        v.stderr
    );
    assert!(
        v.stderr.contains("stack-bad.yaml:8:"),
        "points at line 8: {}",
        v.stderr
    );
    let a = h.keel(&["apply", "--yes", "-i", inv, &bad], &[]);
    assert_ne!(a.code, 0, "apply refuses a bad stack");
    assert_eq!(
        h.sh("sha256sum /etc/ufw/user.rules /etc/ufw/user6.rules"),
        before
    );
    assert!(h.sh("ufw status").contains("Status: active"));
}

//! End to end, over real SSH against a fresh Debian host: pruning UFW
//! rules.
//!
//! - A stack installs ufw and declares two rules; they are written marked
//!   as keel's, and the stack's ledger lists `ufw[firewall]`.
//! - By hand, an SSH rule is added and the firewall enabled.
//! - The `ufw` resource is removed from the stack: the plan shows
//!   `- ufw[firewall]` with keel's rules as removed, apply deletes them
//!   with the firewall active; the hand-made rule, the firewall's state and
//!   the `ufw` package stay, and the next plan has nothing to do.

mod support;

use support::{Host, expect};

const BASE: &str = "name: fw
targets: [web]
resources:
  - package: { name: ufw }
";

const FIREWALL: &str = "  - ufw:
      rules:
        - { allow: 8080/tcp, comment: web }
        - { deny: 9090/udp }
";

/// The IPv4 tuples ufw keeps (without `### tuple ###`), in order.
fn v4_tuples(h: &Host) -> String {
    h.sh("sed -n 's/^### tuple ### //p' /etc/ufw/user.rules")
}

#[test]
fn ufw_rules_removed_with_their_resource_are_pruned() {
    let h = Host::start("prune-ufw");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    let plan = |stack: &str| h.keel(&["plan", "--detailed-exitcode", "-i", inv, stack], &[]);
    let apply = |stack: &str| h.keel(&["apply", "--yes", "-i", inv, stack], &[]);

    let full = h.write("full.yaml", &format!("{BASE}{FIREWALL}"));
    expect(&apply(&full), 0, "first apply");
    let rules = v4_tuples(&h);
    assert!(
        rules.contains("allow tcp 8080") && rules.contains("deny udp 9090"),
        "{rules}"
    );
    let ledger = h.sh("cat /var/lib/keel/ledger/fw.json");
    assert!(ledger.contains("\"ufw[firewall]\""), "{ledger}");

    // Made by hand: an SSH rule (keel's own way in), and the firewall on.
    h.sh("ufw allow 22/tcp comment by-hand >/dev/null && ufw --force enable >/dev/null");

    let base = h.write("base.yaml", BASE);
    let p = plan(&base);
    expect(&p, 2, "plan after removing the ufw resource");
    for want in [
        "- ufw[firewall]",
        "rule allow 8080/tcp (keel): present → removed",
        "rule deny 9090/udp (keel): present → removed",
        "unmanaged rule kept: allow 22/tcp",
        "1 to remove",
    ] {
        assert!(p.stdout.contains(want), "{want}:\n{}", p.stdout);
    }
    assert!(!p.stdout.contains("rule allow 22/tcp"), "{}", p.stdout);

    expect(&apply(&base), 0, "apply of the pruning");
    let rules = v4_tuples(&h);
    assert!(
        !rules.contains("8080") && !rules.contains("9090"),
        "keel's rules are gone:\n{rules}"
    );
    assert!(
        rules.contains("allow tcp 22 "),
        "the hand-made rule stays:\n{rules}"
    );
    let status = h.sh("ufw status");
    assert!(status.contains("Status: active"), "{status}");
    assert!(h.sh_ok("dpkg -s ufw >/dev/null"));
    let ledger = h.sh("cat /var/lib/keel/ledger/fw.json");
    assert!(!ledger.contains("ufw["), "{ledger}");
    expect(&plan(&base), 0, "plan after pruning");
}

/// A login `ops` with the test key and passwordless sudo (keel runs its
/// scripts through `sudo -n`, which resets the environment).
fn add_sudo_user(h: &Host) {
    let key = h.testbed.public_key().trim().to_string();
    h.sh(&format!(
        "useradd -m -s /bin/sh ops && mkdir -p /home/ops/.ssh && echo '{key}' > /home/ops/.ssh/authorized_keys \
         && chown -R ops: /home/ops/.ssh && chmod 700 /home/ops/.ssh && chmod 600 /home/ops/.ssh/authorized_keys \
         && echo 'ops ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/ops && chmod 440 /etc/sudoers.d/ops"
    ));
}

/// The firewall keel enabled, with keel's own SSH rule among its rules:
/// pruning it would shut keel out, so the plan refuses, saying what to
/// do — about the port sshd took keel's connection on, read on the host
/// (as root, and as a user going through sudo); once something else lets
/// SSH in (here: the incoming policy set to allow by hand), the pruning
/// goes ahead and keel still gets in.
#[test]
fn pruning_keel_s_own_ssh_rule_is_refused() {
    let h = Host::start("prune-ufw-ssh");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    let plan = |stack: &str| h.keel(&["plan", "--detailed-exitcode", "-i", inv, stack], &[]);
    let apply = |stack: &str| h.keel(&["apply", "--yes", "-i", inv, stack], &[]);

    let full = h.write(
        "full.yaml",
        &format!(
            "{BASE}  - ufw:\n      enabled: true\n      rules:\n        - {{ allow: 22/tcp }}\n        - {{ allow: 8080/tcp }}\n"
        ),
    );
    expect(&apply(&full), 0, "first apply");
    assert!(h.sh("ufw status").contains("Status: active"));

    let base = h.write("base.yaml", BASE);
    let p = plan(&base);
    expect(&p, 1, "plan pruning keel's SSH rule");
    let all = format!("{}{}", p.stdout, p.stderr);
    for want in [
        "ufw[firewall]",
        "nothing lets SSH in on 22/tcp over IPv4 (the port sshd took keel's connection on)",
        "ufw allow 22/tcp",
    ] {
        assert!(all.contains(want), "{want}:\n{all}");
    }
    // Through sudo, which resets the environment: the same port is found.
    add_sudo_user(&h);
    let ops = h.inventory("ops", &[], "");
    let p = h.keel(&["plan", "-i", ops.to_str().unwrap(), &base], &[]);
    expect(&p, 1, "plan as ops through sudo");
    let all = format!("{}{}", p.stdout, p.stderr);
    assert!(
        all.contains("(sudo)")
            && all.contains("over IPv4 (the port sshd took keel's connection on)"),
        "{all}"
    );
    // Back to root's inventory (the same file) for the rest.
    assert_eq!(h.inventory("root", &[], "").to_str(), Some(inv));
    expect(&apply(&base), 1, "apply refused");
    assert!(v4_tuples(&h).contains("allow tcp 22 "));

    h.sh("ufw default allow incoming >/dev/null");
    let p = plan(&base);
    expect(&p, 2, "plan once SSH is let in otherwise");
    assert!(p.stdout.contains("- ufw[firewall]"), "{}", p.stdout);
    expect(&apply(&base), 0, "apply of the pruning");
    assert_eq!(v4_tuples(&h).trim(), "", "keel's rules are gone");
    expect(&plan(&base), 0, "keel still gets in; nothing left to do");
}

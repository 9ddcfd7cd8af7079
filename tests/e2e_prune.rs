//! End to end, over real SSH against a fresh Debian host: pruning.
//!
//! - A stack with a file, a directory, a cron entry, a user and a service
//!   (started and enabled by keel) is applied; the stack's ledger is
//!   written root-only under `/var/lib/keel/ledger/`.
//! - They are removed from the stack: the plan shows each as `-` remove,
//!   apply removes them (the user's account goes, the service is stopped
//!   and disabled); a file and a crontab entry made by hand, the `cron`
//!   package and the service's unit file (still declared) are left alone;
//!   the next plan has nothing to do.
//! - With a corrupt ledger, the plan warns naming the file and removes
//!   nothing.

mod support;

use support::{Host, expect};

const BASE: &str = "name: pruned
targets: [web]
resources:
  - package: { name: cron }
  - file:
      path: /etc/systemd/system/keel-prune.service
      content: \"[Service]\\nExecStart=/bin/sleep infinity\\n[Install]\\nWantedBy=multi-user.target\\n\"
";

const MANAGED: &str = "  - file: { path: /etc/keel-prune.conf, content: \"x\\n\" }
  - directory: { path: /srv/prune-dir }
  - cron: { name: prune-job, schedule: \"@hourly\", command: /bin/true }
  - user: { name: prune-user, shell: /bin/sh }
  - service:
      name: keel-prune
      state: running
      enabled: true
      depends_on: [ \"file[/etc/systemd/system/keel-prune.service]\" ]
";

#[test]
fn removed_resources_are_pruned_on_a_fresh_host() {
    let h = Host::start("prune");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    let plan = |stack: &str| h.keel(&["plan", "--detailed-exitcode", "-i", inv, stack], &[]);
    let apply = |stack: &str| h.keel(&["apply", "--yes", "-i", inv, stack], &[]);

    let full = h.write("full.yaml", &format!("{BASE}{MANAGED}"));
    expect(&apply(&full), 0, "first apply");
    h.sh("echo hand > /etc/hand-made.conf");
    h.sh("(crontab -l; echo '@daily /bin/echo by-hand') | crontab -");
    let ledger = "/var/lib/keel/ledger/pruned.json";
    let text = h.sh(&format!("cat {ledger}"));
    assert!(text.contains("cron[root/prune-job]"), "{text}");
    assert_eq!(h.sh("systemctl is-active keel-prune").trim(), "active");
    assert!(h.sh_ok("getent passwd prune-user"));
    assert_eq!(h.sh(&format!("stat -c %a:%U {ledger}")).trim(), "600:root");

    let base = h.write("base.yaml", BASE);
    let p = plan(&base);
    expect(&p, 2, "plan after removing from the stack");
    for addr in [
        "- file[/etc/keel-prune.conf]",
        "- directory[/srv/prune-dir]",
        "- cron[root/prune-job]",
        "- user[prune-user]",
        "- service[keel-prune]",
    ] {
        assert!(p.stdout.contains(addr), "{addr}: {}", p.stdout);
    }
    assert!(!p.stdout.contains("hand-made"), "{}", p.stdout);
    expect(&apply(&base), 0, "apply of the pruning");
    assert!(!h.sh_ok("test -e /etc/keel-prune.conf"));
    assert!(!h.sh_ok("test -e /srv/prune-dir"));
    let tab = h.sh("crontab -l");
    assert!(
        !tab.contains("prune-job") && tab.contains("by-hand"),
        "{tab}"
    );
    assert!(h.sh_ok("test -e /etc/hand-made.conf"));
    assert!(h.sh_ok("dpkg -s cron >/dev/null"));
    assert!(!h.sh_ok("getent passwd prune-user"));
    assert!(!h.sh_ok("systemctl is-active --quiet keel-prune"));
    assert!(!h.sh_ok("systemctl is-enabled --quiet keel-prune"));
    assert!(h.sh_ok("test -e /etc/systemd/system/keel-prune.service"));
    expect(&plan(&base), 0, "plan after pruning");

    // A corrupt ledger: a warning naming it, nothing removed.
    expect(&apply(&full), 0, "apply again");
    h.sh(&format!("echo '{{broken' > {ledger}"));
    let p = plan(&base);
    assert!(p.stderr.contains(ledger), "{}", p.stderr);
    assert!(!p.stdout.contains("- file["), "{}", p.stdout);
    expect(&apply(&base), 0, "apply with a corrupt ledger");
    assert!(h.sh_ok("test -e /etc/keel-prune.conf"));
    assert!(h.sh("crontab -l").contains("prune-job"));
}

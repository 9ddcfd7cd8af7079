//! End to end, over real SSH against a fresh Debian host: pruning.
//!
//! - A stack with a file, a directory and a cron entry is applied; the
//!   stack's ledger is written root-only under `/var/lib/keel/ledger/`.
//! - They are removed from the stack: the plan shows each as `-` remove,
//!   apply removes them; a file and a crontab entry made by hand, and the
//!   `cron` package, are left alone; the next plan has nothing to do.
//! - With a corrupt ledger, the plan warns naming the file and removes
//!   nothing.

mod support;

use support::{Host, expect};

const BASE: &str = "name: pruned
targets: [web]
resources:
  - package: { name: cron }
";

const MANAGED: &str = "  - file: { path: /etc/keel-prune.conf, content: \"x\\n\" }
  - directory: { path: /srv/prune-dir }
  - cron: { name: prune-job, schedule: \"@hourly\", command: /bin/true }
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
    assert_eq!(h.sh(&format!("stat -c %a:%U {ledger}")).trim(), "600:root");

    let base = h.write("base.yaml", BASE);
    let p = plan(&base);
    expect(&p, 2, "plan after removing from the stack");
    for addr in [
        "- file[/etc/keel-prune.conf]",
        "- directory[/srv/prune-dir]",
        "- cron[root/prune-job]",
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

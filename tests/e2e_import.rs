//! End to end, over real SSH against a fresh Debian host: `keel import`
//! brings a server that predates keel under a stack's ledger.
//!
//! - The host already has a file and a crontab entry in keel's format (made
//!   before keel kept ledgers), and a crontab line written by hand.
//! - A stack declaring them (and a file not there yet) is imported: the
//!   ledger lists the two, nothing else on the host changes, and the next
//!   plan has only the new file to create.
//! - The file is edited after the import, and both are removed from the
//!   stack: the plan refuses to remove the edited file (it changed by hand);
//!   with `--force-prune` both are removed, the hand-written crontab line
//!   and the `cron` package stay.

mod support;

use support::{Host, expect};

const BASE: &str = "name: legacy
targets: [web]
resources:
  - package: { name: cron }
";

const DECLARED: &str = "  - file: { path: /etc/legacy.conf, content: \"legacy\\n\" }
  - cron: { name: legacy-job, schedule: \"@daily\", command: /bin/true }
  - file: { path: /etc/new.conf, content: \"new\\n\" }
";

#[test]
fn a_server_that_predates_keel_is_imported_then_pruned() {
    let h = Host::start("import");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    let keel = |args: &[&str]| h.keel_inv(inv, args);
    let base = h.write("base.yaml", BASE);
    expect(&keel(&["apply", "--yes", &base]), 0, "the cron package");
    // What was there before keel managed it.
    h.sh("printf 'legacy\\n' > /etc/legacy.conf");
    h.sh(
        "printf '# keel: legacy-job\\n@daily /bin/true\\n@hourly /bin/echo by-hand\\n' | crontab -",
    );
    let tab_before = h.sh("crontab -l");

    let full = h.write("full.yaml", &format!("{BASE}{DECLARED}"));
    let r = keel(&["import", &full]);
    expect(&r, 0, "import");
    for want in [
        "recorded 2 resource(s) in /var/lib/keel/ledger/legacy.json",
        "= file[/etc/legacy.conf]",
        "= cron[root/legacy-job]",
        "+ file[/etc/new.conf]",
    ] {
        assert!(r.stdout.contains(want), "{want}:\n{}", r.stdout);
    }
    assert!(!h.sh_ok("test -e /etc/new.conf"));
    assert_eq!(h.sh("crontab -l"), tab_before);
    let ledger = h.sh("cat /var/lib/keel/ledger/legacy.json");
    assert!(
        ledger.contains("file[/etc/legacy.conf]") && ledger.contains("cron[root/legacy-job]"),
        "{ledger}"
    );
    assert!(!ledger.contains("new.conf"), "{ledger}");
    let p = keel(&["plan", &full]);
    expect(&p, 0, "plan after import");
    assert!(p.stdout.contains("+ file[/etc/new.conf]"), "{}", p.stdout);
    assert!(p.stdout.contains("1 to create"), "{}", p.stdout);

    // Edited after the import, then removed from the stack.
    h.sh("echo edited >> /etc/legacy.conf");
    let p = keel(&["plan", &base]);
    expect(&p, 1, "plan removing an edited file");
    let all = format!("{}{}", p.stdout, p.stderr);
    assert!(
        all.contains("file[/etc/legacy.conf]")
            && all.contains("changed by hand")
            && all.contains("--force-prune"),
        "{all}"
    );
    expect(&keel(&["apply", "--yes", &base]), 1, "apply refused");
    assert!(h.sh_ok("test -e /etc/legacy.conf"));

    let p = keel(&["plan", "--force-prune", &base]);
    expect(&p, 0, "plan with --force-prune");
    for want in ["- file[/etc/legacy.conf]", "- cron[root/legacy-job]"] {
        assert!(p.stdout.contains(want), "{want}:\n{}", p.stdout);
    }
    expect(
        &keel(&["apply", "--yes", "--force-prune", &base]),
        0,
        "pruning",
    );
    assert!(!h.sh_ok("test -e /etc/legacy.conf"));
    let tab = h.sh("crontab -l");
    assert!(
        !tab.contains("legacy-job") && tab.contains("by-hand"),
        "{tab}"
    );
    assert!(h.sh_ok("dpkg -s cron >/dev/null"));
}

//! End to end, over real SSH against a fresh Debian host in a container:
//! a small stack's first apply costs one round trip per point of the
//! graph, not one per resource (plus one per re-probe) — counted with
//! `-v`'s "applied in N round trip(s)", not timed. The packages are
//! installed by one `apt-get install` in the same script as the
//! directories and the file that are ready with them; the script also
//! reads again what their changes make ready. Each resource is still
//! reported, and the next plan has nothing to do.
//!
//! Also odd live states a fresh host never has (a read-only mount, a file
//! where a directory should be): what would fail is a plan error that
//! apply does not try.

mod support;

use support::applied_round_trips as round_trips;
use support::{Host, expect};

/// Three points of the graph: the packages, `/srv/trips`, `/var/lib/trips`
/// and `/etc/trips.conf` at once; then `conf` and `state`; then `app.env`.
const STACK: &str = r#"name: trips
targets: [web]
resources:
  - package: { name: bc }
  - package: { name: ed }
  - directory: { path: /srv/trips, mode: "0755" }
  - directory: { path: /srv/trips/conf, mode: "0750" }
  - file: { path: /srv/trips/conf/app.env, mode: "0600", content: "APP_ENV=production\n" }
  - directory: { path: /var/lib/trips, mode: "0700" }
  - file: { path: /var/lib/trips/state, content: "0\n" }
  - file: { path: /etc/trips.conf, content: "trips\n" }
"#;

#[test]
fn a_small_stack_applies_in_one_round_trip_per_point_of_the_graph() {
    let h = Host::start("trips");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    for p in ["bc", "ed"] {
        h.sh(&format!("dpkg --purge {p} >/dev/null 2>&1 || true"));
    }
    let stack = h.write("trips.yaml", STACK);

    let apply = h.keel(&["apply", "--yes", "-v", "-i", inv, &stack], &[]);
    expect(&apply, 0, "first apply");
    for l in apply.stderr.lines().filter(|l| l.contains("applied in")) {
        eprintln!("first apply of the small stack: {l}");
    }
    // Three scripts (one per point of the graph) and the verification.
    // One by one, with a re-probe before each resource whose ancestor
    // changed, it took 11.
    assert_eq!(round_trips(&apply.stderr), 4, "{}", apply.stderr);
    assert!(
        apply.stdout.contains("8 changed, 0 failed"),
        "{}",
        apply.stdout
    );
    for p in ["bc", "ed"] {
        assert!(h.sh_ok(&format!("dpkg -s {p} >/dev/null")), "{p} installed");
    }
    assert!(
        h.sh_ok("test \"$(stat -c %a /srv/trips/conf/app.env)\" = 600 && grep -qx APP_ENV=production /srv/trips/conf/app.env"),
        "app.env written"
    );
    assert!(h.sh_ok("grep -qx 0 /var/lib/trips/state && grep -qx trips /etc/trips.conf"));

    // The re-probes read in the scripts were the truth: nothing to do.
    h.expect_no_changes(inv, &stack, &[]);
    let again = h.keel(&["apply", "--yes", "-v", "-i", inv, &stack], &[]);
    expect(&again, 0, "second apply");
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

/// Logins the host's sshd accepted so far (its journal).
fn logins(h: &Host) -> usize {
    let n =
        h.sh("journalctl -u ssh.service -o cat --no-pager | grep -c 'Accepted publickey' || true");
    n.trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a count: {n:?}"))
}

#[test]
fn a_change_that_can_cut_access_costs_one_new_login_to_confirm() {
    let h = Host::start("logins");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    let stack = h.write(
        "logins.yaml",
        "name: logins\ntargets: [web]\nresources:\n  - sshd: { settings: { MaxAuthTries: 4 } }\n",
    );
    let before = logins(&h);
    let apply = h.keel(&["apply", "--yes", "-v", "-i", inv, &stack], &[]);
    expect(&apply, 0, "apply of an sshd change");
    assert!(
        apply
            .stderr
            .contains("access confirmed with a new connection"),
        "{}",
        apply.stderr
    );
    // keel's connection, and the brand-new one that confirms access after
    // the walk — which is also the run's last net. With no bootstrap login
    // the run keeps its connection. It took 4 (a reconnect and a second
    // last-net login besides).
    assert_eq!(logins(&h) - before, 2, "{}", apply.stderr);
    assert!(
        h.sh_ok("sshd -T | grep -qx 'maxauthtries 4'"),
        "the change stayed (the revert was cancelled)"
    );
}

/// Odd live states a fresh host never has, for the kinds that write
/// files: a read-only mount, and a file where a directory should be.
/// Each change that would fail is a plan error (exit 1) that apply does
/// not try; what is already as declared there stays a no-op; the rest of
/// the stack is applied, and a second plan shows only the same errors.
const ODD: &str = r#"name: odd
targets: [web]
resources:
  - file: { path: /srv/ro/a.conf, content: "old\n" }
  - file: { path: /srv/ro/b.conf, content: "new\n" }
  - line: { path: /srv/ro/c.conf, line: "more" }
  - directory: { path: /srv/ro/sub }
  - file: { path: /srv/blocker/x/app.conf, content: "x\n" }
  - directory: { path: /srv/blocker/d }
  - file: { path: /srv/fine.conf, content: "fine\n" }
"#;

#[test]
fn changes_a_read_only_mount_or_a_file_in_the_way_would_refuse_are_plan_errors() {
    let h = Host::start("odd");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    h.sh(
        "mkdir -p /srv/ro && printf 'old\\n' > /srv/ro/a.conf && printf 'c\\n' > /srv/ro/c.conf && : > /srv/blocker \
          && mount --bind /srv/ro /srv/ro && mount -o remount,bind,ro /srv/ro",
    );
    let stack = h.write("odd.yaml", ODD);

    let plan = h.keel(&["plan", "-i", inv, &stack], &[]);
    expect(&plan, 1, "plan");
    for (what, why) in [
        (
            "file[/srv/ro/b.conf]",
            "`/srv/ro` is not writable even for root",
        ),
        (
            "line[/srv/ro/c.conf: more]",
            "`/srv/ro/c.conf` is not writable",
        ),
        ("directory[/srv/ro/sub]", "`/srv/ro` is not writable"),
        (
            "file[/srv/blocker/x/app.conf]",
            "`/srv/blocker` is not a directory",
        ),
        (
            "directory[/srv/blocker/d]",
            "`/srv/blocker` is not a directory",
        ),
    ] {
        let at = plan
            .stdout
            .find(what)
            .unwrap_or_else(|| panic!("{what}: {}\n{}", plan.stdout, plan.stderr));
        assert!(
            plan.stdout[at..].contains(why),
            "{what}: {why}\n{}",
            plan.stdout
        );
    }
    assert!(plan.stdout.contains("5 errors"), "{}", plan.stdout);

    let apply = h.keel(&["apply", "--yes", "-i", inv, &stack], &[]);
    expect(&apply, 1, "apply");
    assert!(
        apply.stdout.contains("1 changed, 5 failed"),
        "{}",
        apply.stdout
    );
    assert!(
        !apply.stderr.contains("Read-only file system")
            && !apply.stderr.contains("Not a directory"),
        "no command was tried: {}",
        apply.stderr
    );
    assert!(h.sh_ok("grep -qx fine /srv/fine.conf && grep -qx old /srv/ro/a.conf"));

    let again = h.keel(&["plan", "-i", inv, &stack], &[]);
    expect(&again, 1, "second plan");
    assert!(
        again.stdout.contains("0 to create, 0 to update"),
        "{}",
        again.stdout
    );
    assert!(again.stdout.contains("5 errors"), "{}", again.stdout);
}

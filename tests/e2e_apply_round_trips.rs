//! End to end, over real SSH against a fresh Debian host in a container:
//! a small stack's first apply costs one round trip per point of the
//! graph, not one per resource (plus one per re-probe) — counted with
//! `-v`'s "applied in N round trip(s)", not timed. The packages are
//! installed by one `apt-get install` in the same script as the
//! directories and the file that are ready with them; the script also
//! reads again what their changes make ready. Each resource is still
//! reported, and the next plan has nothing to do.

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

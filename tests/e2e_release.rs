//! End to end, over real SSH against a fresh Debian host in a container:
//! `examples/release` deployed at release A, applied again at A, then at
//! B. The migration (a run-once step that appends to a file) runs exactly
//! twice: once for A, once for B, never on the plain re-run. The release
//! record lands in /var/lib/keel/releases, root-only, and `keel rollback`
//! goes back to A without running A's steps again.

mod support;

use support::{Host, expect, repo};

#[test]
fn the_migration_runs_once_per_release_over_ssh() {
    let h = Host::start("release");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    let stack = repo().join("examples/release/stack.yaml");
    let stack = stack.to_str().unwrap();
    let apply = |release: &str| {
        let set = format!("release={release}");
        h.keel(&["apply", "--yes", "-i", inv, stack, "--set", &set], &[])
    };

    let r = apply("A");
    expect(&r, 0, "apply A");
    assert!(r.stdout.contains("release: (none) → A"), "{}", r.stdout);
    let r = apply("A");
    expect(&r, 0, "apply A again");
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
    let r = apply("B");
    expect(&r, 0, "apply B");
    assert!(r.stdout.contains("release: A → B"), "{}", r.stdout);
    assert!(r.stdout.contains("first run for release B"), "{}", r.stdout);

    assert_eq!(
        h.sh("cat /srv/app/migrations.log"),
        "migrated to A\nmigrated to B",
        "the migration ran exactly twice"
    );
    assert_eq!(h.sh("cat /srv/app/app.env"), "APP_VERSION=B");
    assert!(h.sh_ok(
        "test -f /srv/app/backups/data-before-A.db && test -f /srv/app/backups/data-before-B.db"
    ));
    assert_eq!(
        h.sh("stat -c '%a %U' /var/lib/keel/releases /var/lib/keel/releases/app.json"),
        "700 root\n600 root"
    );
    let record: serde_json::Value =
        serde_json::from_str(&h.sh("cat /var/lib/keel/releases/app.json")).unwrap();
    assert_eq!(record["release"], "B");
    assert_eq!(record["previous"], "A");

    let r = h.keel(
        &[
            "plan",
            "--detailed-exitcode",
            "-i",
            inv,
            stack,
            "--set",
            "release=B",
        ],
        &[],
    );
    expect(&r, 0, "plan at B after B");
    assert!(r.stdout.contains("release: B (unchanged)"), "{}", r.stdout);

    let r = h.keel(&["rollback", "--yes", "-i", inv, stack], &[]);
    expect(&r, 0, "rollback");
    assert!(r.stderr.contains("release B → A"), "{}", r.stderr);
    assert_eq!(h.sh("cat /srv/app/app.env"), "APP_VERSION=A");
    assert_eq!(
        h.sh("cat /srv/app/migrations.log"),
        "migrated to A\nmigrated to B",
        "A's migration already ran for A"
    );
}

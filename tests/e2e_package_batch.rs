//! End to end, over real SSH against a fresh Debian host in a container:
//! the package installs that are ready at the same point of the graph run
//! in one `apt-get install` (seen in `-v`'s log of what runs), each still
//! planned and reported on its own; a second apply changes nothing; and
//! when the batch fails, its packages are installed one by one so that the
//! failing one is named, without refreshing the package lists again in
//! the same run.

mod support;

use support::{Host, expect};

const THREE: &str = r#"name: batch
targets: [web]
resources:
  - package: { name: tree }
  - package: { name: bc }
  - package: { name: ed }
"#;

const WITH_BAD: &str = r#"name: batch
targets: [web]
resources:
  - package: { name: tree }
  - package: { name: cpio }
  - package: { name: keel-no-such-package }
"#;

/// The `run:` lines of `-v`'s log: what apply ran.
fn runs(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.split_once("run: ").map(|(_, r)| r))
        .map(|r| r.rsplit_once(" host=").map_or(r, |(r, _)| r))
        .collect()
}

#[test]
fn ready_packages_install_in_one_command() {
    let h = Host::start("pkgbatch");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    for p in ["tree", "bc", "ed", "cpio"] {
        h.sh(&format!("dpkg --purge {p} >/dev/null 2>&1 || true"));
        assert!(!h.sh_ok(&format!("dpkg -s {p} >/dev/null 2>&1")), "{p}");
    }

    let stack = h.write("three.yaml", THREE);
    let plan = h.keel(&["plan", "-i", inv, &stack], &[]);
    for p in ["tree", "bc", "ed"] {
        let want = format!("+ package[{p}]");
        assert!(plan.stdout.contains(&want), "{want}: {}", plan.stdout);
    }

    let apply = h.keel(&["apply", "--yes", "-v", "-i", inv, &stack], &[]);
    expect(&apply, 0, "apply of three packages");
    let ran = runs(&apply.stderr);
    for l in apply.stderr.lines().filter(|l| l.contains("applied in")) {
        eprintln!("first apply of three packages: {l}");
    }
    assert_eq!(
        ran,
        vec!["together: package[tree], package[bc], package[ed]"],
        "one install for all three: {}",
        apply.stderr
    );
    for p in ["tree", "bc", "ed"] {
        assert!(h.sh_ok(&format!("dpkg -s {p} >/dev/null")), "{p} installed");
        assert!(
            apply.stdout.contains(&format!("package[{p}]")),
            "{}",
            apply.stdout
        );
    }

    // A second apply changes nothing and runs nothing.
    h.expect_no_changes(inv, &stack, &[]);
    let again = h.keel(&["apply", "--yes", "-v", "-i", inv, &stack], &[]);
    expect(&again, 0, "second apply");
    assert!(runs(&again.stderr).is_empty(), "{}", again.stderr);

    // The batch fails on a package apt does not know: each is then
    // installed alone, the good one lands and the bad one is named.
    let bad = h.write("bad.yaml", WITH_BAD);
    let apply = h.keel(&["apply", "--yes", "-v", "-i", inv, &bad], &[]);
    expect(&apply, 1, "apply with a package that does not exist");
    let ran = runs(&apply.stderr);
    assert_eq!(
        ran,
        vec![
            "together: package[cpio], package[keel-no-such-package]",
            "install cpio",
            "install keel-no-such-package",
        ],
        "{}",
        apply.stderr
    );
    assert!(h.sh_ok("dpkg -s cpio >/dev/null"), "cpio installed alone");
    let all = format!("{}{}", apply.stdout, apply.stderr);
    assert!(
        all.contains("✗ package[keel-no-such-package]: exit status"),
        "the failing package is named: {all}"
    );
    assert!(!all.contains("✗ package[cpio]"), "{all}");
    assert!(all.contains("1 changed, 1 failed"), "{all}");
    // The first apply refreshed the lists: this run does not again.
    assert!(all.contains("refreshed in the last 10 minutes"), "{all}");
    assert!(!all.contains("running apt-get update"), "{all}");
}

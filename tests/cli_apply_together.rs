//! Apply in few round trips, through the real binary with the `local`
//! transport in a scratch directory (the local transport counts its runs
//! as SSH does): resources ready at the same point of the graph are
//! applied by one script, which also reads again what their changes make
//! ready; each resource is still reported on its own, and a failure is
//! attributed to the resource that failed and skips what depends on it.

mod support;

use std::path::Path;
use support::Keel;
use support::applied_round_trips as round_trips;

fn project(stack: &str) -> tempfile::TempDir {
    support::local_project(&[("stack.yaml", stack)])
}

fn apply(dir: &Path) -> (i32, String, String) {
    Keel::new()
        .current_dir(dir)
        .args(["apply", "--yes", "-v", "stack.yaml"])
        .run()
        .parts()
}

/// Three levels: `a`, `blocked/x.conf` and `top.conf` are ready at once;
/// `a/b` and `x.conf.d/y` after them; `a/b/c.conf` last.
const LEVELS: &str = r#"name: together
targets: [local]
resources:
  - directory: { path: "{{vars.root}}/a" }
  - directory: { path: "{{vars.root}}/a/b" }
  - file: { path: "{{vars.root}}/a/b/c.conf", content: "c\n" }
  - file: { path: "{{vars.root}}/x.conf", content: "x\n" }
  - file: { path: "{{vars.root}}/x.conf.d/y", content: "y\n", depends_on: ["file[{{vars.root}}/x.conf]"] }
  - file: { path: "{{vars.root}}/top.conf", content: "t\n" }
"#;

#[test]
fn one_script_per_point_of_the_graph() {
    let dir = project(LEVELS);
    let d = dir.path();
    let (code, out, err) = apply(d);
    assert_eq!(code, 0, "{out}{err}");
    // One script per level of the graph (each also reading the next
    // level's live state), then the verification: 4. Applied one by one,
    // with a re-probe before each resource whose ancestor changed: 10.
    assert_eq!(round_trips(&err), 4, "{err}");
    assert!(out.contains("6 changed, 0 failed"), "{out}");
    for (f, text) in [
        ("a/b/c.conf", "c\n"),
        ("x.conf.d/y", "y\n"),
        ("top.conf", "t\n"),
    ] {
        assert_eq!(
            std::fs::read_to_string(d.join("root").join(f)).unwrap(),
            text
        );
    }
    // What was read in the script is the truth: nothing left to do.
    let (code, out, err) = Keel::new()
        .current_dir(d)
        .args(["plan", "--detailed-exitcode", "stack.yaml"])
        .run()
        .parts();
    assert_eq!(code, 0, "{out}{err}");
}

/// In one script: `owned.conf` fails (its owner does not exist), so does
/// `x.conf` (its `validate` check rejects it; a file in the way of its
/// directory would be a plan error, not an apply failure); `top.conf`
/// still lands and `after.conf`, which needs `owned.conf`, is skipped.
const ONE_FAILS: &str = r#"name: together
targets: [local]
resources:
  - file: { path: "{{vars.root}}/owned.conf", content: "o\n", owner: keel-no-such-user }
  - file: { path: "{{vars.root}}/x.conf", content: "x\n", validate: "false %s" }
  - file: { path: "{{vars.root}}/top.conf", content: "t\n" }
  - file: { path: "{{vars.root}}/after.conf", content: "a\n", depends_on: ["file[{{vars.root}}/owned.conf]"] }
"#;

#[test]
fn a_failure_in_a_shared_script_is_its_own() {
    let dir = project(ONE_FAILS);
    let d = dir.path();
    let (code, out, err) = apply(d);
    assert_eq!(code, 1, "{out}{err}");
    let all = format!("{out}{err}");
    // The three ready resources ran in one script: one round trip, plus
    // the verification of the one that changed.
    assert_eq!(round_trips(&err), 2, "{err}");
    assert!(all.contains("1 changed, 2 failed, 1 skipped"), "{all}");
    assert!(
        all.contains("owned.conf]: exit status 1: chown: invalid user"),
        "{all}"
    );
    assert!(all.contains("x.conf]: exit status 1"), "{all}");
    assert!(!d.join("root/x.conf").exists(), "rejected by validate");
    assert!(
        !all.lines()
            .any(|l| l.contains('✗') && l.contains("top.conf")),
        "{all}"
    );
    assert!(all.contains("owned.conf] did not succeed"), "{all}");
    assert_eq!(
        std::fs::read_to_string(d.join("root/top.conf")).unwrap(),
        "t\n"
    );
    assert!(!d.join("root/after.conf").exists(), "skipped");
}

/// Two files and a command, all ready at once: the files share a script;
/// the command (shell text of the user, which may touch anything, behind a
/// guard that reads the host) runs alone.
const ALONE: &str = r#"name: together
targets: [local]
resources:
  - file: { path: "{{vars.root}}/one.conf", content: "1\n" }
  - file: { path: "{{vars.root}}/two.conf", content: "2\n" }
  - command:
      name: stamp
      run: "date > '{{vars.root}}/stamp'"
      creates: "{{vars.root}}/stamp"
"#;

#[test]
fn user_commands_run_alone() {
    let dir = project(ALONE);
    let d = dir.path();
    let (code, out, err) = apply(d);
    assert_eq!(code, 0, "{out}{err}");
    // The two files (1), the command (1), the verification (1).
    assert_eq!(round_trips(&err), 3, "{err}");
    assert!(d.join("root/stamp").exists());
    assert!(out.contains("3 changed, 0 failed"), "{out}");
}

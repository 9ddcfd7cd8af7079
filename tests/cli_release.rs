//! Releases through the real binary with the `local` transport, in a
//! scratch directory (the release records go to a `state_dir` inside it):
//! run-once steps run once per release, a failed one stays pending, the
//! plan shows the release change, and `keel rollback` goes back.

mod support;

use std::path::Path;
use support::Keel;

fn keel(dir: &Path, args: &[&str]) -> (i32, String, String) {
    Keel::new().current_dir(dir).args(args).run().parts()
}

/// A project whose stack deploys `{{release}}` with a backup and a
/// migration (run once per release, the migration after the backup); the
/// records go to a `state_dir` rendered from the host's vars.
fn project() -> tempfile::TempDir {
    const STACK: &str = r#"name: app
targets: [local]
release: "{{vars.release}}"
state_dir: "{{vars.root}}/state"
resources:
  - file: { path: "{{vars.root}}/VERSION", content: "{{release}}\n" }
  - command:
      name: backup
      run: "echo backup-{{release}} >> '{{vars.root}}/log'"
      once: release
  - command:
      name: migrate
      run: "echo migrate-{{release}} >> '{{vars.root}}/log'; test ! -e '{{vars.root}}/fail'"
      once: release
      depends_on: [ "command[backup]" ]
"#;
    support::local_project(&[("stack.yaml", STACK)])
}

fn log(d: &Path) -> String {
    std::fs::read_to_string(d.join("root/log")).unwrap_or_default()
}

#[test]
fn run_once_steps_follow_the_release_and_rollback_goes_back() {
    let dir = project();
    let d = dir.path();

    // Release A: the backup, then the migration.
    let (code, out, err) = keel(d, &["plan", "stack.yaml", "--set", "release=A"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("release: (none) → A"), "{out}");
    assert!(out.contains("first run for release A"), "{out}");
    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml", "--set", "release=A"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(log(d), "backup-A\nmigrate-A\n");
    assert_eq!(
        std::fs::read_to_string(d.join("root/VERSION")).unwrap(),
        "A\n"
    );

    // The same release again: nothing runs, nothing to do.
    let (code, out, err) = keel(
        d,
        &[
            "plan",
            "--detailed-exitcode",
            "stack.yaml",
            "--set",
            "release=A",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("release: A (unchanged)"), "{out}");
    let (code, out, err) = keel(d, &["plan", "--all", "stack.yaml", "--set", "release=A"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("already ran for release A"), "{out}");
    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml", "--set", "release=A"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        log(d),
        "backup-A\nmigrate-A\n",
        "a plain re-run runs nothing"
    );

    // Release B: the plan says so, human and JSON.
    let (code, out, err) = keel(
        d,
        &[
            "plan",
            "--detailed-exitcode",
            "stack.yaml",
            "--set",
            "release=B",
        ],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("release: A → B"), "{out}");
    assert!(out.contains("first run for release B"), "{out}");
    let (code, out, err) = keel(d, &["plan", "--json", "stack.yaml", "--set", "release=B"]);
    assert_eq!(code, 0, "{out}{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["hosts"][0]["release"]["before"], "A");
    assert_eq!(j["hosts"][0]["release"]["after"], "B");

    // A failing migration: the run fails, the release is not recorded, the
    // migration stays pending; the backup that succeeded does not run again.
    std::fs::write(d.join("root/fail"), "").unwrap();
    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml", "--set", "release=B"]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(log(d), "backup-A\nmigrate-A\nbackup-B\nmigrate-B\n");
    let (_, out, _) = keel(d, &["plan", "stack.yaml", "--set", "release=B"]);
    assert!(out.contains("release: A → B"), "still A on the host: {out}");
    assert!(out.contains("command[migrate]"), "{out}");
    std::fs::remove_file(d.join("root/fail")).unwrap();
    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml", "--set", "release=B"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        log(d),
        "backup-A\nmigrate-A\nbackup-B\nmigrate-B\nmigrate-B\n"
    );
    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml", "--set", "release=B"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        log(d).matches("migrate-B").count(),
        2,
        "not again once it succeeded"
    );

    // The record on the host: B, previous A, root-only.
    let rec = d.join("root/state/releases/app.json");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&rec).unwrap()).unwrap();
    assert_eq!(
        (r["release"].as_str(), r["previous"].as_str()),
        (Some("B"), Some("A"))
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&rec).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(d.join("root/state/releases"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );

    // Rollback: back to A, saying so; A's steps already ran for A.
    let (code, out, err) = keel(d, &["rollback", "--yes", "stack.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("release B → A"), "{err}");
    assert!(out.contains("release: B → A"), "{out}");
    assert_eq!(
        std::fs::read_to_string(d.join("root/VERSION")).unwrap(),
        "A\n"
    );
    assert_eq!(log(d).matches("migrate-A").count(), 1, "{}", log(d));
    let (_, out, _) = keel(d, &["plan", "stack.yaml", "--set", "release=A"]);
    assert!(out.contains("release: A (unchanged)"), "{out}");
}

#[test]
fn rollback_without_a_previous_release_changes_nothing() {
    let dir = project();
    let d = dir.path();
    let (code, _, err) = keel(d, &["rollback", "--yes", "stack.yaml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no release of stack `app` is recorded"),
        "{err}"
    );
    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml", "--set", "release=A"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = keel(d, &["rollback", "--yes", "stack.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("no previous release"), "{err}");
    assert_eq!(log(d), "backup-A\nmigrate-A\n");
}

#[test]
fn release_errors_are_clear() {
    let dir = project();
    let d = dir.path();
    // No value for the release.
    let (code, _, err) = keel(d, &["validate", "stack.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("release"), "{err}");
    // A value that is not a version.
    let (code, _, err) = keel(d, &["validate", "stack.yaml", "--set", "release=a b"]);
    assert_eq!(code, 1);
    assert!(err.contains("the release `a b` contains ` `"), "{err}");
    let (code, out, err) = keel(d, &["validate", "stack.yaml", "--set", "release=v1.2"]);
    assert_eq!(code, 0, "{out}{err}");
    // Not KEY=VALUE.
    let (code, _, err) = keel(d, &["validate", "stack.yaml", "--set", "release"]);
    assert_eq!(code, 1);
    assert!(err.contains("is not KEY=VALUE"), "{err}");
    // A stack name that cannot name the record; a relative state_dir.
    std::fs::write(
        d.join("bad.yaml"),
        "name: my app\ntargets: [local]\nrelease: v1\nstate_dir: var/keel\nresources: []\n",
    )
    .unwrap();
    let (code, _, err) = keel(d, &["validate", "bad.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("needs a name usable as a file name"), "{err}");
    assert!(
        err.contains("`state_dir` must be an absolute path"),
        "{err}"
    );
    // `once: release` in a stack without a release.
    std::fs::write(
        d.join("plain.yaml"),
        "name: plain\ntargets: [local]\nresources:\n  - command: { run: 'true', once: release }\n",
    )
    .unwrap();
    let (code, _, err) = keel(d, &["validate", "plain.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("`once: release` needs a release"), "{err}");
    // `{{release}}` in a stack without a release.
    std::fs::write(
        d.join("plain.yaml"),
        "name: plain\ntargets: [local]\nresources:\n  - file: { path: /tmp/x, content: '{{release}}' }\n",
    )
    .unwrap();
    let (code, _, err) = keel(d, &["validate", "plain.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("when the stack declares `release:`"), "{err}");
}

#[test]
fn a_saved_plan_keeps_its_release_and_refuses_a_changed_record() {
    let dir = project();
    let d = dir.path();
    let (code, out, err) = keel(
        d,
        &[
            "plan",
            "--out",
            "b.json",
            "stack.yaml",
            "--set",
            "release=B",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    // The record changes under the saved plan (another run applied A).
    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml", "--set", "release=A"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = keel(d, &["apply", "b.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("changed since the plan was made"), "{err}");
    // A fresh saved plan is applied with the release it was made with.
    let (code, out, err) = keel(
        d,
        &[
            "plan",
            "--out",
            "b.json",
            "stack.yaml",
            "--set",
            "release=B",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = keel(d, &["apply", "b.json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("release: A → B"), "{out}");
    assert_eq!(
        std::fs::read_to_string(d.join("root/VERSION")).unwrap(),
        "B\n"
    );
    assert_eq!(log(d), "backup-A\nmigrate-A\nbackup-B\nmigrate-B\n");
}

//! Rollouts across hosts through the real binary, on three `local`
//! hosts (each its own scratch folder): `serial:` batches shown in the
//! plan (text and JSON), a batch's failed check stopping the run before
//! the next batch (the rest reported as not applied), `max_fail:`
//! letting the run go on, and bad values refused at their line.

mod support;

use std::path::Path;
use support::Keel;

fn keel(dir: &Path, args: &[&str]) -> (i32, String, String) {
    Keel::new().current_dir(dir).args(args).run().parts()
}

/// Three local hosts `web-1`..`web-3`, each with its `root` folder; the
/// check `healthy` fails on `web-2`. `settings` go at the top of the stack.
fn project(settings: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = String::from("hosts:\n");
    for i in 1..=3 {
        let root = dir.path().join(format!("web-{i}"));
        std::fs::create_dir_all(&root).unwrap();
        let healthy = if i == 2 { "no" } else { "yes" };
        inv.push_str(&format!(
            "  web-{i}:\n    transport: local\n    vars:\n      root: \"{}\"\n      healthy: {healthy}\n",
            root.display()
        ));
    }
    inv.push_str("groups:\n  web:\n    hosts: [web-1, web-2, web-3]\n");
    std::fs::write(dir.path().join("inventory.yaml"), inv).unwrap();
    let stack = format!(
        r#"name: app
targets: [web]
{settings}resources:
  - file: {{ path: "{{{{vars.root}}}}/app.conf", content: "v2\n" }}
  - check: {{ name: healthy, command: "test '{{{{vars.healthy}}}}' = yes" }}
"#
    );
    std::fs::write(dir.path().join("stack.yaml"), stack).unwrap();
    dir
}

fn applied(dir: &Path, host: &str) -> bool {
    dir.join(host).join("app.conf").exists()
}

#[test]
fn the_plan_shows_the_batches() {
    let dir = project("serial: 2\n");
    let (code, out, err) = keel(dir.path(), &["plan", "stack.yaml"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("batch 1/2: web-1, web-2\n"), "{out}");
    assert!(out.contains("batch 2/2: web-3\n"), "{out}");

    let (code, out, err) = keel(dir.path(), &["plan", "--json", "stack.yaml"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["batches"],
        serde_json::json!([["web-1", "web-2"], ["web-3"]])
    );

    let dir = project("serial: \"30%\"\n");
    let (_, out, _) = keel(dir.path(), &["plan", "stack.yaml"]);
    assert!(
        out.contains("batch 3/3: web-3\n"),
        "30% of 3 rounds up to 1: {out}"
    );

    let dir = project("");
    let (_, out, _) = keel(dir.path(), &["plan", "--json", "stack.yaml"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v.get("batches").is_none(), "no serial, no batches: {out}");
}

#[test]
fn a_failed_check_stops_the_rollout_before_the_next_batch() {
    let dir = project("serial: 1\n");
    let d = dir.path();
    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(applied(d, "web-1") && applied(d, "web-2"), "{out}\n{err}");
    assert!(
        !applied(d, "web-3"),
        "web-3 must be untouched: {out}\n{err}"
    );
    assert!(out.contains("check[healthy] on web-2"), "{out}");
    assert!(
        out.contains(
            "not applied: the rollout stopped after batch 2/3: 1 host failed, max_fail allows 0"
        ),
        "{out}"
    );
}

#[test]
fn without_serial_every_host_is_applied() {
    let dir = project("");
    let d = dir.path();
    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml"]);
    assert_eq!(code, 1, "the check fails on web-2: {out}\n{err}");
    assert!(applied(d, "web-3"), "{out}\n{err}");
}

#[test]
fn max_fail_lets_the_rollout_go_on() {
    let dir = project("serial: 1\nmax_fail: 1\n");
    let d = dir.path();
    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        applied(d, "web-3"),
        "one failure is tolerated: {out}\n{err}"
    );
    assert!(!out.contains("not applied"), "{out}");
}

#[test]
fn bad_values_are_refused_at_their_line() {
    for (settings, want) in [
        ("serial: 0\n", "`serial` must let at least one host change"),
        ("serial: \"150%\"\n", "more than 100%"),
        ("max_fail: -1\n", "`max_fail`: -1 is negative"),
    ] {
        let dir = project(settings);
        let (code, out, err) = keel(dir.path(), &["plan", "stack.yaml"]);
        assert_eq!(code, 1, "{settings}: {out}\n{err}");
        assert!(err.contains(want), "{settings}: {err}");
        assert!(err.contains("stack.yaml:3"), "{settings}: {err}");
    }
}

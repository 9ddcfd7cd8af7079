//! Pruning through the real binary with the `local` transport, in a
//! scratch directory (the ledgers go to a `state_dir` inside it): a file
//! removed from the stack is removed from the host, a file keel did not
//! create is left alone, a corrupt ledger prunes nothing (with a warning),
//! an address claimed by two stacks' ledgers is a plan error, and a file
//! changed by hand since keel wrote it is removed only with
//! `--force-prune` or the stack's `prune: force`; a saved plan records
//! `--force-prune` and `--allow-lockout-risk` and applies as it was saved;
//! `keel drift` reports such a refused removal as drift (exit 2).

mod support;

use std::path::Path;

fn keel(dir: &Path, args: &[&str]) -> (i32, String, String) {
    support::keel_in(dir, args)
}

/// A project with `root/` for the managed files; `stack(name, files)`
/// writes `NAME.yaml` declaring those files (under `root/`).
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("root")).unwrap();
    let inv = format!(
        "hosts:\n  here:\n    transport: local\n    vars:\n      root: \"{}\"\ngroups:\n  local:\n    hosts: [here]\n",
        dir.path().join("root").display()
    );
    std::fs::write(dir.path().join("inventory.yaml"), inv).unwrap();
    dir
}

fn stack(d: &Path, name: &str, files: &[&str]) {
    let mut s = format!(
        "name: {name}\ntargets: [local]\nstate_dir: \"{{{{vars.root}}}}/state\"\nresources:\n"
    );
    for f in files {
        s.push_str(&format!(
            "  - file: {{ path: \"{{{{vars.root}}}}/{f}\", content: \"{f}\\n\" }}\n"
        ));
    }
    if files.is_empty() {
        s.push_str("  - file: { path: \"{{vars.root}}/keep\", content: \"keep\\n\" }\n");
    }
    std::fs::write(d.join(format!("{name}.yaml")), s).unwrap();
}

fn apply(d: &Path, name: &str) -> String {
    let (code, out, err) = keel(d, &["apply", &format!("{name}.yaml"), "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    out
}

#[test]
fn removed_files_are_pruned_and_hand_made_ones_are_left() {
    let dir = project();
    let d = dir.path();
    let root = d.join("root");
    // `b` was there before keel: the stack manages it but did not create it.
    std::fs::write(root.join("b"), "by hand\n").unwrap();
    std::fs::write(root.join("other"), "by hand\n").unwrap();
    stack(d, "app", &["a", "b"]);
    apply(d, "app");
    let ledger = std::fs::read_to_string(root.join("state/ledger/app.json")).unwrap();
    assert!(ledger.contains("/a]"), "{ledger}");

    stack(d, "app", &["c"]);
    let (code, out, err) = keel(d, &["plan", "app.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    let a = format!("- file[{}]", root.join("a").display());
    let b = format!("file[{}]", root.join("b").display());
    assert!(out.contains(&a), "{out}");
    assert!(!out.contains(&b), "{out}");
    assert!(!out.contains("other"), "{out}");
    apply(d, "app");
    assert!(!root.join("a").exists());
    assert_eq!(std::fs::read_to_string(root.join("b")).unwrap(), "b\n");
    assert!(root.join("other").exists());
    assert!(root.join("c").exists());

    // Once pruned, nothing is left to remove.
    let (_, out, _) = keel(d, &["plan", "app.yaml"]);
    assert!(!out.contains("- file["), "{out}");
}

#[test]
fn a_corrupt_ledger_prunes_nothing_and_warns() {
    let dir = project();
    let d = dir.path();
    let root = d.join("root");
    stack(d, "app", &["a"]);
    apply(d, "app");
    let ledger = root.join("state/ledger/app.json");
    std::fs::write(&ledger, "{ not json").unwrap();
    stack(d, "app", &["c"]);
    let (code, out, err) = keel(d, &["plan", "app.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("- file["), "{out}");
    assert!(err.contains(&ledger.display().to_string()), "{err}");
    apply(d, "app");
    assert!(root.join("a").exists());
    // The apply wrote a good ledger again.
    let text = std::fs::read_to_string(&ledger).unwrap();
    assert!(text.contains("/c]") && !text.contains("/a]"), "{text}");
}

#[test]
fn two_stacks_keep_separate_ledgers_and_cannot_share_a_resource() {
    let dir = project();
    let d = dir.path();
    let root = d.join("root");
    stack(d, "one", &["a"]);
    stack(d, "two", &["b"]);
    apply(d, "one");
    apply(d, "two");
    assert!(root.join("state/ledger/one.json").exists());
    assert!(root.join("state/ledger/two.json").exists());
    // Applying `two` did not prune what `one` manages.
    assert!(root.join("a").exists());

    stack(d, "two", &["b", "a"]);
    let (code, out, err) = keel(d, &["plan", "two.yaml"]);
    assert_ne!(code, 0, "{out}{err}");
    let all = format!("{out}{err}");
    assert!(
        all.contains("claimed by two stacks") && all.contains("`one`") && all.contains("`two`"),
        "{all}"
    );
}

#[test]
fn a_file_changed_by_hand_is_pruned_only_with_force() {
    let dir = project();
    let d = dir.path();
    let root = d.join("root");
    stack(d, "app", &["a", "b"]);
    apply(d, "app");
    std::fs::write(root.join("a"), "edited by hand\n").unwrap();
    stack(d, "app", &["c"]);

    // The plan refuses, naming the file and what to do; apply changes nothing.
    let a = format!("file[{}]", root.join("a").display());
    for cmd in [&["plan", "app.yaml"][..], &["apply", "app.yaml", "--yes"]] {
        let (code, out, err) = keel(d, cmd);
        assert_eq!(code, 1, "{cmd:?}: {out}{err}");
        let all = format!("{out}{err}");
        assert!(all.contains(&a), "{all}");
        assert!(
            all.contains("changed by hand") && all.contains("--force-prune"),
            "{all}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(root.join("a")).unwrap(),
        "edited by hand\n"
    );
    assert!(root.join("b").exists() && !root.join("c").exists());

    // With --force-prune: both go (`b` was not changed), `c` is created.
    let (code, out, err) = keel(d, &["plan", "app.yaml", "--force-prune"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("- {a}")), "{out}");
    let (code, out, err) = keel(d, &["apply", "app.yaml", "--yes", "--force-prune"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!root.join("a").exists() && !root.join("b").exists());
    assert!(root.join("c").exists());
}

#[test]
fn prune_force_in_the_stack_acts_as_the_flag() {
    let dir = project();
    let d = dir.path();
    let root = d.join("root");
    stack(d, "app", &["a"]);
    apply(d, "app");
    std::fs::write(root.join("a"), "edited by hand\n").unwrap();
    stack(d, "app", &["c"]);
    let text = std::fs::read_to_string(d.join("app.yaml")).unwrap();

    // Any other value is an error naming the file and the line.
    let bad = text.replacen("targets:", "prune: always\ntargets:", 1);
    std::fs::write(d.join("app.yaml"), bad).unwrap();
    let (code, out, err) = keel(d, &["plan", "app.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("app.yaml:2") && err.contains("always") && err.contains("force"),
        "{err}"
    );

    // `prune: force`: the file changed by hand goes without the flag.
    let forced = text.replacen("targets:", "prune: force\ntargets:", 1);
    std::fs::write(d.join("app.yaml"), forced).unwrap();
    let a = format!("file[{}]", root.join("a").display());
    let (code, out, err) = keel(d, &["plan", "app.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("- {a}")), "{out}");
    apply(d, "app");
    assert!(!root.join("a").exists() && root.join("c").exists());
}

#[test]
fn imported_files_are_recorded_unchanged_and_pruned_later() {
    let dir = project();
    let d = dir.path();
    let root = d.join("root");
    // `b` predates keel; `a` does not exist yet.
    std::fs::write(root.join("b"), "by hand\n").unwrap();
    stack(d, "app", &["a", "b"]);
    let (code, out, err) = keel(d, &["import", "app.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    let a = format!("file[{}]", root.join("a").display());
    let b = format!("file[{}]", root.join("b").display());
    assert!(out.contains("recorded 1 resource(s)"), "{out}");
    assert!(out.contains(&format!("= {b}")), "{out}");
    assert!(out.contains(&format!("+ {a}")), "{out}");
    // Nothing changed but the ledger.
    assert!(!root.join("a").exists());
    assert_eq!(
        std::fs::read_to_string(root.join("b")).unwrap(),
        "by hand\n"
    );
    let ledger = std::fs::read_to_string(root.join("state/ledger/app.json")).unwrap();
    assert!(
        ledger.contains("/b]") && !ledger.contains("/a]"),
        "{ledger}"
    );

    // Removed from the stack before any apply: handed to keel, so pruned.
    stack(d, "app", &["c"]);
    let (code, out, err) = keel(d, &["plan", "app.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("- {b}")), "{out}");
    apply(d, "app");
    assert!(!root.join("b").exists());
}

/// `app` applied with `a` and `b`, then `a` changed by hand and the stack
/// changed to declare `c` alone: pruning `a` needs `--force-prune`.
fn changed_by_hand_then_dropped(d: &Path) {
    stack(d, "app", &["a", "b"]);
    apply(d, "app");
    std::fs::write(d.join("root/a"), "edited by hand\n").unwrap();
    stack(d, "app", &["c"]);
}

#[test]
fn a_saved_plan_made_with_force_prune_applies_as_shown() {
    let dir = project();
    let d = dir.path();
    let root = d.join("root");
    changed_by_hand_then_dropped(d);
    let a = format!("file[{}]", root.join("a").display());
    let (code, out, err) = keel(
        d,
        &["plan", "app.yaml", "--force-prune", "--out", "plan.json"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("- {a}")), "{out}");

    // Applied without repeating the flag: as the plan showed it.
    let (code, out, err) = keel(d, &["apply", "plan.json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("choices:   --force-prune"), "{err}");
    assert!(!root.join("a").exists() && !root.join("b").exists());
    assert!(root.join("c").exists());
    // The choice is in the file, for `jq` and review.
    let saved = std::fs::read_to_string(d.join("plan.json")).unwrap();
    assert!(saved.contains("\"force_prune\": true"), "{saved}");
}

#[test]
fn a_saved_plan_refuses_flags_it_was_not_made_with() {
    let dir = project();
    let d = dir.path();
    let root = d.join("root");
    changed_by_hand_then_dropped(d);
    // Saved without --force-prune: the plan shows the removal refused.
    let (code, out, err) = keel(d, &["plan", "app.yaml", "--out", "plan.json"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        format!("{out}{err}").contains("changed by hand"),
        "{out}{err}"
    );
    for flag in ["--force-prune", "--allow-lockout-risk"] {
        let (code, out, err) = keel(d, &["apply", "plan.json", flag]);
        assert_eq!(code, 1, "{flag}: {out}{err}");
        assert!(
            err.contains(&format!("was saved without {flag}"))
                && err.contains(&format!("keel plan {flag} --out")),
            "{flag}: {err}"
        );
    }
    // Nothing was applied: the file changed by hand is still there.
    assert_eq!(
        std::fs::read_to_string(root.join("a")).unwrap(),
        "edited by hand\n"
    );
    assert!(root.join("b").exists() && !root.join("c").exists());

    // Made with a flag, repeating it at apply agrees with the plan.
    let (code, out, err) = keel(
        d,
        &[
            "plan",
            "app.yaml",
            "--force-prune",
            "--allow-lockout-risk",
            "--out",
            "forced.json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = keel(d, &["apply", "forced.json", "--force-prune"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("choices:   --force-prune --allow-lockout-risk"),
        "{err}"
    );
    assert!(!root.join("a").exists() && root.join("c").exists());
}

#[test]
fn drift_reports_a_refused_prune_as_drift() {
    let dir = project();
    let d = dir.path();
    let root = d.join("root");
    changed_by_hand_then_dropped(d);
    let a = format!("file[{}]", root.join("a").display());

    let (code, out, err) = keel(d, &["drift", "app.yaml", "--format", "json"]);
    assert_eq!(code, 2, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        (&doc["drift"], &doc["error"]),
        (&true.into(), &false.into())
    );
    let sum = &doc["summary"];
    assert_eq!(
        [
            &sum["hosts_drifted"],
            &sum["hosts_error"],
            &sum["resources_error"]
        ],
        [1, 0, 0].map(serde_json::Value::from).each_ref(),
        "{sum}"
    );
    // `b` and `a` pruned, `c` to create.
    assert_eq!(sum["resources_drifted"], 3, "{sum}");
    let host = &doc["stacks"][0]["hosts"][0];
    assert_eq!(
        (&host["status"], &host["error"], &host["errors"]),
        (&"drift".into(), &serde_json::Value::Null, &0.into()),
        "{host}"
    );
    let res = host["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == a.as_str())
        .unwrap_or_else(|| panic!("{a} listed: {host}"));
    assert_eq!(
        (&res["status"], &res["action"], &res["error"]),
        (&"drift".into(), &"delete".into(), &serde_json::Value::Null),
        "{res}"
    );
    // No line declares it any more: no `file`/`line`, marked pruned.
    assert_eq!(
        (&res["pruned"], &res["file"], &res["line"]),
        (
            &true.into(),
            &serde_json::Value::Null,
            &serde_json::Value::Null
        ),
        "{res}"
    );
    let detail = res["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("changed by hand") && detail.contains("--force-prune"),
        "{res}"
    );

    // The human report lists it with the reason, exit 2 too.
    let (code, out, err) = keel(d, &["drift", "app.yaml"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains(&a) && out.contains("changed by hand"), "{out}");
    assert!(
        out.contains(&format!("{a}  (no longer in the stack)"))
            && out.contains("keel created it and the stack no longer declares it")
            && !out.contains("app.yaml:1\n"),
        "{out}"
    );

    // Anything else that cannot be checked is still an error: exit 1.
    std::fs::create_dir(root.join("dir")).unwrap();
    let text = std::fs::read_to_string(d.join("app.yaml")).unwrap();
    std::fs::write(
        d.join("app.yaml"),
        text + "  - file: { path: \"{{vars.root}}/dir\", content: \"x\" }\n",
    )
    .unwrap();
    let (code, out, err) = keel(d, &["drift", "app.yaml", "--format", "json"]);
    assert_eq!(code, 1, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(doc["summary"]["resources_error"], 1, "{doc}");
    let host = &doc["stacks"][0]["hosts"][0];
    let status = |addr: &str| {
        host["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == addr)
            .map(|r| r["status"].clone())
    };
    assert_eq!(status(&a), Some("drift".into()), "{host}");
    let dir_addr = format!("file[{}]", root.join("dir").display());
    assert_eq!(status(&dir_addr), Some("error".into()), "{host}");
}

//! Saved plans through the real binary, with the `local` transport in a
//! scratch directory: a plan is applied only as it was saved (any edited
//! byte, a stack path pointed at another stack, a changed stack file are
//! refused, naming what changed), and the plan file is written privately
//! (mode 0600, no symlink followed).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn keel(dir: &Path, args: &[&str]) -> (i32, String, String) {
    support::keel_in(dir, args)
}

const GOOD: &str = r#"name: good
targets: [local]
uses:
  - module: motd
resources:
  - file:
      path: "{{vars.root}}/app.conf"
      template: app.conf.hbs
"#;

const EVIL: &str = r#"name: evil
targets: [local]
resources:
  - command:
      name: pwn
      run: "touch '{{vars.root}}/pwned'"
      creates: "{{vars.root}}/pwned"
"#;

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("root")).unwrap();
    let files = [
        (
            "inventory.yaml".to_string(),
            format!(
                "hosts:\n  here:\n    transport: local\n    vars:\n      root: \"{}\"\ngroups:\n  local:\n    hosts: [here]\n",
                d.join("root").display()
            ),
        ),
        ("stack.yaml".into(), GOOD.into()),
        ("evil.yaml".into(), EVIL.into()),
        ("templates/app.conf.hbs".into(), "port = 8080\n".into()),
        (
            "modules/motd/module.yaml".into(),
            "resources:\n  - file: { path: \"{{vars.root}}/motd\", template: motd.hbs }\n".into(),
        ),
        ("modules/motd/templates/motd.hbs".into(), "hello\n".into()),
    ];
    for (name, text) in files {
        let p = d.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn plan_out(d: &Path) {
    let (code, out, err) = keel(d, &["plan", "--out", "plan.json", "stack.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
}

fn nothing_applied(d: &Path) {
    assert!(!d.join("root/app.conf").exists(), "app.conf was written");
    assert!(!d.join("root/pwned").exists(), "the other stack ran");
}

#[test]
fn a_saved_plan_applies_and_says_what_and_from_where() {
    let dir = project();
    let d = dir.path();
    plan_out(d);
    let (code, out, err) = keel(d, &["apply", "plan.json"]);
    assert_eq!(code, 0, "{out}{err}");
    let stack = std::fs::canonicalize(d).unwrap().join("stack.yaml");
    assert!(
        err.contains("Applying the saved plan plan.json")
            && err.contains(&format!("stack:     {}", stack.display()))
            && err.contains("inventory: ")
            && err.contains("hosts:     here")
            && err.contains("2 to create"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("root/app.conf")).unwrap(),
        "port = 8080\n"
    );
}

#[test]
fn a_plan_edited_by_one_byte_is_refused() {
    let dir = project();
    let d = dir.path();
    plan_out(d);
    let text = std::fs::read_to_string(d.join("plan.json")).unwrap();
    // One byte: the stack's name `good` becomes `gooe`.
    let edited = text.replacen("\"stack\": \"good\"", "\"stack\": \"gooe\"", 1);
    assert_ne!(edited, text);
    std::fs::write(d.join("plan.json"), edited).unwrap();
    let (code, out, err) = keel(d, &["apply", "plan.json"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("was modified after `keel plan` saved it"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    nothing_applied(d);
}

#[test]
fn a_plan_pointed_at_another_stack_is_refused() {
    let dir = project();
    let d = dir.path();
    plan_out(d);
    // A forgery that passes every check but the seal: the stack path of
    // another stack, with that stack's own per-host plans (hashes and
    // fingerprints as `keel plan --json` prints them).
    let (code, evil_json, err) = keel(d, &["plan", "--json", "evil.yaml"]);
    assert_eq!(code, 0, "{err}");
    let evil: serde_json::Value = serde_json::from_str(&evil_json).unwrap();
    let mut forged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("plan.json")).unwrap()).unwrap();
    for key in ["stack", "stack_path", "hosts", "summary", "changes"] {
        forged[key] = evil[key].clone();
    }
    // The original seal kept as the file's first key.
    let seal = forged["seal"].as_str().unwrap().to_string();
    forged.as_object_mut().unwrap().remove("seal");
    let body = serde_json::to_string_pretty(&forged).unwrap();
    std::fs::write(
        d.join("plan.json"),
        format!("{{\n  \"seal\": \"{seal}\",\n{}\n", &body[2..]),
    )
    .unwrap();
    let (code, out, err) = keel(d, &["apply", "plan.json"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("refusing to apply plan.json") && err.contains("was modified after"),
        "{err}"
    );
    nothing_applied(d);
}

#[test]
fn a_plan_whose_stack_files_changed_is_refused_naming_the_file() {
    for changed in ["templates/app.conf.hbs", "modules/motd/module.yaml"] {
        let dir = project();
        let d = dir.path();
        plan_out(d);
        let p = d.join(changed);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(
            &p,
            text.replace("8080", "9090").replace("motd\"", "motd2\""),
        )
        .unwrap();
        let (code, out, err) = keel(d, &["apply", "plan.json"]);
        assert_eq!(code, 1, "{changed}: {out}{err}");
        let abs = std::fs::canonicalize(&p).unwrap();
        assert!(
            err.contains(&format!(
                "{} changed since the plan was made",
                abs.display()
            )),
            "{changed}: {err}"
        );
        nothing_applied(d);
    }
}

#[test]
fn the_plan_file_is_private_and_no_symlink_is_followed() {
    let dir = project();
    let d = dir.path();
    let victim = d.join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    // The temp path keel used to write through, and the target itself.
    std::os::unix::fs::symlink(&victim, d.join("plan.tmp")).unwrap();
    std::os::unix::fs::symlink(&victim, d.join("plan.json")).unwrap();
    plan_out(d);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let meta = std::fs::symlink_metadata(d.join("plan.json")).unwrap();
    assert!(meta.file_type().is_file(), "the symlink was replaced");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") && n != "plan.tmp")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_saved_plan_refuses_inventory_and_limit_flags() {
    let dir = project();
    let d = dir.path();
    plan_out(d);
    let (code, _, err) = keel(d, &["apply", "--limit", "here", "plan.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("records its own inventory and limit"), "{err}");
    nothing_applied(d);
}

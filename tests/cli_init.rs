//! `keel init` through the real binary: the new project validates at once,
//! carries the editor schema line and a `.gitignore` keeping secrets and
//! `.keel/` out, takes the hosts of a sandbox that is up, and never
//! overwrites a file.

mod support;

use keel::Node;
use std::fs;
use std::path::Path;
use support::{Keel, expect};

fn init(dir: &Path) -> support::Run {
    Keel::new().args(["init"]).arg(dir).run()
}

#[test]
fn new_project_validates_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("proj");
    expect(&init(&dir), 0, "keel init");
    for f in [
        "inventory.yaml",
        "stacks/site.yaml",
        "modules/example/module.yaml",
        ".gitignore",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let run = Keel::new()
        .args(["validate", "stacks/site.yaml"])
        .current_dir(&dir)
        .run();
    expect(&run, 0, "keel validate of the new project");
    assert!(run.stdout.contains("is valid"), "{}", run.stdout);
    // The module is used: its resource is part of the stack.
    let run = Keel::new()
        .args(["graph", "stacks/site.yaml"])
        .current_dir(&dir)
        .run();
    expect(&run, 0, "keel graph");
    assert!(run.stdout.contains("file[/etc/motd]"), "{}", run.stdout);
}

#[test]
fn files_carry_the_schema_line_and_match_their_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    expect(&init(dir), 0, "keel init");
    for (file, schema) in [
        ("stacks/site.yaml", "../.keel/stack.schema.json"),
        (
            "modules/example/module.yaml",
            "../../.keel/module.schema.json",
        ),
        ("inventory.yaml", ".keel/inventory.schema.json"),
    ] {
        let text = fs::read_to_string(dir.join(file)).unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(first, format!("# yaml-language-server: $schema={schema}"));
        let target = dir.join(file).parent().unwrap().join(schema);
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&target).unwrap()).unwrap();
        let validator = jsonschema::validator_for(&json).expect("a JSON Schema");
        let instance = Node::parse(&text).expect("YAML").to_json();
        let problems: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{file}: {e} at {}", e.instance_path()))
            .collect();
        assert!(problems.is_empty(), "{problems:#?}");
    }
}

#[test]
fn gitignore_keeps_secrets_and_keel_state_out() {
    let tmp = tempfile::tempdir().unwrap();
    expect(&init(tmp.path()), 0, "keel init");
    let text = fs::read_to_string(tmp.path().join(".gitignore")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.contains(&".keel/"), "{text}");
    assert!(lines.contains(&"secrets/"), "{text}");
}

#[test]
fn refuses_to_overwrite_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::write(dir.join("inventory.yaml"), "mine\n").unwrap();
    let run = init(dir);
    expect(&run, 1, "keel init over an inventory");
    assert!(run.stderr.contains("not overwriting"), "{}", run.stderr);
    assert!(run.stderr.contains("inventory.yaml"), "{}", run.stderr);
    assert_eq!(
        fs::read_to_string(dir.join("inventory.yaml")).unwrap(),
        "mine\n"
    );
    assert!(!dir.join("stacks").exists(), "wrote files anyway");
    assert!(!dir.join(".gitignore").exists(), "wrote files anyway");
}

#[test]
fn takes_the_hosts_of_a_sandbox_that_is_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::create_dir_all(dir.join(".keel/sandbox")).unwrap();
    fs::write(
        dir.join(".keel/sandbox/inventory.yaml"),
        "hosts:\n  sandbox1:\n    address: \"10.231.9.11\"\n    user: root\ngroups:\n  sandbox:\n    hosts: [sandbox1]\n",
    )
    .unwrap();
    expect(&init(dir), 0, "keel init beside a sandbox");
    let text = fs::read_to_string(dir.join("inventory.yaml")).unwrap();
    assert!(text.contains("10.231.9.11"), "{text}");
    assert!(!text.contains("203.0.113.10"), "{text}");
    let run = Keel::new()
        .args(["validate", "stacks/site.yaml"])
        .current_dir(dir)
        .run();
    expect(&run, 0, "keel validate");
    assert!(run.stdout.contains("1 host"), "{}", run.stdout);
}

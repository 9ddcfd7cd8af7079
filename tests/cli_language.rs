//! The stack language through the real binary with the `local` transport:
//! loops (`for_each:`), conditions (`when:`) and typed values (a string
//! that is exactly one expression keeps its value's type), applied in a
//! scratch directory and planned again. Their bad input is in the
//! diagnostics corpus (`tests/cli/broken/for-each-*`, `when-*`).

mod support;

use std::path::Path;
use support::Keel;

fn keel(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    Keel::new()
        .current_dir(dir)
        .args(args)
        .env("KEEL_KEY_FILE", dir.join("machine.key"))
        .envs(env)
        .run()
        .parts()
}

/// A scratch project: `root/` for what the stack manages, an inventory
/// with one local host (in groups `local` and `web`), and `files`.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let inv = format!(
        "hosts:\n  here:\n    transport: local\n    vars:\n      root: \"{}\"\ngroups:\n  local:\n    hosts: [here]\n  web:\n    hosts: [here]\n",
        root.display()
    );
    std::fs::write(dir.path().join("inventory.yaml"), inv).unwrap();
    write(dir.path(), files);
    dir
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

const SITE: &str = r#"inputs:
  name: { type: string, required: true }
  keys: { type: list, default: [] }
resources:
  - file:
      path: "{{vars.root}}/sites/{{inputs.name}}"
      content: "{{inputs.name}}\n"
  - file:
      for_each: "{{inputs.keys}}"
      path: "{{vars.root}}/sites/{{inputs.name}}.{{each.value}}"
      content: "key {{each.value}}\n"
"#;

fn stack(dirs: &str, sites: &str) -> String {
    format!(
        r#"name: lang
targets: [local]
vars:
  dirs: {dirs}
  sites: {sites}
  ports: [80, 443]
resources:
  - directory: {{ path: "{{{{vars.root}}}}/sites" }}
  - directory:
      for_each: "{{{{vars.dirs}}}}"
      path: "{{{{vars.root}}}}/{{{{each.value}}}}"
  - file:
      for_each: {{ one: 1, two: 2 }}
      path: "{{{{vars.root}}}}/{{{{each.key}}}}"
      content: "{{{{each.value}}}}\n"
      when: "{{{{ne each.key 'two'}}}}"
  - file:
      id: other-os
      path: "{{{{vars.root}}}}/other-os"
      content: "not here\n"
      when: "{{{{ne facts.os.id facts.os.id}}}}"
  - file:
      path: "{{{{vars.root}}}}/web-only"
      content: "ports: {{{{vars.ports}}}}\n"
      when: "{{{{contains host.groups 'web'}}}}"
      depends_on:
        - file[other-os]
uses:
  - module: site
    for_each: "{{{{vars.sites}}}}"
    with: {{ name: "{{{{each.key}}}}", keys: "{{{{each.value.keys}}}}" }}
    depends_on:
      - "directory[{{{{vars.root}}}}/sites]"
"#
    )
}

/// Loops over lists and maps (from vars, and from a list input of a
/// module), conditions on facts, groups and the loop's key, a list value
/// reaching a list input: applied, then planned again with nothing to do,
/// also when the lists are reordered (instances are named by their keys).
#[test]
fn loops_conditions_and_typed_values_apply_and_replan_empty() {
    let dir = project(&[
        ("modules/site/module.yaml", SITE),
        (
            "stack.yaml",
            &stack(
                "[logs, data]",
                "{ api: { keys: [a, b] }, www: { keys: [] } }",
            ),
        ),
    ]);
    let d = dir.path();
    let root = d.join("root");
    let r = root.display();

    let (code, out, err) = keel(d, &["plan", "--all", "stack.yaml"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        format!("+ directory[{r}/logs]"),
        format!("+ directory[{r}/data]"),
        format!("+ file[{r}/one]"),
        format!("+ file[{r}/web-only]"),
        format!("+ file[{r}/sites/api]  (module.site[api])"),
        format!("+ file[{r}/sites/api.a]  (module.site[api])"),
        format!("+ file[{r}/sites/api.b]  (module.site[api])"),
        format!("+ file[{r}/sites/www]  (module.site[www])"),
        format!("· file[{r}/two] skipped (when: false)"),
        "· file[other-os] skipped (when: false)".to_string(),
    ] {
        assert!(out.contains(&line), "plan lacks `{line}`:\n{out}{err}");
    }
    assert!(out.contains("Plan: 9 to create"), "{out}");

    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    assert_eq!(read("one"), "1\n");
    assert_eq!(read("sites/api.b"), "key b\n");
    // Mixed text and expressions stay text.
    assert_eq!(read("web-only"), "ports: [80, 443]\n");
    assert!(!root.join("two").exists() && !root.join("other-os").exists());

    let replan = |d: &Path| {
        let (code, out, err) = keel(d, &["plan", "--detailed-exitcode", "stack.yaml"], &[]);
        assert_eq!(code, 0, "a second plan has changes:\n{out}{err}");
    };
    replan(d);
    // Reordered lists and maps: the same instances, nothing to do.
    write(
        d,
        &[(
            "stack.yaml",
            &stack(
                "[data, logs]",
                "{ www: { keys: [] }, api: { keys: [b, a] } }",
            ),
        )],
    );
    replan(d);
}

/// `depends_on: module.NAME` of a loop is every instance; a module use
/// whose condition is false is named in the plan and can still be
/// depended on (it has nothing on this host).
#[test]
fn module_loops_and_conditions_can_be_depended_on() {
    let dir = project(&[
        ("modules/site/module.yaml", SITE),
        (
            "stack.yaml",
            r#"name: lang
targets: [local]
resources:
  - directory: { path: "{{vars.root}}/sites" }
  - file:
      path: "{{vars.root}}/after-sites"
      content: "x\n"
      depends_on: [module.site, module.legacy]
uses:
  - module: site
    for_each: [api, www]
    with: { name: "{{each.value}}" }
  - module: site
    id: legacy
    when: "{{contains host.groups 'db'}}"
    with: { name: legacy }
"#,
        ),
    ]);
    let d = dir.path();
    let r = d.join("root");
    let r = r.display();
    let (code, out, err) = keel(d, &["graph", "stack.yaml"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    let after = out
        .split(&format!("file[{r}/after-sites]\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no after-sites in:\n{out}"));
    for dep in [
        format!("after file[{r}/sites/api]"),
        format!("after file[{r}/sites/www]"),
    ] {
        assert!(after.contains(&dep), "`{dep}` missing:\n{out}");
    }
    let (code, out, err) = keel(d, &["plan", "--all", "stack.yaml"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("· module.legacy skipped (when: false)"),
        "{out}"
    );
}

/// A typed value built from a secret stays secret: a list holding a secret
/// passed through a module's list input into a loop makes what the loop
/// renders sensitive, and the value is never printed.
#[test]
fn typed_values_from_secrets_stay_sensitive() {
    let secret = "Typed-Secret-Value-42";
    let dir = project(&[
        (
            "modules/items/module.yaml",
            r#"inputs:
  items: { type: list, required: true }
resources:
  - file:
      for_each: "{{inputs.items}}"
      path: "{{vars.root}}/item-{{each.index}}"
      content: "{{each.value}}\n"
"#,
        ),
        (
            "stack.yaml",
            r#"name: lang
targets: [local]
secrets:
  token: { env: KEEL_T_TYPED_TOKEN }
uses:
  - module: items
    with:
      items: ["{{secrets.token}}"]
"#,
        ),
    ]);
    let d = dir.path();
    let env = [("KEEL_T_TYPED_TOKEN", secret)];
    let (code, out, err) = keel(d, &["plan", "--json", "stack.yaml"], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains(secret) && !err.contains(secret), "{out}{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let res = &plan["hosts"][0]["resources"][0];
    assert_eq!(res["sensitive"], true, "{res:#}");
    assert_eq!(res["diff"], "(sensitive)", "{res:#}");
}

/// A list value reaches a list setting (`rules: "{{vars.rules}}"`), which
/// used to fail with "expected a list ... found a string".
#[test]
fn a_list_value_reaches_a_list_setting() {
    let dir = project(&[(
        "stack.yaml",
        r#"name: lang
targets: [local]
vars:
  rules:
    - { allow: 22/tcp, comment: ssh }
    - { allow: 443/tcp }
resources:
  - ufw:
      rules: "{{vars.rules}}"
"#,
    )]);
    let (code, out, err) = keel(dir.path(), &["validate", "stack.yaml"], &[]);
    assert_eq!(code, 0, "{out}{err}");
}

/// The example `examples/language` (loops, conditions, a typed value, the
/// bundled nginx modules by name) is valid as shipped, offline; its modules
/// come from keel itself, not from a copy in the project. Applied to a real
/// host in `tests/e2e_language_example.rs`.
#[test]
fn the_language_example_validates() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ex = repo.join("examples/language");
    let scratch = tempfile::tempdir().unwrap();
    let (code, out, err) = keel(
        scratch.path(),
        &[
            "validate",
            "-i",
            ex.join("inventory.yaml").to_str().unwrap(),
            ex.join("stack.yaml").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("is valid: 1 host"), "{out}{err}");
    let (code, out, err) = keel(
        scratch.path(),
        &["modules", ex.join("stack.yaml").to_str().unwrap()],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    for m in ["nginx-base", "nginx-site"] {
        assert!(out.contains(&format!("{m} (bundled)")), "{m}: {out}");
    }
}

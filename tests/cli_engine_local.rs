//! The engine through the real binary with the `local` transport, in a
//! scratch directory: handlers run once and only when a notifier changed,
//! modules use modules and can be depended on as `module.NAME`, and a
//! failed preflight leaves the host untouched.

mod support;

use std::path::Path;
use support::Keel;

fn keel(dir: &Path, args: &[&str]) -> (i32, String, String) {
    Keel::new().current_dir(dir).args(args).run().parts()
}

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    support::local_project(files)
}

#[test]
fn handlers_run_once_and_only_after_a_change() {
    let dir = project(&[(
        "stack.yaml",
        r#"name: handlers
targets: [local]
vars: { message: one }
resources:
  - file:
      path: "{{vars.root}}/a.conf"
      content: "{{vars.message}}\n"
      notify:
        - command[reload]
  - file:
      path: "{{vars.root}}/b.conf"
      content: "{{vars.message}}\n"
      notify:
        - command[reload]
  - command:
      name: reload
      run: "echo reloaded >> '{{vars.root}}/reloads.log'"
      notified_only: true
"#,
    )]);
    let d = dir.path();
    let log = d.join("root/reloads.log");
    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "reloaded\n",
        "two notifiers, one run"
    );

    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "reloaded\n",
        "no change, no handler"
    );

    std::fs::write(d.join("root/b.conf"), "drift\n").unwrap();
    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "reloaded\nreloaded\n",
        "one notifier changed"
    );
}

#[test]
fn modules_use_modules_and_can_be_depended_on() {
    let dir = project(&[
        (
            "stack.yaml",
            r#"name: nested
targets: [local]
uses:
  - module: app
    id: shop
    with: { name: shop }
resources:
  - command:
      name: after-app
      run: "ls '{{vars.root}}/shop' > '{{vars.root}}/listing.txt'"
      creates: "{{vars.root}}/listing.txt"
      depends_on:
        - module.shop
"#,
        ),
        (
            "modules/app/module.yaml",
            r#"description: an app with its config
inputs:
  name: { type: string, required: true }
uses:
  - module: conf
    with: { dir: "{{vars.root}}/{{inputs.name}}", line: "app={{inputs.name}}" }
resources:
  - directory: { path: "{{vars.root}}/{{inputs.name}}" }
"#,
        ),
        (
            "modules/conf/module.yaml",
            r#"inputs:
  dir: { type: string, required: true }
  line: { type: string, required: true }
resources:
  - file: { path: "{{inputs.dir}}/app.conf", template: conf.hbs }
"#,
        ),
        (
            "modules/conf/templates/conf.hbs",
            "# {{module.instance}}\n{{inputs.line}}\n",
        ),
    ]);
    let d = dir.path();
    let (code, graph, err) = keel(d, &["graph", "stack.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(graph.contains("(module.shop.conf)"), "{graph}");
    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(d.join("root/shop/app.conf")).unwrap(),
        "# shop.conf\napp=shop\n"
    );
    // The command ran after everything in module.shop, nested module included.
    assert_eq!(
        std::fs::read_to_string(d.join("root/listing.txt")).unwrap(),
        "app.conf\n"
    );
    let (code, _, _) = keel(d, &["plan", "--detailed-exitcode", "stack.yaml"]);
    assert_eq!(code, 0);
}

#[test]
fn a_failed_preflight_leaves_the_host_untouched() {
    let dir = project(&[(
        "stack.yaml",
        r#"name: preflight
targets: [local]
resources:
  - require:
      name: big-host
      cpus: 100000
  - file: { path: "{{vars.root}}/should-not-exist", content: "x\n" }
"#,
    )]);
    let d = dir.path();
    let (code, out, err) = keel(d, &["plan", "--detailed-exitcode", "stack.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("preflight failed"), "{out}");
    assert!(out.contains("at least 100000 required"), "{out}");
    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        !d.join("root/should-not-exist").exists(),
        "nothing was applied"
    );
}

#[test]
fn identical_declarations_in_two_modules_are_one_resource() {
    let dir = project(&[
        (
            "stack.yaml",
            r#"name: shared
targets: [local]
uses:
  - module: site
    id: one
    with: { name: one }
  - module: site
    id: two
    with: { name: two }
"#,
        ),
        (
            "modules/site/module.yaml",
            r#"inputs:
  name: { type: string, required: true }
resources:
  - directory: { path: "{{vars.root}}/sites", mode: "0755" }
  - file: { path: "{{vars.root}}/sites/{{inputs.name}}.conf", content: "{{inputs.name}}\n" }
"#,
        ),
    ]);
    let d = dir.path();
    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(d.join("root/sites/one.conf").exists() && d.join("root/sites/two.conf").exists());
    let (code, graph, _) = keel(d, &["graph", "stack.yaml"]);
    assert_eq!(code, 0);
    assert_eq!(
        graph.matches("directory[").count() - graph.matches("after directory[").count(),
        1,
        "{graph}"
    );
    // Declared twice with different settings: an error at the second.
    std::fs::write(
        d.join("modules/site/module.yaml"),
        "inputs:\n  name: { type: string, required: true }\nresources:\n  - directory: { path: \"{{vars.root}}/sites\", mode: \"07{{#if (eq inputs.name \\\"one\\\")}}55{{else}}00{{/if}}\" }\n",
    )
    .unwrap();
    let (code, _, err) = keel(d, &["validate", "stack.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("duplicate resource address"), "{err}");
}

#[test]
fn checks_point_below_the_field() {
    let dir = project(&[(
        "stack.yaml",
        "name: deep\ntargets: [local]\nresources:\n  - require:\n      os:\n        - \"debian >= 11\"\n        - \"ubuntu > 20\"\n      commands:\n        git: \"2.25\"\n        docker: \"new\"\n",
    )]);
    let (code, _, err) = keel(dir.path(), &["validate", "stack.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("stack.yaml:7:11"), "the second os item: {err}");
    assert!(
        err.contains("stack.yaml:10:17"),
        "the docker version: {err}"
    );
}

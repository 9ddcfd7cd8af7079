//! Plan subsets on the real binary: `--target ADDRESS` (repeatable) and
//! `--tags a,b` on plan and apply, with what the selection needs; tags on
//! module uses; unknown addresses and tags; saved plans keep their subset.
//!
//! The stack manages files under a scratch folder through the `local`
//! transport, so nothing outside it is touched.

mod support;

use support::{Keel, Run};

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

struct Project {
    dir: tempfile::TempDir,
    root: PathBuf,
}

const STACK: &str = r#"name: subset
targets: [web]
vars: { root: ROOT }
uses:
  - module: extra
    tags: [extra]
resources:
  - directory: { path: "{{vars.root}}/app" }
  - file: { path: "{{vars.root}}/app/a.conf", content: "a\n", tags: [alpha] }
  - file: { path: "{{vars.root}}/app/b.conf", content: "b\n", tags: [beta, shared] }
  - file: { path: "{{vars.root}}/other.conf", content: "o\n", tags: shared }
  - file:
      path: "{{vars.root}}/after-a.conf"
      content: "after\n"
      depends_on: ["file[{{vars.root}}/app/a.conf]"]
"#;

const MODULE: &str = r#"resources:
  - file: { path: "{{vars.root}}/extra.conf", content: "x\n" }
"#;

fn project() -> Project {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let root = dir.path().join("root");
    std::fs::write(
        dir.path().join("inventory.yaml"),
        "hosts:\n  web1:\n    transport: local\ngroups:\n  web:\n    hosts: [web1]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("stack.yaml"),
        STACK.replace("ROOT", root.to_str().unwrap()),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("modules/extra")).unwrap();
    std::fs::write(dir.path().join("modules/extra/module.yaml"), MODULE).unwrap();
    Project { dir, root }
}

impl Project {
    fn keel(&self, args: &[&str]) -> Run {
        Keel::new()
            .current_dir(self.dir.path())
            .args(["--color", "never"])
            .args(args)
            .run()
    }

    /// `ROOT/...` addresses of the resources a JSON plan lists, with ROOT
    /// written as `~`.
    fn planned(&self, args: &[&str]) -> BTreeSet<String> {
        let mut all = vec!["plan", "stack.yaml", "--json"];
        all.extend_from_slice(args);
        let o = self.keel(&all);
        assert_eq!(o.code, 0, "{args:?}:\n{}", o.all());
        let doc: Value = serde_json::from_str(&o.stdout).expect("JSON");
        doc["hosts"][0]["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .map(|r| {
                r["address"]
                    .as_str()
                    .unwrap()
                    .replace(self.root.to_str().unwrap(), "~")
            })
            .collect()
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn target_selects_a_resource_with_what_it_needs() {
    let p = project();
    assert_eq!(p.planned(&[]).len(), 6);
    // a.conf needs its directory (implicit); after-a.conf depends on a.conf
    // but is not needed by it, so it stays out.
    assert_eq!(
        p.planned(&[
            "--target",
            &format!("file[{}/app/a.conf]", p.root.display())
        ]),
        set(&["directory[~/app]", "file[~/app/a.conf]"])
    );
    assert_eq!(
        p.planned(&[
            "--target",
            &format!("file[{}/after-a.conf]", p.root.display())
        ]),
        set(&[
            "directory[~/app]",
            "file[~/app/a.conf]",
            "file[~/after-a.conf]"
        ])
    );
    // Repeatable, and module addresses work.
    assert_eq!(
        p.planned(&[
            "--target",
            &format!("file[{}/other.conf]", p.root.display()),
            "--target",
            "module.extra",
        ]),
        set(&["file[~/other.conf]", "file[~/extra.conf]"])
    );
}

#[test]
fn tags_select_resources_and_module_uses() {
    let p = project();
    assert_eq!(
        p.planned(&["--tags", "shared"]),
        set(&[
            "directory[~/app]",
            "file[~/app/b.conf]",
            "file[~/other.conf]"
        ])
    );
    assert_eq!(
        p.planned(&["--tags", "alpha,extra"]),
        set(&[
            "directory[~/app]",
            "file[~/app/a.conf]",
            "file[~/extra.conf]"
        ])
    );
}

#[test]
fn unknown_target_or_tag_is_an_error_with_a_suggestion() {
    let p = project();
    let o = p.keel(&[
        "plan",
        "stack.yaml",
        "--target",
        &format!("file[{}/app/a.cnf]", p.root.display()),
    ]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        o.stderr.contains("names no resource of any target host"),
        "{}",
        o.all()
    );
    assert!(
        o.stderr.contains(&format!(
            "did you mean `file[{}/app/a.conf]`?",
            p.root.display()
        )),
        "{}",
        o.all()
    );
    let o = p.keel(&["plan", "stack.yaml", "--tags", "alpah"]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        o.stderr.contains("no resource or module use has this tag"),
        "{}",
        o.all()
    );
    assert!(o.stderr.contains("did you mean `alpha`?"), "{}", o.all());
    let o = p.keel(&["validate", "stack.yaml"]);
    assert_eq!(o.code, 0, "{}", o.all());
}

#[test]
fn bad_tags_are_reported_at_their_line() {
    let p = project();
    let stack = p.dir.path().join("stack.yaml");
    let text = std::fs::read_to_string(&stack).unwrap();
    std::fs::write(&stack, text.replace("tags: [alpha]", "tags: [\"al pha\"]")).unwrap();
    let o = p.keel(&["validate", "stack.yaml"]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        o.stderr.contains("a tag is a name of letters"),
        "{}",
        o.all()
    );
    assert!(o.stderr.contains("stack.yaml:9:"), "{}", o.all());
}

#[test]
fn apply_with_a_target_and_a_saved_subset_change_only_the_subset() {
    let p = project();
    let a = p.keel(&["apply", "stack.yaml", "--yes", "--tags", "extra"]);
    assert_eq!(a.code, 0, "{}", a.all());
    assert!(p.root.join("extra.conf").exists());
    assert!(
        !p.root.join("app").exists(),
        "apply changed more than the subset"
    );

    let target = format!("file[{}/other.conf]", p.root.display());
    let plan = p.keel(&["plan", "stack.yaml", "--target", &target, "--out", "p.json"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    let o = p.keel(&["apply", "p.json", "--yes", "--tags", "alpha"]);
    assert_eq!(o.code, 1, "a saved plan cannot be narrowed: {}", o.all());
    let o = p.keel(&["apply", "p.json", "--yes"]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(p.root.join("other.conf").exists());
    assert!(
        !p.root.join("app").exists(),
        "the saved subset was not kept"
    );
    assert_eq!(
        p.planned(&[]).len(),
        6,
        "everything is still listed without flags"
    );
}

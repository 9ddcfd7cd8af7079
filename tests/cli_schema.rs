//! `keel schema` through the real binary: every stack, module and inventory
//! of the repository validates against the schema it prints, and the type
//! errors of the broken-stack corpus are rejected by it too.
//!
//! keel's own files are `*.yaml` (`.yml` files beside them are CI
//! configurations or Ansible's): a file named `module.yaml` is a module, one
//! named `inventory*.yaml` or inside an `inventory/` folder an inventory, any
//! other a stack. `templates/` and `files/` folders hold a module's assets.

use keel::Node;
use serde_json::Value as J;
use std::path::{Path, PathBuf};
mod support;

use support::Keel;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `keel schema FILE_KIND`, parsed.
fn schema(file_kind: &str) -> J {
    let out = Keel::new().args(["schema", file_kind]).run();
    assert!(out.status.success(), "{}", out.stderr);
    serde_json::from_str(&out.stdout).expect("keel schema prints JSON")
}

fn validator(file_kind: &str) -> jsonschema::Validator {
    let s = schema(file_kind);
    assert_eq!(s["$schema"], "http://json-schema.org/draft-07/schema#");
    jsonschema::validator_for(&s).expect("the schema is a valid JSON Schema")
}

/// A YAML file as the loader reads it, as JSON.
fn instance(path: &Path) -> J {
    let text = std::fs::read_to_string(path).unwrap();
    Node::parse(&text)
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
        .to_json()
}

/// The problems `v` finds in `path`, one line each.
fn problems(v: &jsonschema::Validator, path: &Path) -> Vec<String> {
    v.iter_errors(&instance(path))
        .map(|e| format!("{}: {e} at {}", path.display(), e.instance_path()))
        .collect()
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if name != "templates" && name != "files" && name != "target" {
                yaml_files(&p, out);
            }
        } else if name.ends_with(".yaml") {
            out.push(p);
        }
    }
}

fn file_kind(path: &Path) -> &'static str {
    let name = path.file_name().unwrap().to_string_lossy();
    let in_inventory = path.components().any(|c| c.as_os_str() == "inventory");
    if name == "module.yaml" {
        "module"
    } else if name.starts_with("inventory") || in_inventory {
        "inventory"
    } else {
        "stack"
    }
}

#[test]
fn every_file_of_the_repository_validates() {
    let mut files = Vec::new();
    for dir in ["examples", "modules", "stacks", "inventory"] {
        yaml_files(&Path::new(ROOT).join(dir), &mut files);
    }
    let kinds: Vec<&str> = files.iter().map(|f| file_kind(f)).collect();
    for k in ["stack", "module", "inventory"] {
        assert!(kinds.contains(&k), "no {k} found in the repository");
    }
    let all = validator("all");
    let mut found = Vec::new();
    for (file, kind) in files.iter().zip(&kinds) {
        found.extend(problems(&validator(kind), file));
        found.extend(problems(&all, file));
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// Files of the broken corpus whose mistake is a type or a shape the schema
/// can see (the others are semantic: dangling addresses, cycles, ...).
const TYPE_ERRORS: &[(&str, &str)] = &[
    ("hostile/depends-on-a-map/stack.yaml", "stack"),
    ("hostile/resources-is-a-map/stack.yaml", "stack"),
    ("hostile/stack-is-a-list/stack.yaml", "stack"),
    ("hostile/stack-is-a-scalar/stack.yaml", "stack"),
    ("hostile/stack-vars-not-a-map/stack.yaml", "stack"),
    ("hostile/uses-is-a-scalar/stack.yaml", "stack"),
    (
        "hostile/unknown-enum-value-lists-values-only/stack.yaml",
        "stack",
    ),
    ("hostile/module-is-a-list/modules/m/module.yaml", "module"),
    (
        "hostile/module-input-unknown-type/modules/m/module.yaml",
        "module",
    ),
    ("hostile/inventory-is-a-list/inventory.yaml", "inventory"),
    (
        "hostile/inventory-vars-not-a-map/inventory.yaml",
        "inventory",
    ),
    ("cli/broken/unknown-enum-value/stack.yaml", "stack"),
    ("cli/broken/two-kinds-in-one-entry/stack.yaml", "stack"),
    ("cli/broken/resources-at-top-level/stack.yaml", "stack"),
    (
        "cli/broken/inventory-unknown-key/inventory.yaml",
        "inventory",
    ),
];

#[test]
fn type_errors_of_the_broken_corpus_are_rejected() {
    let all = validator("all");
    let mut accepted = Vec::new();
    for (file, kind) in TYPE_ERRORS {
        let path = Path::new(ROOT).join("tests").join(file);
        assert!(path.exists(), "{} is gone from the corpus", path.display());
        if problems(&validator(kind), &path).is_empty() || problems(&all, &path).is_empty() {
            accepted.push(file.to_string());
        }
    }
    assert!(accepted.is_empty(), "accepted: {accepted:?}");
}

#[test]
fn settings_follow_the_loader() {
    let dir = tempfile::tempdir().unwrap();
    let check = |yaml: &str| {
        let p = dir.path().join("stack.yaml");
        std::fs::write(&p, yaml).unwrap();
        problems(&validator("stack"), &p)
    };
    // A string setting reads the source text; any setting may be a template.
    let ok = "name: s\nresources:\n  - file: { path: /a, mode: 0644, owner: \"{{vars.u}}\" }\n  - sysctl: { name: vm.swappiness, value: 10 }\n  - ufw: { enabled: \"{{vars.fw}}\", depends_on: \"file[/a]\" }\n";
    assert_eq!(check(ok), Vec::<String>::new());
    for bad in [
        "name: s\nresources:\n  - file: { path: /a, mood: 1 }\n",
        "name: s\nresources:\n  - file: { path: /a, state: gone }\n",
        "name: s\nresources:\n  - ufw: { enabled: lots }\n",
        "name: s\nresources:\n  - nothing: { path: /a }\n",
        "name: s\nresources:\n  - file: { content: no path }\n",
    ] {
        assert!(!check(bad).is_empty(), "accepted: {bad}");
    }
}

#[test]
fn kinds_carry_their_descriptions_and_enums() {
    let s = schema("stack");
    let file = &s["kindDefinitions"]["kind:file"];
    assert_eq!(file["description"], "A regular file on the host.");
    assert!(
        file["properties"]["path"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("Absolute path"))
    );
    let text = s.to_string();
    for kind in [
        "file", "package", "service", "user", "ufw", "sshd", "check", "compose",
    ] {
        assert!(text.contains(&format!("kind:{kind}")), "{kind} missing");
    }
    assert!(text.contains("\"running\""), "service states are listed");
}

#[test]
fn rollout_settings_are_counts_or_percentages() {
    let dir = tempfile::tempdir().unwrap();
    let check = |yaml: &str| {
        let p = dir.path().join("stack.yaml");
        std::fs::write(&p, yaml).unwrap();
        problems(&validator("stack"), &p)
    };
    for ok in [
        "serial: 1\nmax_fail: 0\n",
        "serial: \"30%\"\nmax_fail: \"10%\"\n",
    ] {
        assert_eq!(
            check(&format!("name: s\n{ok}")),
            Vec::<String>::new(),
            "{ok}"
        );
    }
    for bad in ["serial: -1\n", "serial: lots\n", "max_fail: [1]\n"] {
        assert!(
            !check(&format!("name: s\n{bad}")).is_empty(),
            "accepted: {bad}"
        );
    }
}

//! The shape of the tree, checked: a resource kind is one file (or one
//! folder) under `src/resources/` plus its registration line, and no kind
//! imports another kind — what kinds share lives in
//! `src/resources/common/`. A kind that reaches into a sibling fails here,
//! naming the file and line.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The kind a file under `src/resources/` belongs to (`None` for the
/// shared parts: mod.rs, common/, testing.rs).
fn owner(resources: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(resources).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "mod" | "common" | "testing")).then(|| name.to_string())
}

/// Every path through which `line` names kind module `other`.
fn names_kind(line: &str, other: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    [
        format!("super::{other}::"),
        format!("super::{other}::{{"),
        format!("super::super::{other}::"),
        format!("resources::{other}::"),
        format!("use super::{other};"),
        format!("resources::{other};"),
    ]
    .iter()
    .any(|p| code.contains(p.as_str()))
}

#[test]
fn no_kind_imports_another_kind() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/resources");
    let kinds: Vec<String> = keel::kind_names().iter().map(|k| k.to_string()).collect();
    assert!(kinds.len() > 20, "kinds: {kinds:?}");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut found = Vec::new();
    for file in &files {
        let Some(own) = owner(&root, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (i, line) in text.lines().enumerate() {
            for other in kinds.iter().filter(|k| **k != own) {
                if names_kind(line, other) {
                    found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "a kind imports another kind; move what they share to src/resources/common/:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_shared_room_imports_no_kind() {
    let common = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/resources/common");
    let mut files = Vec::new();
    rust_files(&common, &mut files);
    assert!(!files.is_empty());
    let kinds = keel::kind_names();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (i, line) in text.lines().enumerate() {
            for k in &kinds {
                assert!(
                    !names_kind(line, k),
                    "{}:{}: common/ must not depend on the kind `{k}`",
                    file.display(),
                    i + 1
                );
            }
        }
    }
}

#[test]
fn the_check_sees_an_import() {
    // The detector itself: these lines are what a violation looks like.
    assert!(names_kind("use super::file::{State, check_perms};", "file"));
    assert!(names_kind(
        "    let x = super::super::group::valid_name(n);",
        "group"
    ));
    assert!(names_kind("use crate::resources::cron::Entry;", "cron"));
    assert!(!names_kind(
        "use super::common::paths::Stat; // not super::file::",
        "file"
    ));
    assert!(!names_kind("use super::*;", "file"));
}

#[test]
fn every_kind_is_one_file_or_folder_and_one_registration_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/resources");
    let registry = std::fs::read_to_string(root.join("mod.rs")).unwrap();
    for k in keel::kind_names() {
        let file = root.join(format!("{k}.rs"));
        let folder = root.join(k).join("mod.rs");
        assert!(
            file.is_file() ^ folder.is_file(),
            "kind `{k}`: expected exactly one of {} or {}",
            file.display(),
            folder.display()
        );
        let lines = registry
            .lines()
            .filter(|l| l.trim().starts_with(&format!("{k}::")))
            .count();
        assert_eq!(
            lines, 1,
            "kind `{k}`: one registration line in resources/mod.rs"
        );
    }
}

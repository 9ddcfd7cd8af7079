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

// ---- No import circle between the library's files ----
//
// The pipeline (load → resolve → graph → probe → plan → apply) reads
// bottom-up in the tree only while no file imports a file that imports it
// back, directly or through others. A circle fails here, naming its files.

/// Module path of a file under `src/`: `src/a/b.rs` and `src/a/b/mod.rs`
/// are `a::b`; `src/lib.rs` is the root, ``.
fn module_path(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts.join("::")
}

/// What the library is built from: line comments (doc links too) and the
/// `#[cfg(test)] mod tests` block that ends a file left out.
fn library_code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths that `code` of module `module` names, absolute:
/// `crate::a::b::X` gives `a::b::X`, `super::c` in `a::b` gives `a::c`.
fn named_paths(module: &str, code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        for (i, _) in code.match_indices(start) {
            let before = i.checked_sub(1).map(|j| bytes[j]);
            if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':') {
                continue;
            }
            let mut base: Vec<&str> = if start == "crate::" {
                Vec::new()
            } else {
                module.split("::").filter(|s| !s.is_empty()).collect()
            };
            let mut rest = &code[i..];
            loop {
                if let Some(r) = rest.strip_prefix("crate::") {
                    rest = r;
                } else if let Some(r) = rest.strip_prefix("super::") {
                    base.pop();
                    rest = r;
                } else {
                    break;
                }
            }
            let path: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let segs = path.split("::").filter(|s| !s.is_empty());
            out.push(
                base.iter()
                    .copied()
                    .chain(segs)
                    .collect::<Vec<_>>()
                    .join("::"),
            );
        }
    }
    out
}

/// The circles (strongly connected groups of more than one) of the graph
/// "file imports file", given each file's module path and code.
fn circles(files: &[(String, String)]) -> Vec<Vec<String>> {
    let index: std::collections::HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(i, (m, _))| (m.as_str(), i))
        .collect();
    // A named path is the file of its longest prefix that is a module.
    let file_of = |path: &str| {
        let segs: Vec<&str> = path.split("::").collect();
        (1..=segs.len())
            .rev()
            .find_map(|n| index.get(segs[..n].join("::").as_str()).copied())
    };
    let edges: Vec<Vec<usize>> = files
        .iter()
        .enumerate()
        .map(|(i, (m, code))| {
            let mut to: Vec<usize> = named_paths(m, code)
                .iter()
                .filter_map(|p| file_of(p))
                .filter(|&j| j != i)
                .collect();
            to.sort_unstable();
            to.dedup();
            to
        })
        .collect();
    // Reachability by depth-first search from each file: small enough here.
    let reach = |from: usize| {
        let mut seen = vec![false; files.len()];
        let mut stack = vec![from];
        while let Some(v) = stack.pop() {
            for &w in &edges[v] {
                if !seen[w] {
                    seen[w] = true;
                    stack.push(w);
                }
            }
        }
        seen
    };
    let reaches: Vec<Vec<bool>> = (0..files.len()).map(reach).collect();
    let mut done = vec![false; files.len()];
    let mut out = Vec::new();
    for i in 0..files.len() {
        if done[i] || !reaches[i][i] {
            continue;
        }
        let group: Vec<usize> = (0..files.len())
            .filter(|&j| reaches[i][j] && reaches[j][i])
            .collect();
        for &j in &group {
            done[j] = true;
        }
        out.push(group.iter().map(|&j| files[j].0.clone()).collect());
    }
    out
}

#[test]
fn no_import_circle_between_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    let files: Vec<(String, String)> = paths
        .iter()
        // Test-only modules (`#[cfg(test)] mod tests;`, shared test helpers).
        .filter(|p| {
            !matches!(
                p.file_name().and_then(|n| n.to_str()),
                Some("tests.rs" | "testing.rs" | "main.rs")
            )
        })
        .map(|p| {
            let code = library_code(&std::fs::read_to_string(p).unwrap());
            (module_path(&src, p), code)
        })
        .collect();
    let found = circles(&files);
    assert!(
        found.is_empty(),
        "files that import each other in a circle (modules of src/): {found:#?}\n\
         move what both need into a file below them both"
    );
}

#[test]
fn the_circle_check_sees_a_circle() {
    let f = |m: &str, code: &str| (m.to_string(), library_code(code));
    let files = [
        f("plan", "use crate::apply::Outcome;"),
        f("apply", "use super::session::HostWork; // crate::plan"),
        f("session", "pub fn x() { crate::plan::render::go() }"),
        f("plan::render", "use super::HostPlan;"),
        f(
            "diag",
            "use crate::node::X; // a comment naming crate::plan",
        ),
    ];
    let found = circles(&files);
    assert_eq!(found, [vec!["plan", "apply", "session", "plan::render"]]);
    // Without the one import that closes it, no circle.
    let mut open = files.clone();
    open[0].1 = "use crate::diag::Diag;".into();
    assert!(circles(&open).is_empty(), "{:?}", circles(&open));
    // Comments and the tests block are not code.
    assert_eq!(
        library_code("use crate::a; // crate::b\n#[cfg(test)]\nmod tests { use crate::c; }"),
        "use crate::a; "
    );
}

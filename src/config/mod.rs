//! Loading YAML configuration: inventory, modules and stacks, with spans.
//!
//! Files are parsed into spanned [`node::Node`] trees; typed structures are
//! deserialized from them piece by piece so every problem of a run is
//! collected as a [`crate::diag::Diag`] pointing at file, line and column.

pub mod ansible;
pub mod entry;
pub mod inventory;
pub mod module;
pub mod node;
pub mod stack;

use crate::diag::{Diag, Diagnostics, SourceFile};
use node::{Node, NodeError};
use std::path::{Path, PathBuf};

/// A field whose node is read separately (vars, `with:`, resources): it
/// accepts anything during typed deserialization.
#[derive(Debug, Clone, Default)]
pub struct IgnoredNode;

impl<'de> serde::Deserialize<'de> for IgnoredNode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| IgnoredNode)
    }
}

/// Read and parse one YAML file.
pub fn read_source(path: &Path) -> Result<(SourceFile, Node), Diagnostics> {
    let bytes = std::fs::read(path).map_err(|e| {
        Diag::plain("keel::io", format!("cannot read {}: {e}", path.display()))
            .with_help("check the path and its permissions")
    })?;
    let src = SourceFile::from_bytes(path, bytes)?;
    match Node::parse(src.text()) {
        Ok(node) => Ok((src, node)),
        Err(e) => Err(Diag::from_parse(&src, &e).into()),
    }
}

/// A file, or the `*.yaml`/`*.yml` files of a folder (sorted).
pub fn yaml_files(path: &Path) -> Result<Vec<PathBuf>, Diagnostics> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Diag::plain("keel::io", format!("cannot read {}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Diag::plain(
                "keel::io",
                format!("{} holds no .yaml file", path.display()),
            )
            .into());
        }
        Ok(files)
    } else if path.exists() {
        Ok(vec![path.to_path_buf()])
    } else {
        Err(
            Diag::plain("keel::io", format!("{} does not exist", path.display()))
                .with_help("pass it with -i/--inventory FILE|DIR; without -i, keel looks for inventory.yaml or inventory/ beside the stack, one folder up, then in the current folder")
                .into(),
        )
    }
}

/// The entries of the map under `key` that read well: used when the
/// document holding them failed, so one mistake does not drop its
/// neighbours (and report their uses as undefined).
pub fn readable_entries<'a, K, V>(node: &'a Node, key: &str) -> std::collections::BTreeMap<K, V>
where
    K: serde::Deserialize<'a> + Ord,
    V: serde::Deserialize<'a>,
{
    node.get(key)
        .and_then(Node::as_map)
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, v)| Some((k.deserialize().ok()?, v.deserialize().ok()?)))
        .collect()
}

/// A diagnostic for a document-level deserialization error.
pub fn doc_error(src: &SourceFile, node: &Node, e: &NodeError, what: &str) -> Diag {
    Diag::from_node(src, node.span, e, &format!("invalid {what}"))
}

/// "did you mean `x`?" among candidates, or a list of them.
pub fn closest_hint<'a>(found: &str, candidates: impl Iterator<Item = &'a String>) -> String {
    let all: Vec<&String> = candidates.collect();
    let best = all
        .iter()
        .map(|c| (strsim::jaro_winkler(found, c), *c))
        .filter(|(s, _)| *s > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, c)) => format!("did you mean `{c}`?"),
        None if all.is_empty() => "none are defined".to_string(),
        None => format!(
            "known: {}",
            all.iter()
                .take(12)
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A path for messages: relative to the current directory when possible.
pub fn display_path(p: &Path) -> String {
    let Ok(cwd) = std::env::current_dir() else {
        return p.display().to_string();
    };
    let Ok(abs) = std::path::absolute(p) else {
        return p.display().to_string();
    };
    let a: Vec<_> = abs.components().collect();
    let c: Vec<_> = cwd.components().collect();
    let common = a.iter().zip(&c).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return abs.display().to_string();
    }
    let mut out = PathBuf::new();
    for _ in common..c.len() {
        out.push("..");
    }
    for comp in &a[common..] {
        out.push(comp.as_os_str());
    }
    if out.as_os_str().is_empty() {
        ".".into()
    } else {
        out.display().to_string()
    }
}

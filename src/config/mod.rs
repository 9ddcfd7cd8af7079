//! Loading YAML configuration: inventory, modules and stacks, with spans.
//!
//! Files are parsed into spanned [`node::Node`] trees; typed structures are
//! deserialized from them piece by piece so every problem of a run is
//! collected as a [`crate::diag::Diag`] pointing at file, line and column.

pub mod ansible;
pub mod bundled;
mod diags;
pub mod entry;
pub mod inventory;
mod load_inventory;
pub mod local_file;
pub mod module;
pub mod modules_path;

pub mod rollout;
pub mod stack;

use crate::diag::{Diag, Diagnostics, SourceFile};
use crate::node::{self, Node, NodeError};
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
    read_yaml(path, Node::parse, SourceFile::from_bytes)
}

/// Read and parse a YAML file written for another tool (an Ansible
/// inventory, whose `!vault` and `!unsafe` tags are Ansible's): tags are
/// kept out of the tree, not refused.
pub fn read_foreign_source(path: &Path) -> Result<(SourceFile, Node), Diagnostics> {
    // Ansible's files may hold passwords: masked before anything quotes them.
    read_yaml(path, Node::parse_foreign, ansible::passwords::source)
}

fn read_yaml(
    path: &Path,
    parse: fn(&str) -> Result<Node, node::ParseError>,
    source: fn(String, Vec<u8>) -> Result<SourceFile, Diagnostics>,
) -> Result<(SourceFile, Node), Diagnostics> {
    crate::loaded::note(path);
    let bytes = local_file::read(path, local_file::MAX_CONFIG_BYTES)
        .map_err(|e| Diag::plain("keel::io", e.to_string()).with_help(e.help()))?;
    let src = source(display_path(path), bytes)?;
    match parse(src.text()) {
        Ok(node) => Ok((src, node)),
        Err(e) => Err(e.to_diag(&src).into()),
    }
}

/// What to do about a folder without YAML files: its subfolders that
/// have some are named (a project's `inventory/production/`), to pass one.
fn folder_help(path: &Path) -> String {
    let mut subs: Vec<String> = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && yaml_files(p).is_ok())
        .map(|p| p.display().to_string())
        .collect();
    subs.sort();
    match subs.first() {
        Some(first) => format!(
            "its subfolders {} hold .yaml files: pass one with -i, e.g. -i {first}",
            subs.join(", ")
        ),
        None => "pass the file or folder to read with -i".into(),
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
            .with_help(folder_help(path))
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
    e.to_diag(src, node.span, &format!("invalid {what}"))
}

/// A path for messages: relative to the current directory when possible.
/// Files of the modules bundled with keel are `bundled:NAME/FILE`.
pub fn display_path(p: &Path) -> String {
    if let Some(label) = modules_path::bundled_label(p) {
        return label;
    }
    let Ok(cwd) = std::env::current_dir() else {
        return p.display().to_string();
    };
    let Ok(abs) = std::path::absolute(p) else {
        return p.display().to_string();
    };
    let a: Vec<_> = abs.components().collect();
    let c: Vec<_> = cwd.components().collect();
    let common = a.iter().zip(&c).take_while(|(x, y)| x == y).count();
    // Sharing only the root (`/dev/zero` seen from `/tmp/x`): absolute.
    if common <= 1 {
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

/// Any value: the loader reads it separately.
impl schemars::JsonSchema for IgnoredNode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Any".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::Schema::from(true)
    }
}

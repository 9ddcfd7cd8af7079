//! `group_vars/` and `host_vars/` beside an Ansible inventory: a file
//! `NAME`, `NAME.yml`, `NAME.yaml` or `NAME.json`, or a folder `NAME/` of
//! such files, holding a YAML map of variables for group or host NAME.

use super::{CODE, Parsed, Var};
use crate::diag::{Diag, Diagnostics, SourceFile};
use crate::node::{Span, Value};
use std::path::Path;

/// Read `group_vars/` and `host_vars/` beside the inventory file: a file
/// `NAME`, `NAME.yml`, `NAME.yaml` or `NAME.json`, or a folder `NAME/` of
/// such files (in name order). Names that are no group or host are
/// skipped, as Ansible does.
pub fn read(dir: &Path, parsed: &mut Parsed, diags: &mut Diagnostics) {
    for (sub, hosts) in [("group_vars", false), ("host_vars", true)] {
        for (name, file) in vars_files(&dir.join(sub)) {
            let vars = read_vars_file(&file, diags);
            let target = if hosts {
                parsed.hosts.get_mut(&name).map(|h| &mut h.vars)
            } else if name == "all" {
                let src = SourceFile::new(crate::config::display_path(&file), String::new());
                Some(&mut parsed.group("all", &src, Span::default()).file_vars)
            } else {
                parsed.groups.get_mut(&name).map(|g| &mut g.file_vars)
            };
            if let Some(t) = target {
                t.extend(vars);
            }
        }
    }
}

/// `(name, file)` of a vars folder, in name order.
fn vars_files(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    let mut out = Vec::new();
    for p in entries {
        let Some(file_name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if file_name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            let mut inner: Vec<_> = std::fs::read_dir(&p)
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && vars_file_name(f).is_some())
                .collect();
            inner.sort();
            out.extend(inner.into_iter().map(|f| (file_name.to_string(), f)));
        } else if let Some(name) = vars_file_name(&p) {
            out.push((name, p));
        }
    }
    out
}

/// The group or host a vars file is for, by its name (`web.yml` → `web`);
/// `None` for files Ansible skips (other extensions, backups, hidden).
fn vars_file_name(p: &Path) -> Option<String> {
    let name = p.file_name()?.to_str()?;
    if name.starts_with('.') || name.ends_with('~') {
        return None;
    }
    match p.extension().and_then(|e| e.to_str()) {
        Some("yml" | "yaml" | "json") => Some(p.file_stem()?.to_str()?.to_string()),
        // Host names hold dots (`web1.example.com`): a file without a known
        // extension is named after its host or group, unless it is a backup.
        Some("bak" | "orig" | "swp" | "retry" | "md" | "txt") => None,
        _ => Some(name.to_string()),
    }
}

/// The variables of one vars file (a YAML map; empty is fine).
fn read_vars_file(file: &Path, diags: &mut Diagnostics) -> Vec<Var> {
    let (src, node) = match crate::config::read_foreign_source(file) {
        Ok(x) => x,
        Err(d) => {
            diags.extend(d);
            return Vec::new();
        }
    };
    match &node.value {
        Value::Null => Vec::new(),
        Value::Map(m) => m
            .iter()
            .map(|(k, v)| Var {
                key: k.clone(),
                value: v.clone(),
                source: src.clone(),
            })
            .collect(),
        Value::Str(s) if s.starts_with("$ANSIBLE_VAULT") => {
            diags.push(
                Diag::at(CODE, &src, node.span, format!("{} is encrypted with ansible-vault", src.name), "vault data")
                    .with_help("keel does not decrypt ansible-vault files: keep secrets in the stack's `secrets:` (env, file or command) and the plain variables here"),
            );
            Vec::new()
        }
        _ => {
            diags.push(
                Diag::at(
                    CODE,
                    &src,
                    node.span,
                    format!(
                        "{} must be a map of variables, found {}",
                        src.name,
                        node.type_name()
                    ),
                    "here",
                )
                .with_help("write one `name: value` per line"),
            );
            Vec::new()
        }
    }
}

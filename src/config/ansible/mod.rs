//! Ansible inventories as they are: INI and YAML files, with the
//! `group_vars/` and `host_vars/` folders beside them, read into keel's
//! [`Inventory`].
//!
//! [`load`] looks at a file given with `-i` and says whether it is in an
//! Ansible format (keel's own format has only `hosts:` and `groups:` at the
//! top; Ansible's YAML has `all:` or groups holding `hosts:`, `children:`,
//! `vars:`; anything that is not a YAML map is Ansible's INI). The parsers
//! ([`ini`], [`yaml`]) fill one [`Parsed`]; [`build`] turns it into keel's
//! inventory:
//!
//! - Ansible's connection variables become host settings: `ansible_host`
//!   → `address`, `ansible_port` → `port`, `ansible_user` → `user`,
//!   `ansible_ssh_private_key_file` → `identity_file`, `ansible_become` →
//!   `become`, `ansible_connection: local` → `transport: local`,
//!   `ansible_host_key_checking: false` → `host_key: accept-new`, and a
//!   password (`ansible_password`) → `auth: password`. They are resolved
//!   per host with the precedence below and removed from the vars;
//!   passwords are never kept.
//! - keel's own host settings that Ansible has no word for are written
//!   `keel_<setting>`: `keel_ssh_config`, `keel_host_key`,
//!   `keel_bootstrap_port`, `keel_bootstrap_user`, `keel_confirm_timeout`,
//!   `keel_allow_lockout_risk`, `keel_auth` (Ansible ignores them).
//! - Every other variable is a keel group or host var, with Ansible's
//!   precedence: inline group vars (`all` first, parents before children)
//!   < `group_vars/` files (same order) < inline host vars < `host_vars/`
//!   files. Where keel's group-by-group order would pick another value for
//!   a host, Ansible's value becomes a host var.
//! - Hosts listed only outside any group are in the group `ungrouped`.

mod conn;
pub mod emit;
pub mod ini;
pub mod passwords;
pub mod range;
mod vars_dirs;
pub mod yaml;

use super::inventory::{Group, GroupIndex, Host, HostKeyPolicy, Inventory, TransportKind};
use crate::diag::{Diag, Diagnostics, SourceFile};
use crate::node::{Node, Span, Spanned, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const CODE: &str = "keel::ansible";

/// One variable as written: name and value nodes, and their file.
#[derive(Debug, Clone)]
pub struct Var {
    pub key: Node,
    pub value: Node,
    pub source: SourceFile,
}

impl Var {
    pub fn name(&self) -> &str {
        self.key.as_scalar_text().unwrap_or_default()
    }
}

/// A host as the Ansible files describe it.
#[derive(Debug, Clone)]
pub struct ParsedHost {
    /// Later entries win.
    pub vars: Vec<Var>,
    pub source: SourceFile,
}

/// A group as the Ansible files describe it.
#[derive(Debug, Clone)]
pub struct ParsedGroup {
    pub hosts: Vec<Spanned<String>>,
    pub children: Vec<Spanned<String>>,
    /// Vars written in the inventory file.
    pub vars: Vec<Var>,
    /// Vars of `group_vars/NAME` (they rank differently, see [`build`]).
    pub file_vars: Vec<Var>,
    pub source: SourceFile,
    pub span: Span,
}

/// What the inventory files say, before it becomes keel's inventory.
/// The group `all` holds only vars; hosts listed outside any group are
/// members of `ungrouped` until [`build`] keeps only those in no other group.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub hosts: BTreeMap<String, ParsedHost>,
    pub groups: BTreeMap<String, ParsedGroup>,
}

impl Parsed {
    /// Declare a host (first mention keeps its source for messages).
    pub fn host(&mut self, name: &str, src: &SourceFile) -> &mut ParsedHost {
        self.hosts
            .entry(name.to_string())
            .or_insert_with(|| ParsedHost {
                vars: Vec::new(),
                source: src.clone(),
            })
    }

    /// Declare a group (first mention keeps its place for messages).
    pub fn group(&mut self, name: &str, src: &SourceFile, span: Span) -> &mut ParsedGroup {
        self.groups
            .entry(name.to_string())
            .or_insert_with(|| ParsedGroup {
                hosts: Vec::new(),
                children: Vec::new(),
                vars: Vec::new(),
                file_vars: Vec::new(),
                source: src.clone(),
                span,
            })
    }

    /// Put a host in a group. A host listed right under `all` is
    /// `ungrouped` (every host is in `all`).
    pub fn member(&mut self, group: &str, host: &str, src: &SourceFile, span: Span) {
        let group = if group == "all" { "ungrouped" } else { group };
        let g = self.group(group, src, span);
        if !g.hosts.iter().any(|h| h.value == host) {
            g.hosts.push(Spanned::new(span, host.to_string()));
        }
    }

    /// Make `child` a child group of `parent` (both are created if new).
    pub fn child(&mut self, parent: &str, child: &str, src: &SourceFile, span: Span) {
        self.group(child, src, span);
        if parent == "all" {
            return;
        }
        let g = self.group(parent, src, span);
        if !g.children.iter().any(|c| c.value == child) {
            g.children.push(Spanned::new(span, child.to_string()));
        }
    }
}

/// The format of an inventory file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Keel,
    AnsibleIni,
    AnsibleYaml,
}

/// Keys of a group in Ansible's YAML format.
const GROUP_KEYS: [&str; 3] = ["hosts", "children", "vars"];

/// Which format a YAML document is in (see the module docs).
pub fn yaml_format(node: &Node) -> Format {
    let Some(map) = node.as_map() else {
        return Format::Keel;
    };
    let keys: Vec<&str> = map.iter().filter_map(|(k, _)| k.as_scalar_text()).collect();
    if keys.contains(&"all") {
        return Format::AnsibleYaml;
    }
    if keys.iter().all(|k| matches!(*k, "hosts" | "groups")) {
        return Format::Keel;
    }
    let group_like = |v: &Node| match &v.value {
        Value::Null => true,
        Value::Map(m) => {
            !m.is_empty()
                && m.iter()
                    .all(|(k, _)| GROUP_KEYS.contains(&k.as_scalar_text().unwrap_or_default()))
        }
        _ => false,
    };
    if map.iter().all(|(_, v)| group_like(v)) {
        Format::AnsibleYaml
    } else {
        Format::Keel
    }
}

/// Files larger than this are not looked at by [`detect`].
const MAX_DETECT: u64 = 32 << 20;

/// Which format a file is in, by its extension and content. Folders and
/// unreadable files are `Keel` (keel's loader reports what is wrong).
pub fn detect(path: &Path) -> Format {
    // Anything large is left to keel's loader and its limits.
    let small = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= MAX_DETECT);
    if !small {
        return Format::Keel;
    }
    let Ok(bytes) = super::local_file::read(path, super::local_file::MAX_CONFIG_BYTES) else {
        return Format::Keel;
    };
    let text = String::from_utf8_lossy(&bytes);
    let yaml_ext = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    );
    match Node::parse_foreign(&text) {
        Ok(node) if node.as_map().is_some() => match yaml_format(&node) {
            // An INI line can read as a YAML map (`h1 note=a: b`): without a
            // YAML extension, keel's format needs one of its own keys.
            Format::Keel if !yaml_ext && node.get("hosts").or(node.get("groups")).is_none() => {
                Format::AnsibleIni
            }
            f => f,
        },
        // A YAML file that does not parse: keel's loader shows where.
        _ if yaml_ext => Format::Keel,
        Ok(node) if node.value == Value::Null => Format::Keel,
        _ => Format::AnsibleIni,
    }
}

/// Load `path` when it is an Ansible inventory (a file, or a folder of
/// inventory files as Ansible reads one); `None` when it is keel's own
/// format, which keel's loader reads.
pub fn load(path: &Path) -> Option<(Inventory, Diagnostics)> {
    let mut diags = Diagnostics::new();
    let (files, dir) = if path.is_dir() {
        (folder_files(path)?, path)
    } else {
        let format = detect(path);
        if format == Format::Keel {
            return None;
        }
        (vec![(path.to_path_buf(), format)], path.parent()?)
    };
    let mut parsed = Parsed::default();
    for (file, format) in files {
        match format {
            Format::AnsibleIni => match read(&file) {
                Ok(src) => ini::parse(&src, &mut parsed, &mut diags),
                Err(d) => diags.extend(d),
            },
            _ => match super::read_foreign_source(&file) {
                Ok((src, node)) => yaml::parse(&src, &node, &mut parsed, &mut diags),
                Err(d) => diags.extend(d),
            },
        }
    }
    vars_dirs::read(dir, &mut parsed, &mut diags);
    let inv = build(parsed, &mut diags);
    Some((inv, diags))
}

/// The inventory files of a folder with their formats, when it is an
/// Ansible inventory folder: no file in keel's format (a folder of keel
/// files is keel's, as it always was, whatever else lies in it) and at
/// least one in Ansible's. Hidden files, backups and documents are skipped.
fn folder_files(dir: &Path) -> Option<Vec<(std::path::PathBuf, Format)>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && inventory_file_name(p))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        match detect(&p) {
            Format::Keel => {
                let yaml = matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
                let empty = super::local_file::read_text(&p, super::local_file::MAX_CONFIG_BYTES)
                    .is_ok_and(|t| Node::parse(&t).is_ok_and(|n| n.value == Value::Null));
                if yaml && !empty {
                    return None;
                }
            }
            f => out.push((p, f)),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Whether a file in an inventory folder is an inventory (not a hidden
/// file, a backup, a document, a template or an example).
fn inventory_file_name(p: &Path) -> bool {
    let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let upper = name.to_ascii_uppercase();
    !(name.starts_with('.')
        || name.ends_with('~')
        || upper.starts_with("README")
        || upper.starts_with("LICENSE")
        || matches!(
            p.extension().and_then(|e| e.to_str()),
            Some(
                "md" | "txt"
                    | "cfg"
                    | "retry"
                    | "orig"
                    | "bak"
                    | "swp"
                    | "j2"
                    | "rst"
                    | "in"
                    | "tmpl"
                    | "tpl"
                    | "example"
                    | "sample"
                    | "dist"
            )
        ))
}

/// Read a text file (UTF-8 checked).
fn read(path: &Path) -> Result<SourceFile, Diagnostics> {
    let bytes = std::fs::read(path).map_err(|e| {
        Diag::plain(CODE, format!("cannot read {}: {e}", path.display()))
            .with_help("check the path and its permissions")
    })?;
    passwords::source(crate::config::display_path(path), bytes)
}

/// A vars map node for keel (later entries of the same name win); `None`
/// when there are no vars.
fn vars_node(vars: Vec<Var>) -> Option<(SourceFile, Node)> {
    let mut entries: Vec<Var> = Vec::new();
    for v in vars {
        match entries.iter_mut().find(|e| e.name() == v.name()) {
            Some(e) => *e = v,
            None => entries.push(v),
        }
    }
    let first = entries.first()?;
    let src = first.source.clone();
    let span = first.key.span;
    Some((
        src,
        Node::new(
            span,
            Value::Map(entries.into_iter().map(|v| (v.key, v.value)).collect()),
        ),
    ))
}

/// Turn what the files say into keel's inventory: check the groups,
/// resolve each host's connection settings, keep the other vars.
pub fn build(mut parsed: Parsed, diags: &mut Diagnostics) -> Inventory {
    // `ungrouped`: hosts listed outside any group and in no other group.
    if let Some(ung) = parsed.groups.get("ungrouped").cloned() {
        let elsewhere: BTreeSet<&String> = parsed
            .groups
            .iter()
            .filter(|(n, _)| *n != "ungrouped")
            .flat_map(|(_, g)| g.hosts.iter().map(|h| &h.value))
            .collect();
        let kept: Vec<_> = ung
            .hosts
            .iter()
            .filter(|h| !elsewhere.contains(&h.value))
            .cloned()
            .collect();
        let (empty, plain) = (
            kept.is_empty(),
            ung.vars.is_empty() && ung.file_vars.is_empty() && ung.children.is_empty(),
        );
        let unused = empty && plain;
        if unused {
            parsed.groups.remove("ungrouped");
        } else if let Some(g) = parsed.groups.get_mut("ungrouped") {
            g.hosts = kept;
        }
    }
    check_cycles(&parsed, diags);

    let inline: BTreeMap<String, Vec<Var>> = parsed
        .groups
        .iter()
        .map(|(n, g)| (n.clone(), g.vars.clone()))
        .collect();
    let files: BTreeMap<String, Vec<Var>> = parsed
        .groups
        .iter()
        .map(|(n, g)| (n.clone(), g.file_vars.clone()))
        .collect();
    let mut inv = Inventory::default();
    let mut group_conn: BTreeMap<String, conn::Conn> = BTreeMap::new();
    for (name, mut g) in parsed.groups {
        g.vars.append(&mut g.file_vars);
        let (conn, rest) = conn::split(&g.vars, diags);
        group_conn.insert(name.clone(), conn);
        let vars = vars_node(rest);
        if name == "all" && vars.is_none() {
            continue;
        }
        inv.groups.insert(
            name.clone(),
            Group {
                name,
                hosts: g.hosts,
                children: g.children,
                vars,
                source: g.source,
                span: g.span,
            },
        );
    }
    // Made once: asking the inventory for each host's groups indexes every
    // group again per host (10,000 hosts of one `web[0:9999]` took minutes).
    let index = GroupIndex::new(&inv);
    for (name, h) in parsed.hosts {
        // `all` comes first, whether or not it kept keel vars.
        let order = index.host_groups(&inv, &name);
        let fixups = ansible_order_fixups(&order, &inline, &files, &h.vars);
        // Their problems were reported with their group.
        let (fix_conn, mut rest) = conn::split(&fixups, &mut Diagnostics::new());
        let (own, own_rest) = conn::split(&h.vars, diags);
        rest.extend(own_rest);
        let conn = order
            .iter()
            .filter_map(|g| group_conn.get(g))
            .fold(conn::Conn::default(), |acc, c| acc.then(c))
            .then(&fix_conn)
            .then(&own);
        let transport = conn.transport.unwrap_or_default();
        let user = conn.user.clone().unwrap_or_else(|| "root".into());
        inv.hosts.insert(
            name.clone(),
            Host {
                address: conn.address.clone().unwrap_or_else(|| name.clone()),
                port: conn.port,
                become_root: conn
                    .become_root
                    .unwrap_or(transport == TransportKind::Ssh && user != "root"),
                user,
                identity_file: conn.identity_file.clone(),
                host_key: if conn.accept_new == Some(true) {
                    HostKeyPolicy::AcceptNew
                } else {
                    HostKeyPolicy::default()
                },
                transport,
                ssh_config: conn.ssh_config.clone(),
                bootstrap_port: conn.bootstrap_port,
                bootstrap_user: conn.bootstrap_user.clone(),
                allow_lockout_risk: conn.allow_lockout_risk == Some(true),
                confirm_timeout: conn.confirm_timeout,
                password_auth: conn.password == Some(true),
                vars: vars_node(rest),
                source: h.source,
                name,
            },
        );
    }
    inv
}

/// Ansible ranks every inline group var below every `group_vars/` file
/// (inline vars by group order, then `group_vars/all`, then the other
/// files by group order), where keel ranks group by group (a group's file
/// over its inline vars, then the next group). The vars for which the two
/// orders pick a different value for a host are returned, with Ansible's
/// value, to become host vars (which rank above every group in keel);
/// names the host sets itself are left alone.
fn ansible_order_fixups(
    order: &[String],
    inline: &BTreeMap<String, Vec<Var>>,
    files: &BTreeMap<String, Vec<Var>>,
    own: &[Var],
) -> Vec<Var> {
    fn of<'a>(m: &'a BTreeMap<String, Vec<Var>>, g: &String) -> impl Iterator<Item = &'a Var> {
        m.get(g).into_iter().flatten()
    }
    fn winners(layers: Vec<&Var>) -> BTreeMap<String, &Var> {
        layers
            .into_iter()
            .map(|v| (v.name().to_string(), v))
            .collect()
    }
    let keel = winners(
        order
            .iter()
            .flat_map(|g| of(inline, g).chain(of(files, g)))
            .collect(),
    );
    let ansible = winners(
        order
            .iter()
            .flat_map(|g| of(inline, g))
            .chain(order.iter().flat_map(|g| of(files, g)))
            .collect(),
    );
    ansible
        .into_iter()
        .filter(|(k, v)| {
            !own.iter().any(|o| o.name() == k) && keel.get(k).is_none_or(|w| !std::ptr::eq(*w, *v))
        })
        .map(|(_, v)| v.clone())
        .collect()
}

/// A group that is its own descendant is an error at the link that closes
/// the cycle.
fn check_cycles(parsed: &Parsed, diags: &mut Diagnostics) {
    fn reaches(p: &Parsed, from: &str, target: &str, seen: &mut BTreeSet<String>) -> bool {
        if from == target {
            return true;
        }
        if !seen.insert(from.to_string()) {
            return false;
        }
        p.groups.get(from).is_some_and(|g| {
            g.children
                .iter()
                .any(|c| reaches(p, &c.value, target, seen))
        })
    }
    for (name, g) in &parsed.groups {
        for c in &g.children {
            if reaches(parsed, &c.value, name, &mut BTreeSet::new()) {
                diags.push(
                    Diag::at(
                        CODE,
                        &g.source,
                        c.span,
                        format!(
                            "group `{name}` has `{}` as a child, which makes `{name}` its own descendant",
                            c.value
                        ),
                        "closes a cycle",
                    )
                    .with_help("remove one of the parent-child links"),
                );
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;

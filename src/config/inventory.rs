//! The inventory: hosts (how to reach them, their vars) and groups.
//!
//! ```yaml
//! hosts:
//!   web1:
//!     address: 203.0.113.10     # default: the host's name
//!     port: 22
//!     user: deploy              # default: root
//!     identity_file: ~/.ssh/id_ed25519
//!     become: true              # sudo for non-root users (default: user != root)
//!     host_key: strict          # or accept-new (trust on first use, fresh servers)
//!     transport: ssh            # or local
//!     bootstrap_port: 22        # fresh servers: where sshd listens before the stack moves it
//!     bootstrap_user: root      # fresh servers: who logs in before the stack creates `user`
//!     allow_lockout_risk: false # lockout refusals become warnings (know what you do)
//!     confirm_timeout: 120      # seconds before an unconfirmed SSH/firewall change reverts
//!     auth: key                 # or `password` (tells the lockout analysis how you log in)
//!     vars: { domain: example.com }
//! groups:
//!   web:
//!     hosts: [web1]
//!     children: [canary]        # hosts of child groups are members too
//!     vars: { nginx_workers: auto }
//! ```
//!
//! Every host is in the implicit group `all`. Variable precedence, lowest
//! first: stack `vars` < group `vars` (`all`, then ancestors before their
//! children, groups of equal depth by name) < host `vars`.

use super::node::{Node, Spanned};
use super::{IgnoredNode, doc_error};
use crate::diag::{Diag, Diagnostics, SourceFile};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    #[default]
    Ssh,
    Local,
}

pub use crate::transport::ssh::HostKeyPolicy;

/// How the connecting user logs in: with a key (agent, identity file) or
/// a password (e.g. through your ssh_config). Used by the lockout analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    #[default]
    Key,
    Password,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostDef {
    address: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    identity_file: Option<String>,
    #[serde(rename = "become")]
    become_root: Option<bool>,
    host_key: Option<HostKeyPolicy>,
    #[serde(default)]
    transport: TransportKind,
    ssh_config: Option<String>,
    bootstrap_port: Option<u16>,
    bootstrap_user: Option<String>,
    #[serde(default)]
    allow_lockout_risk: bool,
    confirm_timeout: Option<u64>,
    #[serde(default)]
    auth: Auth,
    #[serde(default)]
    #[allow(dead_code)]
    vars: IgnoredNode,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupDef {
    #[serde(default)]
    hosts: Vec<Spanned<String>>,
    #[serde(default)]
    children: Vec<Spanned<String>>,
    #[serde(default)]
    #[allow(dead_code)]
    vars: IgnoredNode,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryDoc {
    #[serde(default)]
    hosts: BTreeMap<Spanned<String>, HostDef>,
    #[serde(default)]
    groups: BTreeMap<Spanned<String>, GroupDef>,
}

/// The inventory read entry by entry, after the whole document failed:
/// each broken host or group is reported and kept with default settings
/// (a run with errors never connects). `None` when the problem is not in
/// an entry (an unknown top-level key, `hosts:` not a map).
fn partial_doc(src: &SourceFile, node: &Node, diags: &mut Diagnostics) -> Option<InventoryDoc> {
    use super::node::Value;
    let keys_ok = node
        .as_map()?
        .iter()
        .all(|(k, _)| matches!(k.as_scalar_text(), Some("hosts" | "groups")));
    if !keys_ok {
        return None;
    }
    let entries = |key: &str| -> Option<Vec<(Spanned<String>, &Node)>> {
        match node.get(key) {
            None => Some(Vec::new()),
            Some(n) if n.value == Value::Null => Some(Vec::new()),
            Some(n) => n
                .as_map()?
                .iter()
                .map(|(k, v)| Some((k.deserialize::<Spanned<String>>().ok()?, v)))
                .collect(),
        }
    };
    let (hosts, groups) = (entries("hosts")?, entries("groups")?);
    let mut reported = false;
    let mut doc = InventoryDoc {
        hosts: BTreeMap::new(),
        groups: BTreeMap::new(),
    };
    for (name, v) in hosts {
        let def = match v.deserialize::<HostDef>() {
            Ok(d) => d,
            Err(e) => {
                reported = true;
                diags.push(doc_error(src, v, &e, &format!("host `{}`", name.value)));
                Node::new(v.span, Value::Map(Vec::new()))
                    .deserialize()
                    .ok()?
            }
        };
        doc.hosts.insert(name, def);
    }
    for (name, v) in groups {
        let def = match v.deserialize::<GroupDef>() {
            Ok(d) => d,
            Err(e) => {
                reported = true;
                diags.push(doc_error(src, v, &e, &format!("group `{}`", name.value)));
                GroupDef {
                    hosts: v
                        .get("hosts")
                        .and_then(|h| h.deserialize().ok())
                        .unwrap_or_default(),
                    children: v
                        .get("children")
                        .and_then(|h| h.deserialize().ok())
                        .unwrap_or_default(),
                    vars: IgnoredNode,
                }
            }
        };
        doc.groups.insert(name, def);
    }
    reported.then_some(doc)
}

impl PartialOrd for Spanned<String> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Spanned<String> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}

/// A host as keel connects to it.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub address: String,
    pub port: Option<u16>,
    pub user: String,
    pub identity_file: Option<String>,
    pub become_root: bool,
    pub host_key: HostKeyPolicy,
    pub transport: TransportKind,
    pub ssh_config: Option<String>,
    /// Where a fresh server still listens before the stack moves sshd
    /// (`port: 2222` + `bootstrap_port: 22`): used when `port` does not answer.
    pub bootstrap_port: Option<u16>,
    /// Who to log in as before the stack creates `user` (e.g. root on a
    /// fresh server): used when `user` cannot log in yet.
    pub bootstrap_user: Option<String>,
    /// Turn lockout refusals into warnings for this host.
    pub allow_lockout_risk: bool,
    /// Seconds after which an unconfirmed SSH or firewall change reverts.
    pub confirm_timeout: Option<u64>,
    /// The connecting user logs in with a password (`auth: password`).
    pub password_auth: bool,
    /// Host vars as written (a map node), with their source.
    pub vars: Option<(SourceFile, Node)>,
    pub source: SourceFile,
    pub span: super::node::Span,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub hosts: Vec<Spanned<String>>,
    pub children: Vec<Spanned<String>>,
    pub vars: Option<(SourceFile, Node)>,
    pub source: SourceFile,
    pub span: super::node::Span,
}

/// Every host and group from one or more inventory files.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub hosts: BTreeMap<String, Host>,
    pub groups: BTreeMap<String, Group>,
}

impl Inventory {
    /// Load inventory files (a file, or every `*.yaml`/`*.yml` of a folder).
    /// Load inventory files; problems are collected and the hosts that
    /// could be read are kept.
    pub fn load(path: &Path) -> (Inventory, Diagnostics) {
        // Ansible's INI and YAML inventories are read as they are.
        if let Some(loaded) = super::ansible::load(path) {
            return loaded;
        }
        let files = match super::yaml_files(path) {
            Ok(f) => f,
            Err(d) => return (Inventory::default(), d),
        };
        let mut inv = Inventory::default();
        let mut diags = Diagnostics::new();
        for f in files {
            match super::read_source(&f) {
                Ok((src, node)) => inv.add_doc(&src, &node, &mut diags),
                Err(d) => diags.extend(d),
            }
        }
        inv.check(&mut diags);
        (inv, diags)
    }

    fn add_doc(&mut self, src: &SourceFile, node: &Node, diags: &mut Diagnostics) {
        if node.value == super::node::Value::Null {
            return;
        }
        let doc: InventoryDoc = match node.deserialize() {
            Ok(d) => d,
            // Keep the hosts and groups that read well, so one mistake in
            // one host does not hide every problem of the stack.
            Err(e) => match partial_doc(src, node, diags) {
                Some(d) => d,
                None => return diags.push(doc_error(src, node, &e, "inventory")),
            },
        };
        let sub = |key: &str, name: &str| -> Option<(SourceFile, Node)> {
            let v = node.get(key)?.get(name)?.get("vars")?;
            (v.value != super::node::Value::Null).then(|| (src.clone(), v.clone()))
        };
        for (name, h) in doc.hosts {
            if let Some(prev) = self.hosts.get(&name.value) {
                diags.push(
                    Diag::at(
                        "keel::inventory",
                        src,
                        name.span,
                        format!("host `{}` is defined twice", name.value),
                        "second definition",
                    )
                    .with_help(format!("it is first defined in {}", prev.source.name)),
                );
                continue;
            }
            let user = h.user.clone().unwrap_or_else(|| "root".into());
            let vars = sub("hosts", &name.value);
            if let Some((_, v)) = &vars {
                check_vars_map(src, v, diags);
            }
            self.hosts.insert(
                name.value.clone(),
                Host {
                    address: h.address.clone().unwrap_or_else(|| name.value.clone()),
                    port: h.port,
                    become_root: h
                        .become_root
                        .unwrap_or(h.transport == TransportKind::Ssh && user != "root"),
                    user,
                    identity_file: h.identity_file,
                    host_key: h.host_key.unwrap_or_default(),
                    transport: h.transport,
                    ssh_config: h.ssh_config,
                    bootstrap_port: h.bootstrap_port,
                    bootstrap_user: h.bootstrap_user,
                    allow_lockout_risk: h.allow_lockout_risk,
                    confirm_timeout: h.confirm_timeout,
                    password_auth: h.auth == Auth::Password,
                    vars,
                    source: src.clone(),
                    span: name.span,
                    name: name.value,
                },
            );
        }
        for (name, g) in doc.groups {
            if name.value == "all" && !(g.hosts.is_empty() && g.children.is_empty()) {
                diags.push(
                    Diag::at(
                        "keel::inventory",
                        src,
                        name.span,
                        "`all` is a built-in group: it takes only `vars`",
                        "here",
                    )
                    .with_help("every host is in `all`; remove its `hosts` and `children`"),
                );
                continue;
            }
            let vars = sub("groups", &name.value);
            if let Some((_, v)) = &vars {
                check_vars_map(src, v, diags);
            }
            self.groups.insert(
                name.value.clone(),
                Group {
                    hosts: g.hosts,
                    children: g.children,
                    vars,
                    source: src.clone(),
                    span: name.span,
                    name: name.value,
                },
            );
        }
    }

    fn check(&self, diags: &mut Diagnostics) {
        for g in self.groups.values() {
            for h in &g.hosts {
                if !self.hosts.contains_key(&h.value) {
                    diags.push(
                        Diag::at(
                            "keel::inventory",
                            &g.source,
                            h.span,
                            format!("group `{}` lists unknown host `{}`", g.name, h.value),
                            "no such host",
                        )
                        .with_help(super::closest_hint(&h.value, self.hosts.keys())),
                    );
                }
            }
            for c in &g.children {
                if !self.groups.contains_key(&c.value) {
                    diags.push(
                        Diag::at(
                            "keel::inventory",
                            &g.source,
                            c.span,
                            format!("group `{}` lists unknown child group `{}`", g.name, c.value),
                            "no such group",
                        )
                        .with_help(super::closest_hint(&c.value, self.groups.keys())),
                    );
                }
            }
        }
        // Cycles among groups.
        for g in self.groups.values() {
            let mut seen = BTreeSet::new();
            if self.reaches(&g.name, &g.name, &mut seen, true) {
                diags.push(
                    Diag::at(
                        "keel::inventory",
                        &g.source,
                        g.span,
                        format!(
                            "group `{}` is its own descendant through `children`",
                            g.name
                        ),
                        "cycle",
                    )
                    .with_help("remove one of the `children` links"),
                );
                break;
            }
        }
    }

    fn reaches(&self, from: &str, target: &str, seen: &mut BTreeSet<String>, first: bool) -> bool {
        if !first && from == target {
            return true;
        }
        if !seen.insert(from.to_string()) {
            return false;
        }
        self.groups.get(from).is_some_and(|g| {
            g.children
                .iter()
                .any(|c| self.reaches(&c.value, target, seen, false))
        })
    }

    /// Every host in a group, including its child groups' hosts. `all` is
    /// every host.
    pub fn group_hosts(&self, group: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut seen = BTreeSet::new();
        self.collect(group, &mut out, &mut seen);
        out
    }

    fn collect(&self, group: &str, out: &mut BTreeSet<String>, seen: &mut BTreeSet<String>) {
        if group == "all" {
            out.extend(self.hosts.keys().cloned());
            return;
        }
        if !seen.insert(group.to_string()) {
            return;
        }
        if let Some(g) = self.groups.get(group) {
            out.extend(g.hosts.iter().map(|h| h.value.clone()));
            for c in &g.children {
                self.collect(&c.value, out, seen);
            }
        }
    }

    /// Groups a host belongs to (directly or through a child group), in
    /// variable-precedence order: `all` first, ancestors before children,
    /// same depth by name.
    pub fn host_groups(&self, host: &str) -> Vec<String> {
        let mut member: Vec<(usize, String)> = self
            .groups
            .keys()
            .filter(|g| *g != "all" && self.group_hosts(g).contains(host))
            .map(|g| (self.depth(g), g.clone()))
            .collect();
        member.sort();
        std::iter::once("all".to_string())
            .chain(member.into_iter().map(|(_, g)| g))
            .collect()
    }

    fn depth(&self, group: &str) -> usize {
        self.depth_guarded(group, 0)
    }

    fn depth_guarded(&self, group: &str, guard: usize) -> usize {
        if guard > self.groups.len() {
            return 0;
        }
        self.groups
            .values()
            .filter(|g| g.children.iter().any(|c| c.value == group))
            .map(|p| 1 + self.depth_guarded(&p.name, guard + 1))
            .max()
            .unwrap_or(0)
    }

    /// A name that is a host or a group (or `all`).
    pub fn knows(&self, name: &str) -> bool {
        name == "all" || self.hosts.contains_key(name) || self.groups.contains_key(name)
    }

    /// Hosts named by a host or group name.
    pub fn expand(&self, name: &str) -> BTreeSet<String> {
        if self.hosts.contains_key(name) {
            BTreeSet::from([name.to_string()])
        } else {
            self.group_hosts(name)
        }
    }
}

fn check_vars_map(src: &SourceFile, v: &Node, diags: &mut Diagnostics) {
    if v.as_map().is_none() {
        diags.push(Diag::at(
            "keel::inventory",
            src,
            v.span,
            format!("`vars` must be a map, found {}", v.type_name()),
            "here",
        ));
    }
}

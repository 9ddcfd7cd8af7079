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
//!     confirm_timeout: 120      # seconds (10 to 3600) before an unconfirmed SSH/firewall change reverts
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

use super::node::{Node, Span, Spanned};
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
        let files = match super::yaml_files(path) {
            Ok(f) => f,
            Err(d) => return (Inventory::default(), d),
        };
        let mut inv = Inventory::default();
        let mut diags = Diagnostics::new();
        let mut first = None;
        let mut read_all = true;
        for f in files {
            match super::read_source(&f) {
                Ok((src, node)) => {
                    let at = node.get("hosts").map_or(node.span, |h| h.span);
                    first.get_or_insert((src.clone(), at));
                    inv.add_doc(&src, &node, &mut diags);
                }
                Err(d) => {
                    read_all = false;
                    diags.extend(d);
                }
            }
        }
        if inv.hosts.is_empty()
            && read_all
            && diags.is_empty()
            && let Some((src, at)) = first
        {
            // Every target would name nothing and the run would do nothing.
            diags.push(
                Diag::at(
                    "keel::inventory",
                    &src,
                    at,
                    "the inventory defines no hosts",
                    "no hosts here",
                )
                .with_help(
                    "add hosts, e.g.\n  hosts:\n    web1: { address: 203.0.113.10 }\nor pass another inventory with -i/--inventory",
                ),
            );
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
            Err(e) => return diags.push(doc_error(src, node, &e, "inventory")),
        };
        let sub = |key: &str, name: &str| -> Option<(SourceFile, Node)> {
            let v = node.get(key)?.get(name)?.get("vars")?;
            (v.value != super::node::Value::Null).then(|| (src.clone(), v.clone()))
        };
        for (name, h) in doc.hosts {
            check_host(src, node, &name, &h, diags);
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
            if name.value == "all" {
                diags.push(
                    Diag::at(
                        "keel::inventory",
                        src,
                        name.span,
                        "`all` is a built-in group and cannot be redefined",
                        "here",
                    )
                    .with_help("every host is in `all`; put shared vars in the stack's `vars`"),
                );
                continue;
            }
            if name.value.trim().is_empty() {
                diags.push(Diag::at(
                    "keel::inventory",
                    src,
                    name.span,
                    "a group name is empty",
                    "here",
                ));
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
            if let Some(h) = self.hosts.get(&g.name) {
                // `--limit`, `targets` and `hosts:` lists could not tell them apart.
                diags.push(
                    Diag::at(
                        "keel::inventory",
                        &g.source,
                        g.span,
                        format!("`{}` is both a host and a group", g.name),
                        "group",
                    )
                    .with_help(format!(
                        "rename one of them: targets and --limit name either, and the host `{}` (in {}) would hide the group's members",
                        h.name, h.source.name
                    )),
                );
            }
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
            .filter(|g| self.group_hosts(g).contains(host))
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

/// Seconds accepted for `confirm_timeout` (and `--confirm-timeout`): 0
/// would revert a change before keel could confirm it, and hours would
/// leave a host you are locked out of unreachable for that long.
pub const CONFIRM_TIMEOUTS: std::ops::RangeInclusive<u64> = 10..=3600;

/// Problems of one host that serde cannot see: names and addresses ssh
/// would misread, port 0, names no system accepts.
fn check_host(
    src: &SourceFile,
    doc: &Node,
    name: &Spanned<String>,
    h: &HostDef,
    diags: &mut Diagnostics,
) {
    let field = |key: &str| -> Span {
        doc.get("hosts")
            .and_then(|hs| hs.get(&name.value))
            .and_then(|n| n.get(key))
            .map_or(name.span, |n| n.span)
    };
    let mut bad = |span: Span, message: String, help: &str| {
        diags.push(Diag::at("keel::inventory", src, span, message, "here").with_help(help));
    };
    if name.value.trim().is_empty() {
        bad(
            name.span,
            "a host name is empty".into(),
            "name the host, e.g. `web1:`",
        );
    } else if name.value == "all" {
        bad(
            name.span,
            "`all` is the built-in group of every host and cannot be a host's name".into(),
            "rename the host",
        );
    }
    let address = h.address.as_deref().unwrap_or(&name.value);
    if !name.value.trim().is_empty()
        && (address.is_empty()
            || address.starts_with('-')
            || address.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        bad(
            field("address"),
            format!("`{}` is not a valid address", address.escape_debug()),
            "a host name, an IP address or a `Host` alias of your ssh_config; it must not be empty, start with `-` or contain spaces",
        );
    }
    for (key, port) in [("port", h.port), ("bootstrap_port", h.bootstrap_port)] {
        if port == Some(0) {
            bad(
                field(key),
                format!("`{key}` is 0, which no server listens on"),
                "a TCP port from 1 to 65535 (ssh's default is 22)",
            );
        }
    }
    for (key, path) in [
        ("identity_file", &h.identity_file),
        ("ssh_config", &h.ssh_config),
    ] {
        if path.as_deref().is_some_and(|p| p.trim().is_empty()) {
            bad(
                field(key),
                format!("`{key}` is empty"),
                "give a path, or remove the key",
            );
        }
    }
    if let Some(t) = h.confirm_timeout
        && !CONFIRM_TIMEOUTS.contains(&t)
    {
        bad(
            field("confirm_timeout"),
            format!(
                "`confirm_timeout` is {t} seconds: it must be from {} to {}",
                CONFIRM_TIMEOUTS.start(),
                CONFIRM_TIMEOUTS.end()
            ),
            "long enough for keel to reconnect and confirm, short enough that a host you are locked out of comes back",
        );
    }
    for (key, user) in [("user", &h.user), ("bootstrap_user", &h.bootstrap_user)] {
        if let Some(u) = user
            && !crate::resources::group::valid_name(u, true)
        {
            bad(
                field(key),
                format!("`{}` is not a valid user name", u.escape_debug()),
                "a user name starts with a letter or `_` and continues with letters, digits, `_`, `-` or `.` (at most 32 characters)",
            );
        }
    }
}

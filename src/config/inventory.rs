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

use super::{IgnoredNode, doc_error};
use crate::diag::{Diag, Diagnostics, SourceFile};
use crate::node::{Node, Span, Spanned};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    #[default]
    Ssh,
    Local,
}

pub use crate::transport::ssh::HostKeyPolicy;

/// How the connecting user logs in: with a key (agent, identity file) or
/// a password (e.g. through your ssh_config). Used by the lockout analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    #[default]
    Key,
    Password,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct HostDef {
    /// Address or DNS name to connect to [default: the host's name].
    address: Option<String>,
    /// SSH port [default: 22, or your ssh_config's].
    port: Option<u16>,
    /// The user keel logs in as [default: root].
    user: Option<String>,
    /// The private key to log in with.
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
    #[schemars(schema_with = "crate::schema::fields::vars")]
    vars: IgnoredNode,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct GroupDef {
    #[serde(default)]
    hosts: Vec<Spanned<String>>,
    #[serde(default)]
    children: Vec<Spanned<String>>,
    #[serde(default)]
    #[allow(dead_code)]
    #[schemars(schema_with = "crate::schema::fields::vars")]
    vars: IgnoredNode,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
/// An inventory: hosts, how to reach them, and groups of them.
pub(crate) struct InventoryDoc {
    /// Hosts by name.
    #[serde(default)]
    hosts: BTreeMap<Spanned<String>, HostDef>,
    /// Groups by name: hosts and child groups.
    #[serde(default)]
    groups: BTreeMap<Spanned<String>, GroupDef>,
}

/// The inventory read entry by entry, after the whole document failed:
/// each broken host or group is reported and kept with default settings
/// (a run with errors never connects). `None` when the problem is not in
/// an entry (an unknown top-level key, `hosts:` not a map).
fn partial_doc(src: &SourceFile, node: &Node, diags: &mut Diagnostics) -> Option<InventoryDoc> {
    use crate::node::Value;
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
}

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub hosts: Vec<Spanned<String>>,
    pub children: Vec<Spanned<String>>,
    pub vars: Option<(SourceFile, Node)>,
    pub source: SourceFile,
    pub span: crate::node::Span,
}

/// Every host and group from one or more inventory files.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub hosts: BTreeMap<String, Host>,
    pub groups: BTreeMap<String, Group>,
}

impl Inventory {
    /// Load inventory files of keel's format (a file, or every
    /// `*.yaml`/`*.yml` of a folder); problems are collected and the hosts
    /// that could be read are kept. [`Inventory::load`] reads Ansible's too.
    pub fn load_keel(path: &Path) -> (Inventory, Diagnostics) {
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
        if node.value == crate::node::Value::Null {
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
        // name → node of each host and group, built once (looking each one
        // up in the list was quadratic: 20,000 groups took minutes).
        let index = |key: &str| -> BTreeMap<&str, &Node> {
            node.get(key)
                .and_then(Node::as_map)
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.as_scalar_text()?, v)))
                .collect()
        };
        let (host_nodes, group_nodes) = (index("hosts"), index("groups"));
        let sub = |nodes: &BTreeMap<&str, &Node>, name: &str| -> Option<(SourceFile, Node)> {
            let v = nodes.get(name)?.get("vars")?;
            (v.value != crate::node::Value::Null).then(|| (src.clone(), v.clone()))
        };
        for (name, h) in doc.hosts {
            check_host(
                src,
                host_nodes.get(name.value.as_str()).copied(),
                &name,
                &h,
                diags,
            );
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
            let vars = sub(&host_nodes, &name.value);
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
            if name.value.trim().is_empty() {
                diags.push(Diag::at(
                    "keel::inventory",
                    src,
                    name.span,
                    "a group name is empty",
                    "here",
                ));
            }
            let vars = sub(&group_nodes, &name.value);
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
                        .with_help(crate::suggest::closest_hint(&h.value, self.hosts.keys())),
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
                        .with_help(crate::suggest::closest_hint(&c.value, self.groups.keys())),
                    );
                }
            }
        }
        // Cycles among groups: one walk over every group (not one per group,
        // and without recursion: chains of 20,000 groups are fine).
        if let Some(name) = self.group_on_a_cycle()
            && let Some(g) = self.groups.get(name)
        {
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
        }
    }

    /// A group that is its own descendant, if any: a depth-first walk in
    /// name order; the first `children` link back to a group still being
    /// walked closes a cycle through that group.
    fn group_on_a_cycle(&self) -> Option<&str> {
        #[derive(Clone, Copy, PartialEq)]
        enum State {
            Walking,
            Done,
        }
        let mut state: BTreeMap<&str, State> = BTreeMap::new();
        for start in self.groups.keys() {
            if state.contains_key(start.as_str()) {
                continue;
            }
            // (group, index of the next child to visit)
            let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
            state.insert(start, State::Walking);
            while let Some((g, i)) = stack.pop() {
                let children = self.groups.get(g).map_or(&[][..], |x| &x.children[..]);
                let Some(c) = children.get(i) else {
                    state.insert(g, State::Done);
                    continue;
                };
                stack.push((g, i + 1));
                let c = c.value.as_str();
                match state.get(c) {
                    Some(State::Walking) => return Some(c),
                    Some(State::Done) => {}
                    None if self.groups.contains_key(c) => {
                        state.insert(c, State::Walking);
                        stack.push((c, 0));
                    }
                    None => {}
                }
            }
        }
        None
    }

    /// Every host in a group, including its child groups' hosts. `all` is
    /// every host.
    pub fn group_hosts(&self, group: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut seen = BTreeSet::new();
        self.collect(group, &mut out, &mut seen);
        out
    }

    /// Iterative: a chain of 20,000 groups must not overflow the stack.
    fn collect(&self, group: &str, out: &mut BTreeSet<String>, seen: &mut BTreeSet<String>) {
        let mut todo = vec![group];
        while let Some(group) = todo.pop() {
            if group == "all" {
                out.extend(self.hosts.keys().cloned());
                continue;
            }
            if !seen.insert(group.to_string()) {
                continue;
            }
            if let Some(g) = self.groups.get(group) {
                out.extend(g.hosts.iter().map(|h| h.value.clone()));
                todo.extend(g.children.iter().map(|c| c.value.as_str()));
            }
        }
    }

    /// Groups a host belongs to (directly or through a child group), in
    /// variable-precedence order: `all` first, ancestors before children,
    /// same depth by name. Linear in the size of the inventory: the code
    /// builds a [`GroupIndex`] once and asks it; this is for tests.
    #[cfg(test)]
    pub fn host_groups(&self, host: &str) -> Vec<String> {
        GroupIndex::new(self).host_groups(self, host)
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
    node: Option<&Node>,
    name: &Spanned<String>,
    h: &HostDef,
    diags: &mut Diagnostics,
) {
    let field = |key: &str| -> Span { node.and_then(|n| n.get(key)).map_or(name.span, |n| n.span) };
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
            && !crate::resources::common::accounts::valid_name(u, true)
        {
            bad(
                field(key),
                format!("`{}` is not a valid user name", u.escape_debug()),
                "a user name starts with a letter or `_` and continues with letters, digits, `_`, `-` or `.` (at most 32 characters)",
            );
        }
    }
}

/// Who lists whom in an inventory, made once (linear in its size) so that
/// each host's groups cost only that host's groups: asking the inventory
/// itself for every host's groups is quadratic in hosts (each question
/// scans every group's host list).
#[derive(Debug, Clone, Default)]
pub struct GroupIndex {
    /// Group → the groups listing it as a child.
    parents: BTreeMap<String, Vec<String>>,
    /// Host → the groups listing it.
    listed_in: std::collections::HashMap<String, Vec<String>>,
}

impl GroupIndex {
    pub fn new(inv: &Inventory) -> Self {
        let mut ix = GroupIndex::default();
        for g in inv.groups.values() {
            for c in &g.children {
                ix.parents
                    .entry(c.value.clone())
                    .or_default()
                    .push(g.name.clone());
            }
            for h in &g.hosts {
                ix.listed_in
                    .entry(h.value.clone())
                    .or_default()
                    .push(g.name.clone());
            }
        }
        ix
    }

    /// [`Inventory::host_groups`] of `inv`, the inventory this index was
    /// made from: in the size of the host's own groups.
    pub fn host_groups(&self, inv: &Inventory, host: &str) -> Vec<String> {
        let parents = |g: &str| {
            self.parents
                .get(g)
                .into_iter()
                .flatten()
                .map(String::as_str)
        };
        // The groups listing the host, then every ancestor of those.
        let mut member: BTreeSet<&str> = BTreeSet::new();
        let mut todo: Vec<&str> = self
            .listed_in
            .get(host)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        while let Some(g) = todo.pop() {
            if member.insert(g) {
                todo.extend(parents(g));
            }
        }
        // Depth: the longest chain of parents above a group. Every parent of
        // a member is a member, so a topological walk of the members from
        // the top gives it (groups on a cycle, reported at load, stay 0).
        let mut waiting: BTreeMap<&str, usize> =
            member.iter().map(|g| (*g, parents(g).count())).collect();
        let mut depths: BTreeMap<&str, usize> = BTreeMap::new();
        let mut ready: Vec<&str> = waiting
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(g, _)| *g)
            .collect();
        while let Some(g) = ready.pop() {
            let d = *depths.entry(g).or_insert(0);
            for c in inv.groups.get(g).into_iter().flat_map(|x| &x.children) {
                let c = c.value.as_str();
                if let Some(n) = waiting.get_mut(c) {
                    let e = depths.entry(c).or_insert(0);
                    *e = (*e).max(d + 1);
                    *n -= 1;
                    if *n == 0 {
                        ready.push(c);
                    }
                }
            }
        }
        let mut ordered: Vec<(usize, String)> = member
            .iter()
            .filter(|g| **g != "all")
            .map(|g| (depths.get(g).copied().unwrap_or(0), g.to_string()))
            .collect();
        ordered.sort();
        std::iter::once("all".to_string())
            .chain(ordered.into_iter().map(|(_, g)| g))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Inventory {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("inventory.yaml");
        std::fs::write(&p, yaml).unwrap();
        let (inv, diags) = Inventory::load(&p);
        assert!(diags.is_empty(), "{:?}", diags.0);
        inv
    }

    /// The definition: every group whose hosts (children included) hold
    /// the host, ordered by the longest chain of parents, then by name.
    fn reference(inv: &Inventory, host: &str) -> Vec<String> {
        fn depth(inv: &Inventory, g: &str) -> usize {
            inv.groups
                .values()
                .filter(|p| p.children.iter().any(|c| c.value == g))
                .map(|p| 1 + depth(inv, &p.name))
                .max()
                .unwrap_or(0)
        }
        let mut v: Vec<(usize, String)> = inv
            .groups
            .keys()
            .filter(|g| inv.group_hosts(g).contains(host))
            .map(|g| (depth(inv, g), g.clone()))
            .collect();
        v.sort();
        std::iter::once("all".to_string())
            .chain(v.into_iter().map(|(_, g)| g))
            .collect()
    }

    #[test]
    fn host_groups_in_precedence_order() {
        let inv = load(
            "hosts: { h: {}, h2: {}, h3: {} }\ngroups:\n  a: { children: [b] }\n  b: { hosts: [h], children: [c] }\n  c: { hosts: [h2] }\n  z: { hosts: [h] }\n  d: { children: [c, b] }\n",
        );
        assert_eq!(inv.host_groups("h"), ["all", "a", "d", "z", "b"]);
        assert_eq!(inv.host_groups("h2"), ["all", "a", "d", "b", "c"]);
        assert_eq!(inv.host_groups("h3"), ["all"]);
        // Many shapes: the same answer as the definition.
        for seed in 0..40u64 {
            let mut x = seed * 2654435761 + 1;
            let mut rand = |n: u64| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33) % n
            };
            let mut yaml = String::from("hosts: { h0: {}, h1: {}, h2: {} }\ngroups:\n");
            for g in 0..8 {
                // Children only point to later groups: no cycles.
                let children: Vec<String> = (g + 1..8)
                    .filter(|_| rand(4) == 0)
                    .map(|c| format!("g{c}"))
                    .collect();
                let hosts: Vec<String> = (0..3)
                    .filter(|_| rand(3) == 0)
                    .map(|h| format!("h{h}"))
                    .collect();
                yaml.push_str(&format!(
                    "  g{g}: {{ hosts: [{}], children: [{}] }}\n",
                    hosts.join(", "),
                    children.join(", ")
                ));
            }
            let inv = load(&yaml);
            for h in ["h0", "h1", "h2"] {
                assert_eq!(inv.host_groups(h), reference(&inv, h), "{yaml}");
            }
        }
    }

    #[test]
    fn many_hosts_in_deep_groups_resolve_quickly() {
        let mut yaml = String::from("hosts:\n");
        for i in 0..500 {
            yaml.push_str(&format!("  h{i}: {{}}\n"));
        }
        yaml.push_str("groups:\n");
        for i in 0..200 {
            let child = if i < 199 {
                format!("g{}", i + 1)
            } else {
                String::new()
            };
            yaml.push_str(&format!(
                "  g{i}: {{ hosts: [h{i}], children: [{child}] }}\n"
            ));
        }
        let inv = load(&yaml);
        let start = std::time::Instant::now();
        for i in 0..500 {
            inv.host_groups(&format!("h{i}"));
        }
        // Minutes before; a few milliseconds now.
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(inv.host_groups("h199").len(), 201);
    }
}

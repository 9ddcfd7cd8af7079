//! The resource graph of one host (petgraph), built in small ordered steps
//! like Terraform's transformers: nodes, explicit `depends_on`, `notify`,
//! implicit edges (a file after its directory, a service after its package,
//! anything under a home after its user), then a cycle check that names
//! every resource on a cycle with the origin of each edge.

pub mod conflicts;
pub mod handlers;
pub mod render;
pub mod select;
pub mod unresolved;

#[cfg(test)]
mod tests;

use crate::diag::{Diag, Diagnostics, SourceFile};
use crate::node::Span;
use crate::resolve::{Reference, Resolved};
use crate::resources::Ref;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// Why an edge exists.
#[derive(Debug, Clone)]
pub enum Why {
    /// `depends_on:` written by the user.
    DependsOn { source: SourceFile, span: Span },
    /// `notify:`: the handler runs after its notifier.
    Notify { source: SourceFile, span: Span },
    /// Drawn by keel from what resources provide and need.
    Implicit(String),
}

impl Why {
    pub fn describe(&self) -> String {
        match self {
            Why::DependsOn { source, span } => {
                let (l, c) = source.line_col(span.offset);
                format!("depends_on at {}:{l}:{c}", source.name)
            }
            Why::Notify { source, span } => {
                let (l, c) = source.line_col(span.offset);
                format!("notify at {}:{l}:{c}", source.name)
            }
            Why::Implicit(r) => format!("implicit: {r}"),
        }
    }
    pub fn short(&self) -> &'static str {
        match self {
            Why::DependsOn { .. } => "depends_on",
            Why::Notify { .. } => "notify",
            Why::Implicit(_) => "implicit",
        }
    }
}

/// Edges point from a dependency to its dependent (apply order).
#[derive(Debug)]
pub struct Graph {
    pub g: DiGraph<usize, Why>,
    /// Node of each instance, by instance index.
    pub nodes: Vec<NodeIndex>,
    /// Instance indexes in apply order.
    pub order: Vec<usize>,
    /// For each instance, the instances it notifies.
    pub notifies: Vec<Vec<usize>>,
}

impl Graph {
    /// Direct dependencies of an instance.
    pub fn dependencies(&self, i: usize) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .g
            .edges_directed(self.nodes[i], petgraph::Direction::Incoming)
            .map(|e| self.g[e.source()])
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Direct dependencies that must succeed first: every edge but
    /// `notify` (a handler whose notifier failed still keeps its own state;
    /// it is just not notified).
    pub fn requirements(&self, i: usize) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .g
            .edges_directed(self.nodes[i], petgraph::Direction::Incoming)
            .filter(|e| !matches!(e.weight(), Why::Notify { .. }))
            .map(|e| self.g[e.source()])
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// For each instance, the first (lowest index) of its ancestors that
    /// is `marked`: `ancestors(i)` filtered by `marked`, first, for every
    /// instance in one pass in apply order (a walk of the ancestors of
    /// each instance was quadratic in a deep graph).
    pub fn first_marked_ancestors(&self, marked: &[bool]) -> Vec<Option<usize>> {
        let mut first: Vec<Option<usize>> = vec![None; self.nodes.len()];
        for &i in &self.order {
            let mut best: Option<usize> = None;
            for e in self
                .g
                .edges_directed(self.nodes[i], petgraph::Direction::Incoming)
            {
                let d = self.g[e.source()];
                for c in [marked[d].then_some(d), first[d]].into_iter().flatten() {
                    best = Some(best.map_or(c, |b| b.min(c)));
                }
            }
            first[i] = best;
        }
        first
    }

    /// For each instance, `join` of the `values` of all its ancestors
    /// (`bottom` for none), for every instance in one pass in apply order:
    /// each instance joins, over its direct dependencies, their value and
    /// what they hold. `join` must be associative, commutative and
    /// idempotent (`max`, `||`, `min`): an ancestor reached by two paths
    /// counts once.
    pub fn fold_ancestors<T: Copy>(
        &self,
        values: &[T],
        bottom: T,
        join: impl Fn(T, T) -> T,
    ) -> Vec<T> {
        let mut acc: Vec<T> = vec![bottom; self.nodes.len()];
        for &i in &self.order {
            let mut here = bottom;
            for e in self
                .g
                .edges_directed(self.nodes[i], petgraph::Direction::Incoming)
            {
                let d = self.g[e.source()];
                here = join(join(here, values[d]), acc[d]);
            }
            acc[i] = here;
        }
        acc
    }

    /// Every instance this one depends on, transitively.
    pub fn ancestors(&self, i: usize) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack = self.dependencies(i);
        while let Some(d) = stack.pop() {
            if seen.insert(d) {
                stack.extend(self.dependencies(d));
            }
        }
        seen
    }
}

/// Build the graph of one host's resources: the edge builders in order
/// (`depends_on`, `notify`, implicit, access order), then the problems
/// (conflicts, cycles), then the apply order.
pub fn build(res: &Resolved) -> Result<Graph, Diagnostics> {
    let mut edges = Edges::new(res);
    depends_on_edges(&mut edges);
    let notifies = notify_edges(&mut edges);
    implicit_edges(&mut edges);
    let Edges {
        edges, mut diags, ..
    } = edges;
    let mut g: DiGraph<usize, Why> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..res.instances.len()).map(|i| g.add_node(i)).collect();
    for ((from, to), why) in edges {
        g.add_edge(nodes[from], nodes[to], why);
    }
    access_order_edges(res, &mut g, &nodes);

    diags.extend(conflicts::file_and_line(res));
    for d in cycles(res, &g) {
        diags.push(d);
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let order = stable_order(&g, &nodes);
    Ok(Graph {
        g,
        nodes,
        order,
        notifies,
    })
}

/// The edges drawn so far between instances, each with the first reason
/// found for it (explicit edges are drawn first), and the problems found
/// drawing them.
struct Edges<'r> {
    res: &'r Resolved,
    by_addr: BTreeMap<&'r str, usize>,
    edges: BTreeMap<(usize, usize), Why>,
    diags: Diagnostics,
}

impl<'r> Edges<'r> {
    fn new(res: &'r Resolved) -> Self {
        let by_addr = res
            .instances
            .iter()
            .enumerate()
            .map(|(i, inst)| (inst.address.as_str(), i))
            .collect();
        Edges {
            res,
            by_addr,
            edges: BTreeMap::new(),
            diags: Diagnostics::new(),
        }
    }

    /// Draw `from` → `to`, unless an edge is there already.
    fn add(&mut self, from: usize, to: usize, why: Why) {
        self.edges.entry((from, to)).or_insert(why);
    }
}

/// Explicit `depends_on`: the dependent after each resource it names.
fn depends_on_edges(e: &mut Edges<'_>) {
    let res = e.res;
    for (i, inst) in res.instances.iter().enumerate() {
        // A module use's `depends_on` applies to each of its resources;
        // its problems are the use's (reported once, at the use).
        let who = |d: &Reference| match &d.by_use {
            Some(m) => format!("module.{m}"),
            None => inst.address.clone(),
        };
        for d in &inst.depends_on {
            if e.by_addr.get(d.value.as_str()) == Some(&i) {
                let through = match &d.by_use {
                    Some(m) => format!(" (through the `depends_on` of `module.{m}`)"),
                    None => String::new(),
                };
                e.diags.push(
                    Diag::at(
                        "keel::dangling",
                        &d.source,
                        d.span,
                        format!("`{}` depends on itself{through}", inst.address),
                        "here",
                    )
                    .with_help("remove this entry from `depends_on`"),
                );
                continue;
            }
            match lookup(res, &e.by_addr, &d.value) {
                Ok(targets) => {
                    for t in targets {
                        if t != i {
                            let why = Why::DependsOn {
                                source: d.source.clone(),
                                span: d.span,
                            };
                            e.add(t, i, why);
                        }
                    }
                }
                // Declared but broken: its own error is reported.
                Err(_) if res.unresolved.may_declare(&d.value) => {}
                Err(help) => e.diags.push(
                    Diag::at(
                        "keel::dangling",
                        &d.source,
                        d.span,
                        format!(
                            "`{}` depends on `{}`, which does not exist",
                            who(d),
                            d.value
                        ),
                        "unknown address",
                    )
                    .with_help(help),
                ),
            }
        }
    }
}

/// `notify`: each handler after its notifiers. Returns, for each instance,
/// the handlers it notifies.
fn notify_edges(e: &mut Edges<'_>) -> Vec<Vec<usize>> {
    let res = e.res;
    let mut notifies = vec![Vec::new(); res.instances.len()];
    for (i, inst) in res.instances.iter().enumerate() {
        for n in &inst.notify {
            match notify_target(e, i, n) {
                Ok(Some(t)) => {
                    notifies[i].push(t);
                    let why = Why::Notify {
                        source: n.source.clone(),
                        span: n.span,
                    };
                    e.add(i, t, why);
                }
                Ok(None) => {}
                Err(d) => e.diags.push(*d),
            }
        }
    }
    notifies
}

/// The handler that instance `i`'s `notify` entry `n` names: `None` when it
/// names a resource that failed to resolve (its own error is reported).
fn notify_target(e: &Edges<'_>, i: usize, n: &Reference) -> Result<Option<usize>, Box<Diag>> {
    let res = e.res;
    let inst = &res.instances[i];
    // `kind[name]`, or `module.INSTANCE.kind[name]` for one handler of a
    // module instance.
    let target = e.by_addr.get(n.value.as_str()).copied().or_else(|| {
        let m = n.value.strip_prefix("module.")?;
        match lookup_in_module(res, &e.by_addr, m)? {
            Ok(v) if v.len() == 1 => Some(v[0]),
            _ => None,
        }
    });
    match target {
        Some(t) if t == i => Err(Box::new(Diag::at(
            "keel::notify",
            &n.source,
            n.span,
            format!("`{}` notifies itself", inst.address),
            "here",
        ))),
        Some(t) if !res.instances[t].resource.notifiable() => Err(Box::new(
            Diag::at(
                "keel::notify",
                &n.source,
                n.span,
                format!("`{}` cannot be notified", n.value),
                "not a handler",
            )
            .with_help(handlers::help(
                &res.instances
                    .iter()
                    .filter(|h| h.resource.notifiable())
                    .map(|h| h.address.clone())
                    .collect::<Vec<_>>(),
            )),
        )),
        Some(t) => Ok(Some(t)),
        None if res.unresolved.may_declare(&n.value) => Ok(None),
        None => Err(Box::new(
            Diag::at(
                "keel::dangling",
                &n.source,
                n.span,
                format!(
                    "`{}` notifies `{}`, which does not exist",
                    inst.address, n.value
                ),
                "unknown address",
            )
            .with_help(address_hint(res, &n.value)),
        )),
    }
}

/// Implicit edges from what resources provide and need: a file after its
/// directory, a service after its package, anything under a home after
/// its user.
fn implicit_edges(e: &mut Edges<'_>) {
    let res = e.res;
    let links: Vec<_> = res.instances.iter().map(|i| i.resource.links()).collect();
    let mut providers: BTreeMap<&Ref, usize> = BTreeMap::new();
    for (i, l) in links.iter().enumerate() {
        for p in &l.provides {
            providers.entry(p).or_insert(i);
        }
    }
    for (i, l) in links.iter().enumerate() {
        for need in &l.needs {
            let found = match need {
                Ref::Path(p) => nearest_path_provider(&providers, p, i),
                other => providers.get(other).copied().filter(|&t| t != i),
            };
            if let Some(t) = found {
                let why = format!(
                    "{} needs {need}, provided by {}",
                    res.instances[i].address, res.instances[t].address
                );
                e.add(t, i, Why::Implicit(why));
            }
        }
    }
}

/// Access order: whatever lets someone log in (users with keys) comes
/// before whatever can cut access (sshd, firewall), so the confirmation
/// of those changes can log in as the inventory's user. Drawn on the
/// graph of the other edges, and only where it makes no cycle.
fn access_order_edges(res: &Resolved, g: &mut DiGraph<usize, Why>, nodes: &[NodeIndex]) {
    let grants: Vec<usize> = (0..res.instances.len())
        .filter(|&i| res.instances[i].resource.grants_access())
        .collect();
    if grants.is_empty() {
        // Nothing to put first: what can cut access (each resource's
        // touches worked out) is not looked for.
        return;
    }
    let cuts: Vec<usize> = (0..res.instances.len())
        .filter(|&i| crate::lockout::can_cut_access(res.instances[i].resource.as_ref()))
        .collect();
    for &c in &cuts {
        // One walk per cut, not one per (cut, grant) pair: an edge drawn
        // below points into `c`, so it adds no path from `c`.
        let mut reach = vec![false; g.node_count()];
        let mut dfs = petgraph::visit::Dfs::new(&*g, nodes[c]);
        while let Some(n) = dfs.next(&*g) {
            reach[n.index()] = true;
        }
        for &u in &grants {
            let (from, to) = (nodes[u], nodes[c]);
            if u != c && g.find_edge(from, to).is_none() && !reach[from.index()] {
                let why = format!(
                    "{} lets someone log in before {} can change access",
                    res.instances[u].address, res.instances[c].address
                );
                g.add_edge(from, to, Why::Implicit(why));
            }
        }
    }
}

/// Cycles: every strongly connected component with more than one node,
/// naming every resource on it and the origin of each edge.
fn cycles(res: &Resolved, g: &DiGraph<usize, Why>) -> Vec<Diag> {
    let mut out = Vec::new();
    for scc in tarjan_scc(g) {
        if scc.len() < 2 {
            continue;
        }
        let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
        let mut idx: Vec<usize> = scc.iter().map(|n| g[*n]).collect();
        idx.sort();
        let names: Vec<&str> = idx
            .iter()
            .map(|&i| res.instances[i].address.as_str())
            .collect();
        let mut lines = Vec::new();
        for e in g.edge_references() {
            if members.contains(&e.source()) && members.contains(&e.target()) {
                lines.push(format!(
                    "{} → {} ({})",
                    res.instances[g[e.source()]].address,
                    res.instances[g[e.target()]].address,
                    e.weight().describe()
                ));
            }
        }
        let first = &res.instances[idx[0]];
        let mut d = Diag::at(
            "keel::cycle",
            &first.origin.source,
            first.span,
            format!("dependency cycle between {}", names.join(", ")),
            "on the cycle",
        )
        .with_help(format!(
            "edges on the cycle:\n  {}\nremove one of these dependencies",
            lines.join("\n  ")
        ));
        for &i in &idx[1..] {
            let inst = &res.instances[i];
            if inst.origin.source.name == first.origin.source.name {
                d = d.with_note(inst.span, "on the cycle");
            }
        }
        out.push(d);
    }
    out
}

/// Stable topological order: among ready resources, the one declared first.
fn stable_order(g: &DiGraph<usize, Why>, nodes: &[NodeIndex]) -> Vec<usize> {
    let mut indeg: Vec<usize> = nodes
        .iter()
        .map(|n| g.edges_directed(*n, petgraph::Direction::Incoming).count())
        .collect();
    let mut ready: BinaryHeap<Reverse<usize>> = (0..nodes.len())
        .filter(|&i| indeg[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for e in g.edges_directed(nodes[i], petgraph::Direction::Outgoing) {
            let t = g[e.target()];
            indeg[t] -= 1;
            if indeg[t] == 0 {
                ready.push(Reverse(t));
            }
        }
    }
    order
}

fn nearest_path_provider(
    providers: &BTreeMap<&Ref, usize>,
    path: &str,
    me: usize,
) -> Option<usize> {
    let mut p = path.trim_end_matches('/').to_string();
    loop {
        if let Some(&t) = providers.get(&Ref::Path(if p.is_empty() {
            "/".into()
        } else {
            p.clone()
        })) && t != me
        {
            return Some(t);
        }
        if p.is_empty() || p == "/" {
            return None;
        }
        match p.rfind('/') {
            Some(0) => p = "/".into(),
            Some(i) => p.truncate(i),
            None => return None,
        }
    }
}

/// The instances an address names on this host (see [`lookup`]), or a
/// "did you mean" hint.
pub fn resolve_address(res: &Resolved, addr: &str) -> Result<Vec<usize>, String> {
    let by_addr: BTreeMap<&str, usize> = res
        .instances
        .iter()
        .enumerate()
        .map(|(i, inst)| (inst.address.as_str(), i))
        .collect();
    lookup(res, &by_addr, addr)
}

/// Resolve an address: `kind[name]`, `module.NAME` for every resource of
/// a module instance, or `module.NAME.kind[name]` for one of them.
fn lookup(
    res: &Resolved,
    by_addr: &BTreeMap<&str, usize>,
    addr: &str,
) -> Result<Vec<usize>, String> {
    if let Some(&i) = by_addr.get(addr) {
        return Ok(vec![i]);
    }
    if let Some(m) = addr.strip_prefix("module.") {
        if let Some(found) = lookup_in_module(res, by_addr, m) {
            return found;
        }
        if let Some(v) = res.modules.get(m) {
            return Ok(v.clone());
        }
        if res.module_uses.contains_key(m) {
            return Ok(Vec::new()); // a module with no resources on this host
        }
    }
    Err(address_hint(res, addr))
}

/// `module.INSTANCE.kind[name]`: one resource of a module instance
/// (instead of all of them, handlers included). `None` when `m` does not
/// have that shape.
fn lookup_in_module(
    res: &Resolved,
    by_addr: &BTreeMap<&str, usize>,
    m: &str,
) -> Option<Result<Vec<usize>, String>> {
    let bracket = m.find('[')?;
    let dot = m[..bracket].rfind('.')?;
    let (instance, resource) = (&m[..dot], &m[dot + 1..]);
    let Some(members) = res.modules.get(instance) else {
        if res.module_uses.contains_key(instance) {
            return Some(Err(format!(
                "module instance `module.{instance}` declares no resources on this host"
            )));
        }
        let known: Vec<String> = res
            .module_uses
            .keys()
            .map(|k| format!("module.{k}"))
            .collect();
        return Some(Err(format!(
            "there is no module instance `module.{instance}`; {}",
            crate::suggest::closest_hint(&format!("module.{instance}"), known.iter())
        )));
    };
    match by_addr.get(resource) {
        Some(i) if members.contains(i) => Some(Ok(vec![*i])),
        _ => {
            let inside: Vec<String> = members
                .iter()
                .map(|&i| format!("module.{instance}.{}", res.instances[i].address))
                .collect();
            Some(Err(crate::suggest::closest_hint(
                &format!("module.{m}"),
                inside.iter(),
            )))
        }
    }
}

fn address_hint(res: &Resolved, addr: &str) -> String {
    if let Some(m) = addr.strip_prefix("module.")
        && m.contains('[')
    {
        let by_addr: BTreeMap<&str, usize> = res
            .instances
            .iter()
            .enumerate()
            .map(|(i, inst)| (inst.address.as_str(), i))
            .collect();
        if let Some(Err(hint)) = lookup_in_module(res, &by_addr, m) {
            return hint;
        }
    }
    // Borrowed, not cloned: one hint per dangling reference, each over every
    // address, was quadratic in allocations.
    let modules: Vec<String> = res
        .module_uses
        .keys()
        .map(|m| format!("module.{m}"))
        .collect();
    let known = || {
        res.instances
            .iter()
            .map(|i| &i.address)
            .chain(modules.iter())
    };
    if !addr.contains('[') && !addr.starts_with("module.") {
        return format!(
            "addresses are written `kind[name]` (e.g. `package[{addr}]`) or `module.NAME`; {}",
            crate::suggest::closest_hint(addr, known())
        );
    }
    crate::suggest::closest_hint(addr, known())
}

//! Plan subsets: `--target ADDRESS` and `--tags a,b`, a last small step
//! after the graph is built (like Terraform's targeting transformer).
//!
//! The selection is what the flags name — resources by address
//! (`file[/etc/motd]`, `module.web`, `module.web.service[nginx]`) and
//! resources tagged with one of the tags (a module use's `tags:` apply to
//! every resource of the instance) — plus, transitively, everything they
//! need: their dependencies (explicit and implicit) and the handlers they
//! notify (a change without its reload would not take effect). Resources
//! that depend on the selection are not added: a subset never changes more
//! than asked.
//!
//! An address or tag that names nothing on any host is an error with a
//! "did you mean"; one that names nothing on some hosts leaves them with
//! nothing to do.

use super::Graph;
use crate::config::entry::{ResourceDecl, UseDecl};
use crate::resolve::{Project, Resolved};
use std::collections::{BTreeMap, BTreeSet};

/// What `--target` and `--tags` ask for; empty means everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub targets: Vec<String>,
    pub tags: Vec<String>,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.tags.is_empty()
    }
}

/// The tags of each instance: its declaration's and those of every module
/// use it is inside.
pub fn instance_tags(project: &Project, res: &Resolved) -> Vec<BTreeSet<String>> {
    let mut resources: Vec<&ResourceDecl> = project.stack.resources.iter().collect();
    let mut uses: Vec<&UseDecl> = project.stack.uses.iter().collect();
    for m in project.modules.values() {
        resources.extend(&m.resources);
        uses.extend(&m.uses);
    }
    let key = |name: &str, span: crate::node::Span| (name.to_string(), span.offset);
    let decl_tags: BTreeMap<(String, usize), Vec<String>> = resources
        .iter()
        .map(|d| {
            (
                key(&d.origin.source.name, d.span),
                d.tags.iter().map(|t| t.value.clone()).collect(),
            )
        })
        .collect();
    let use_tags: BTreeMap<(String, usize), Vec<String>> = uses
        .iter()
        .map(|u| {
            (
                key(&u.origin.source.name, u.module.span),
                u.tags.iter().map(|t| t.value.clone()).collect(),
            )
        })
        .collect();
    res.instances
        .iter()
        .map(|inst| {
            let mut tags: BTreeSet<String> = decl_tags
                .get(&key(&inst.origin.source.name, inst.span))
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            if let Some(path) = &inst.module {
                let parts: Vec<&str> = path.split('.').collect();
                for i in 1..=parts.len() {
                    let Some((src, span)) = res.module_uses.get(&parts[..i].join(".")) else {
                        continue;
                    };
                    if let Some(t) = use_tags.get(&key(&src.name, *span)) {
                        tags.extend(t.iter().cloned());
                    }
                }
            }
            tags
        })
        .collect()
}

/// What a selection names on one host, before adding what it needs.
pub struct Named {
    pub roots: BTreeSet<usize>,
    /// Addresses that name nothing here, with a hint.
    pub unknown_targets: Vec<(String, String)>,
    /// Tags carried by some resource of this host.
    pub tags_seen: BTreeSet<String>,
}

/// The instances the flags name on one host.
pub fn named(project: &Project, res: &Resolved, sel: &Selection) -> Named {
    let mut roots = BTreeSet::new();
    let mut unknown_targets = Vec::new();
    for t in &sel.targets {
        match super::resolve_address(res, t) {
            Ok(v) => roots.extend(v),
            Err(hint) => unknown_targets.push((t.clone(), hint)),
        }
    }
    let mut tags_seen = BTreeSet::new();
    for (i, tags) in instance_tags(project, res).into_iter().enumerate() {
        if sel.tags.iter().any(|t| tags.contains(t)) {
            roots.insert(i);
        }
        tags_seen.extend(tags);
    }
    Named {
        roots,
        unknown_targets,
        tags_seen,
    }
}

/// The roots with everything they need: dependencies and notified
/// handlers, transitively.
pub fn closure(graph: &Graph, roots: &BTreeSet<usize>) -> BTreeSet<usize> {
    let mut keep = BTreeSet::new();
    let mut stack: Vec<usize> = roots.iter().copied().collect();
    while let Some(i) = stack.pop() {
        if keep.insert(i) {
            stack.extend(graph.requirements(i));
            stack.extend(graph.notifies[i].iter().copied());
        }
    }
    keep
}

/// The resources of `res` that are in `keep`, indexes renumbered.
pub fn subset(res: Resolved, keep: &BTreeSet<usize>) -> Resolved {
    let mut new_index = BTreeMap::new();
    let mut instances = Vec::new();
    for (i, inst) in res.instances.into_iter().enumerate() {
        if keep.contains(&i) {
            new_index.insert(i, instances.len());
            instances.push(inst);
        }
    }
    let modules = res
        .modules
        .into_iter()
        .map(|(m, members)| {
            let kept = members
                .iter()
                .filter_map(|i| new_index.get(i).copied())
                .collect();
            (m, kept)
        })
        .collect();
    Resolved {
        host: res.host,
        instances,
        modules,
        module_uses: res.module_uses,
        unresolved: res.unresolved,
        skipped: res.skipped,
        release: res.release,
        ledger: res.ledger,
    }
}

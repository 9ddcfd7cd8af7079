//! Batched apply: changes that their kinds declare batchable
//! ([`crate::resources::Kind::batch`]) and that are ready at the same point
//! of the graph run in one command (several packages in one
//! `apt-get install`, apt's cache loaded once).
//!
//! Plan truth is kept: each resource still has its own plan entry and its
//! own outcome. A batch runs as one part of a combined script
//! ([`super::together`]); when its command fails, nothing is marked: the
//! walk then applies each resource alone, so the one that fails is named.

use super::reprobe::Upstream;
use super::{State, Walk};
use crate::resources::{BatchItem, Cmd};

/// The instances, from `start` on in `order`, that run together with
/// `start`: those with `start`'s batch key for which `ready` holds. Empty
/// when `start` is not batchable or not ready.
pub(super) fn group<'a>(
    start: usize,
    order: &[usize],
    item: impl Fn(usize) -> Option<&'a BatchItem>,
    ready: impl Fn(usize) -> bool,
) -> Vec<usize> {
    let Some(key) = item(start).filter(|_| ready(start)).map(|b| b.key) else {
        return Vec::new();
    };
    order
        .iter()
        .copied()
        .skip_while(|&i| i != start)
        .filter(|&i| item(i).is_some_and(|b| b.key == key) && ready(i))
        .collect()
}

/// The one command for a group's items, named after every resource in it.
pub(super) fn command(items: &[&BatchItem], addresses: &[String]) -> Option<Cmd> {
    let first = items.first()?;
    let parts: Vec<String> = items.iter().map(|b| b.item.clone()).collect();
    Some(Cmd::new(
        format!("together: {}", addresses.join(", ")),
        (first.script)(&parts),
    ))
}

impl Walk<'_> {
    /// Whether instance `i` can join a batch now: not yet walked, planned to
    /// change with a batch item, not in a batch that failed in this run,
    /// nothing upstream changed in this run (its plan still holds), every
    /// requirement walked and succeeded, not a change that can cut access,
    /// nothing to run when notified.
    fn batch_ready(&self, i: usize, state: &State, guarded: &[usize], up: &Upstream) -> bool {
        let Some(eval) = &self.work.evals[i] else {
            return false;
        };
        state.outcome[i].is_none()
            && !state.unbatched.contains(&i)
            && eval.diff.error.is_none()
            && eval.diff.action().is_change()
            && eval.on_notify.is_empty()
            && !guarded.contains(&i)
            && self.ready(i, state)
            && self.requirements_ok(i, state)
            && !up.changed[i]
    }

    /// The batches ready now, with two or more members each, in the order
    /// of their first member: the members and their one command.
    pub(super) fn batches(&self, state: &State, guarded: &[usize]) -> Vec<(Vec<usize>, Cmd)> {
        let item = |j: usize| self.work.evals[j].as_ref().and_then(|e| e.batch.as_ref());
        let mut taken = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        let up = self.upstream(state);
        for &start in &self.graph.order {
            if taken.contains(&start) || item(start).is_none() {
                continue;
            }
            let members = group(start, &self.graph.order, item, |j| {
                !taken.contains(&j) && self.batch_ready(j, state, guarded, &up)
            });
            taken.extend(members.iter().copied());
            if members.len() < 2 {
                continue;
            }
            let items: Vec<&BatchItem> = members.iter().filter_map(|&j| item(j)).collect();
            let addresses: Vec<String> = members.iter().map(|&j| self.address(j)).collect();
            if let Some(cmd) = command(&items, &addresses) {
                out.push((members, cmd));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::eval;

    #[test]
    fn ready_packages_make_one_install_command() {
        let names = ["curl", "jq", "htop", "tree"];
        // Three absent packages and one installed one (no change, no item).
        let evals: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(n, name)| {
                let live = if n == 3 {
                    "ii |1.0\n".to_string()
                } else {
                    String::new()
                };
                eval("package", &format!("name: {name}"), &live)
            })
            .collect();
        assert!(evals[3].batch.is_none());
        let order = [0, 1, 2, 3];
        let members = group(
            0,
            &order,
            |i| evals[i].batch.as_ref(),
            |i| evals[i].diff.action().is_change(),
        );
        assert_eq!(members, vec![0, 1, 2]);
        let items: Vec<&BatchItem> = members
            .iter()
            .filter_map(|&i| evals[i].batch.as_ref())
            .collect();
        let addresses: Vec<String> = members
            .iter()
            .map(|&i| format!("package[{}]", names[i]))
            .collect();
        let cmd = command(&items, &addresses).unwrap();
        let installs: Vec<&str> = cmd
            .script
            .lines()
            .filter(|l| l.contains("keel_apt install"))
            .collect();
        assert_eq!(
            installs,
            vec!["keel_run() { keel_apt install curl jq htop; }"],
            "{}",
            cmd.script
        );
        assert!(cmd.summary.contains("package[htop]"));
        crate::resources::testing::assert_sh_syntax(&cmd.script);
    }

    #[test]
    fn not_ready_or_other_kinds_stay_alone() {
        let a = eval("package", "name: curl", "");
        let b = eval("package", "name: jq", "");
        let order = [0, 1];
        let evals = [a, b];
        // `jq` waits for something not yet applied.
        let members = group(0, &order, |i| evals[i].batch.as_ref(), |i| i == 0);
        assert_eq!(members, vec![0]);
        // A start that is not ready starts nothing.
        assert!(group(0, &order, |i| evals[i].batch.as_ref(), |i| i == 1).is_empty());
        // A repair or version change is not batched.
        let pinned = eval("package", "{name: curl, version: \"2.0\"}", "ii |1.0\n");
        assert!(pinned.diff.action().is_change() && pinned.batch.is_none());
    }
}

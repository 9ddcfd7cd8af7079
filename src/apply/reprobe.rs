//! Batched re-probes: a resource whose ancestors changed in this run is
//! applied on live state read after those changes, never on the plan's
//! guess. Every resource that is ready at the same point of the graph
//! (everything it depends on walked) and needs that is read again in ONE
//! round trip, with the plan's batched probe ([`crate::probe::run_batch`]);
//! a script that applies changes also reads, at its end, the resources
//! that those changes make ready ([`super::together`]).
//!
//! A reading is stamped with the walk's step after which it was taken
//! ([`Fresh::after`]), and a resource uses it only when every ancestor of
//! it that changed did so in that step or before: a change made later (a
//! batched install that failed and was retried alone) makes it read again.

use super::{Outcome, State, Walk};
use crate::probe;
use crate::resources::{Evaluation, ProbeOutput};
use std::collections::BTreeSet;

/// Live state read again during the walk, and when.
#[derive(Debug, Clone)]
pub(super) struct Fresh {
    /// Taken after every change of the walk's steps up to this one.
    pub after: u64,
    /// The resource evaluated against it (or why it could not be read).
    pub eval: Result<Evaluation, String>,
}

/// What the ancestors of every instance did so far in the walk, from one
/// pass over the graph ([`crate::graph::Graph::fold_ancestors`]): for the
/// checks of every instance at one point of the walk, where a walk of each
/// instance's ancestors was quadratic.
pub(super) struct Upstream {
    /// Whether an ancestor changed in this run.
    pub changed: Vec<bool>,
    /// The latest step in which an ancestor changed (0: none).
    latest: Vec<u64>,
}

impl Walk<'_> {
    /// [`Upstream`] of every instance, as `state` is now.
    pub(super) fn upstream(&self, state: &State) -> Upstream {
        let changed: Vec<bool> = (0..state.outcome.len())
            .map(|i| state.changed.contains(&i))
            .collect();
        Upstream {
            changed: self.graph.fold_ancestors(&changed, false, |a, b| a || b),
            latest: self.graph.fold_ancestors(&state.changed_in, 0, u64::max),
        }
    }

    /// Whether everything instance `j` depends on has been walked
    /// (`notify` edges too: a handler waits for its notifiers).
    pub(super) fn ready(&self, j: usize, state: &State) -> bool {
        self.graph
            .dependencies(j)
            .into_iter()
            .all(|d| state.outcome[d].is_some())
    }

    /// Whether every requirement of `j` (all but `notify` edges) has
    /// succeeded.
    pub(super) fn requirements_ok(&self, j: usize, state: &State) -> bool {
        self.graph
            .requirements(j)
            .into_iter()
            .all(|d| succeeded(d, state))
    }

    /// Whether something `j` depends on (transitively) changed in this run.
    pub(super) fn upstream_changed(&self, j: usize, state: &State) -> bool {
        changed_among(&self.graph.ancestors(j), state)
    }

    /// `j`'s live state read during the walk, when it was read after every
    /// change of its ancestors.
    pub(super) fn fresh<'s>(
        &self,
        j: usize,
        state: &'s State,
    ) -> Option<&'s Result<Evaluation, String>> {
        let f = state.fresh[j].as_ref()?;
        current(f, &self.graph.ancestors(j), state).then_some(&f.eval)
    }

    /// Whether `j`, walked now, would read its live state again: not yet
    /// walked, ready, its requirements met, planned, something upstream
    /// changed, and no reading taken since.
    /// `up` is [`Walk::upstream`] of `state`.
    fn needs_reprobe(&self, j: usize, state: &State, up: &Upstream) -> bool {
        if state.outcome[j].is_some()
            || self.work.evals[j].is_none()
            || !self.ready(j, state)
            || !self.requirements_ok(j, state)
        {
            return false;
        }
        // Read after every change of its ancestors: after the latest.
        up.changed[j]
            && state.fresh[j]
                .as_ref()
                .is_none_or(|f| up.latest[j] > f.after)
    }

    /// Read again, in one round trip, every ready resource that needs it.
    pub(super) async fn reprobe_ready(&self, state: &mut State) {
        let up = self.upstream(state);
        let want: Vec<usize> = self
            .graph
            .order
            .iter()
            .copied()
            .filter(|&j| self.needs_reprobe(j, state, &up))
            .collect();
        if want.is_empty() {
            return;
        }
        let Some(t) = self.work.conn() else {
            return;
        };
        let probes: Vec<String> = want
            .iter()
            .map(|&j| self.work.resolved.instances[j].resource.probe())
            .collect();
        tracing::debug!(host = %self.work.host, "reading again the live state of {} resource(s)", want.len());
        match probe::run_batch(t.as_ref(), &probes).await {
            Ok(outs) => {
                for (&j, out) in want.iter().zip(&outs) {
                    self.store(j, out, state.steps, state);
                }
            }
            Err(e) => {
                for &j in &want {
                    state.fresh[j] = Some(Fresh {
                        after: state.steps,
                        eval: Err(e.to_string()),
                    });
                }
            }
        }
    }

    /// Keep `out`, read after step `after`, as `j`'s live state.
    pub(super) fn store(&self, j: usize, out: &ProbeOutput, after: u64, state: &mut State) {
        let eval = self.work.resolved.instances[j].resource.evaluate(out);
        state.fresh[j] = Some(Fresh { after, eval });
    }
}

/// Whether walked instance `d` succeeded.
pub(super) fn succeeded(d: usize, state: &State) -> bool {
    matches!(
        state.outcome[d],
        Some(
            Outcome::Unchanged | Outcome::Changed | Outcome::Notified | Outcome::ChangedAndNotified
        )
    )
}

/// Whether one of `ancestors` changed in this run.
fn changed_among(ancestors: &BTreeSet<usize>, state: &State) -> bool {
    ancestors.iter().any(|a| state.changed.contains(a))
}

/// Whether reading `f` was taken after every change of `ancestors`.
fn current(f: &Fresh, ancestors: &BTreeSet<usize>, state: &State) -> bool {
    ancestors.iter().all(|&a| state.changed_in[a] <= f.after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_is_current_until_an_ancestor_changes_after_it() {
        let mut state = State::new(3);
        let ancestors = BTreeSet::from([0, 1]);
        // Instance 0 changes in step 1; the reading is taken at its end.
        state.step();
        state.record(0, Outcome::Changed);
        let reading = Fresh {
            after: state.steps,
            eval: Err("unused".into()),
        };
        assert!(changed_among(&ancestors, &state));
        assert!(current(&reading, &ancestors, &state));
        // Unchanged or failed ancestors do not date it.
        state.step();
        state.record(1, Outcome::Failed("no".into()));
        assert!(current(&reading, &ancestors, &state));
        // A change after it (a batch retried alone) does.
        state.record(1, Outcome::Changed);
        assert!(!current(&reading, &ancestors, &state));
        // Not an ancestor: no matter.
        state.step();
        state.record(2, Outcome::Changed);
        assert!(current(&reading, &BTreeSet::from([0]), &state));
    }
}

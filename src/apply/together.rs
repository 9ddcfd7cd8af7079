//! Independent changes in one script: the resources that are ready at the
//! same point of the graph and whose changes cannot affect each other are
//! applied by ONE remote script, which reports each one's result on its
//! own, so apply still reports each resource, a failure is attributed to
//! the resource that failed, and what depends on it is skipped exactly as
//! when each runs alone.
//!
//! The rule. A change joins the script when
//! - everything it depends on has been walked and succeeded (so no member
//!   depends on another: they are ready together);
//! - it is planned to change, with commands, on live state that is still
//!   current ([`super::reprobe`]), and nothing to run when notified;
//! - its kind says exactly what it touches, and that is only paths (a
//!   file, a directory, a line): no service started, stopped, reloaded or
//!   restarted, no shell text of the user, no account; not a handler, not
//!   a preflight check, not a probe that reads other resources' state;
//! - it cannot cut access, for anyone ([`crate::lockout::exposure`]): those
//!   changes run alone, under commit-confirmed;
//! - none of its paths is, contains or lies under a path of a change
//!   already in the script.
//!
//! Batched commands ([`super::batch`], several packages in one
//! `apt-get install`) are parts of the same script.
//!
//! Each part runs in its own subshell, framed as the plan's probes are
//! ([`crate::probe::framed_script`]): its exit status and stderr come back
//! apart from the others', and a part that fails does not stop the next
//! (they are independent; today's walk would run them too). The parts run
//! one after the other, in the graph's order, as they would alone.
//!
//! At the end, the same script reads the live state of what its changes
//! make ready (every dependency walked or in the script): those re-probes
//! cost no round trip of their own. A change applied alone does the same
//! ([`Walk::run_alone`]), unless a notification of it follows. A reading is
//! used only if it is still current when its resource is walked
//! ([`super::reprobe`]).

use super::{Outcome, Progress, State, Walk, failure, run_cmds, script_of};
use crate::probe::{self, Part};
use crate::resources::{Cmd, Evaluation, ProbeOutput};
use std::collections::BTreeSet;

/// One part of a combined script.
#[derive(Debug)]
struct Unit {
    /// The instances it applies, in the graph's order.
    members: Vec<usize>,
    cmds: Vec<Cmd>,
    /// A batched command: when it fails, nothing is marked and its members
    /// are applied one by one.
    batched: bool,
}

/// Why a part has no result: the script stopped before it ended.
fn stopped_early(problem: Option<&str>) -> String {
    format!(
        "no result: the script that applied it stopped early ({})",
        problem.unwrap_or("no output")
    )
}

/// Whether two paths are the same or one lies under the other.
pub(super) fn overlaps(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_end_matches('/'), b.trim_end_matches('/'));
    let under = |x: &str, y: &str| x.strip_prefix(y).is_some_and(|r| r.starts_with('/'));
    a == b || under(a, b) || under(b, a)
}

impl Walk<'_> {
    /// When instance `j` can join a combined script now (see the module
    /// doc): its commands and the paths it touches.
    fn joinable(
        &self,
        j: usize,
        state: &State,
        guarded: &[usize],
    ) -> Option<(Vec<Cmd>, Vec<String>)> {
        if state.outcome[j].is_some()
            || guarded.contains(&j)
            || !self.ready(j, state)
            || !self.requirements_ok(j, state)
        {
            return None;
        }
        let res = &self.work.resolved.instances[j].resource;
        if crate::lockout::can_cut_access(res.as_ref())
            || res.precondition()
            || res.reads_other_state()
            || res.notifiable()
            || res.grants_access()
        {
            return None;
        }
        let touches = res.touches();
        if touches.paths.is_empty()
            || !touches.services.is_empty()
            || !touches.commands.is_empty()
            || !touches.accounts.is_empty()
        {
            return None;
        }
        let eval = if self.upstream_changed(j, state) {
            self.fresh(j, state)?.as_ref().ok()?
        } else {
            self.work.evals[j].as_ref()?
        };
        if eval.diff.error.is_some()
            || !eval.diff.action().is_change()
            || eval.commands.is_empty()
            || !eval.on_notify.is_empty()
        {
            return None;
        }
        let paths = touches.paths.into_iter().map(|p| p.path).collect();
        Some((eval.commands.clone(), paths))
    }

    /// The parts of a script run now: the ready batches, then every
    /// joinable change whose paths are apart from those taken, in the
    /// graph's order.
    fn units(&self, state: &State, guarded: &[usize]) -> Vec<Unit> {
        let mut units: Vec<Unit> = self
            .batches(state, guarded)
            .into_iter()
            .map(|(members, cmd)| Unit {
                members,
                cmds: vec![cmd],
                batched: true,
            })
            .collect();
        let batched: BTreeSet<usize> = units.iter().flat_map(|u| u.members.clone()).collect();
        let mut taken: Vec<String> = Vec::new();
        for &j in &self.graph.order {
            if batched.contains(&j) {
                continue;
            }
            let Some((cmds, paths)) = self.joinable(j, state, guarded) else {
                continue;
            };
            if paths.iter().any(|p| taken.iter().any(|t| overlaps(p, t))) {
                continue;
            }
            taken.extend(paths);
            units.push(Unit {
                members: vec![j],
                cmds,
                batched: false,
            });
        }
        let mut rank = vec![usize::MAX; self.work.resolved.instances.len()];
        for (r, &i) in self.graph.order.iter().enumerate() {
            rank[i] = r;
        }
        units.sort_by_key(|u| rank[u.members[0]]);
        units
    }

    /// What the script's changes make ready, to read at its end: not
    /// walked, planned, every dependency walked or in the script (at least
    /// one in it), every requirement walked successfully or in it.
    fn made_ready(&self, members: &BTreeSet<usize>, state: &State) -> Vec<usize> {
        let ok = |d: &usize| members.contains(d) || super::reprobe::succeeded(*d, state);
        self.graph
            .order
            .iter()
            .copied()
            .filter(|&j| {
                if state.outcome[j].is_some()
                    || members.contains(&j)
                    || self.work.evals[j].is_none()
                {
                    return false;
                }
                let deps = self.graph.dependencies(j);
                deps.iter().any(|d| members.contains(d))
                    && deps
                        .iter()
                        .all(|d| members.contains(d) || state.outcome[*d].is_some())
                    && self.graph.requirements(j).iter().all(ok)
            })
            .collect()
    }

    /// Apply, in one script, instance `i` with everything that can join
    /// it (see the module doc); `false` (nothing run) when `i` cannot
    /// join one, and the walk applies it alone.
    pub(super) async fn together(
        &self,
        i: usize,
        state: &mut State,
        guarded: &[usize],
        progress: &dyn Progress,
    ) -> bool {
        let units = self.units(state, guarded);
        if !units.iter().any(|u| u.members.contains(&i)) {
            return false;
        }
        let members: BTreeSet<usize> = units.iter().flat_map(|u| u.members.clone()).collect();
        let next = self.made_ready(&members, state);
        for u in &units {
            for &m in &u.members {
                progress.step(&self.work.host, &self.address(m));
            }
            for c in &u.cmds {
                tracing::info!(host = %self.work.host, "run: {}", self.masker.mask(&c.summary));
            }
        }
        if units.len() > 1 || !next.is_empty() {
            tracing::debug!(host = %self.work.host, "one script: {} part(s), then {} resource(s) read again", units.len(), next.len());
        }
        let step = state.step();
        let changes: Vec<String> = units.iter().map(|u| script_of(&u.cmds)).collect();
        let (frames, problem) = self.run_framed(&changes, &next).await;
        for (k, u) in units.iter().enumerate() {
            self.settle(u, frames.get(k), problem.as_deref(), state);
        }
        for (k, &j) in next.iter().enumerate() {
            if let Some(f) = frames.get(units.len() + k) {
                self.store(j, f, step, state);
            }
        }
        true
    }

    /// Run the commands of instance `i`, applied alone, and read at the
    /// end of the same script what its change makes ready — unless a
    /// notification of it runs after its change (those are read after
    /// that). `Err` is the failure, masked.
    pub(super) async fn run_alone(
        &self,
        i: usize,
        eval: &Evaluation,
        state: &mut State,
    ) -> Result<(), String> {
        let notified = self.notified_by(i, |m| state.changed.contains(&m));
        let next = if notified && !eval.on_notify.is_empty() {
            Vec::new()
        } else {
            self.made_ready(&BTreeSet::from([i]), state)
        };
        if next.is_empty() {
            return run_cmds(self.work, &eval.commands, &self.masker).await;
        }
        for c in &eval.commands {
            tracing::info!(host = %self.work.host, "run: {}", self.masker.mask(&c.summary));
        }
        let (frames, problem) = self.run_framed(&[script_of(&eval.commands)], &next).await;
        for (k, &j) in next.iter().enumerate() {
            if let Some(f) = frames.get(1 + k) {
                self.store(j, f, state.steps, state);
            }
        }
        match frames.first() {
            Some(f) if f.status == 0 => Ok(()),
            Some(f) => Err(failure(Some(f.status), &f.stderr, &self.masker)),
            None => Err(self.masker.mask(&stopped_early(problem.as_deref()))),
        }
    }

    /// Run `changes`, then the probes of `read`, as the framed parts of
    /// one script: the output of each part that finished, and — when not
    /// all did — why.
    async fn run_framed(
        &self,
        changes: &[String],
        read: &[usize],
    ) -> (Vec<ProbeOutput>, Option<String>) {
        let Some(t) = self.work.conn() else {
            return (Vec::new(), Some("no connection".into()));
        };
        let probes: Vec<String> = read
            .iter()
            .map(|&j| self.work.resolved.instances[j].resource.probe())
            .collect();
        let parts: Vec<Part> = changes
            .iter()
            .map(|c| Part::Change(c))
            .chain(probes.iter().map(|p| Part::Probe(p)))
            .collect();
        let (script, marker) = probe::framed_script(&parts);
        match t.run(&script).await {
            Ok(out) => {
                let (frames, cut) = probe::split_partial(&out.stdout_text(), &marker, parts.len());
                let why = cut.map(|c| match out.stderr_text().trim() {
                    "" => c,
                    err => format!("{c}: {err}"),
                });
                (frames, why)
            }
            Err(e) => (Vec::new(), Some(e.to_string())),
        }
    }

    /// Record what part `u` did, from its frame (`None`: the script
    /// stopped before it, for the reason `problem`).
    fn settle(
        &self,
        u: &Unit,
        frame: Option<&ProbeOutput>,
        problem: Option<&str>,
        state: &mut State,
    ) {
        let error = match frame {
            Some(f) if f.status == 0 => {
                for &m in &u.members {
                    state.record(m, Outcome::Changed);
                }
                return;
            }
            Some(f) => failure(Some(f.status), &f.stderr, &self.masker),
            None => stopped_early(problem),
        };
        let error = self.masker.mask(&error);
        if u.batched {
            tracing::warn!(
                host = %self.work.host,
                "the batch failed; applying its resources one by one: {error}"
            );
            state.unbatched.extend(u.members.iter().copied());
        } else {
            for &m in &u.members {
                state.record(m, Outcome::Failed(error.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_overlap_when_equal_or_nested() {
        assert!(overlaps("/srv/app", "/srv/app"));
        assert!(overlaps("/srv/app/", "/srv/app"));
        assert!(overlaps("/srv/app", "/srv/app/shared/.env"));
        assert!(overlaps("/srv/app/shared/.env", "/srv/app"));
        assert!(overlaps("/", "/etc/motd"));
        assert!(!overlaps("/srv/app", "/srv/application"));
        assert!(!overlaps("/srv/app/a", "/srv/app/b"));
        assert!(!overlaps("/var/backups/app", "/srv/app"));
    }
}

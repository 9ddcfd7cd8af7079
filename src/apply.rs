//! Apply and verify: walk a host's graph and make the host match its plan.
//!
//! Per host, resources run in graph order. A resource whose dependency
//! failed (or was skipped) is skipped; independent resources still run.
//! A resource that depends on something changed earlier in this run is
//! probed again before it is applied, so it acts on the live state, not on
//! a guess made before the run. Round trips are few: what is ready at the
//! same point of the graph is re-probed together ([`reprobe`]), and
//! independent changes run in one script that reports each one's result
//! ([`together`]). Handlers (`notify:`) run once, after
//! their notifiers, only if a notifier changed. Finally every changed
//! resource is probed again in one round trip: any that still differs "did
//! not converge" and fails the run.
//!
//! Changes that can cut keel's access ([`crate::lockout::exposure`]) run
//! under commit-confirmed ([`crate::confirm`]): armed before the first,
//! confirmed with a brand-new connection after the walk, reverted if that
//! fails. And as a last net, a run that changed the host ends with a
//! brand-new connection to it (the confirmation is that connection when
//! there was one): if none gets in, that is the host's first error.

mod batch;
mod reprobe;
mod together;
mod verify;

use crate::plan::HostWork;
use crate::plan::Masker;
use crate::probe;
use crate::resources::{Cmd, Evaluation};
use crate::secret::Redactor;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

/// What happened to one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "detail")]
pub enum Outcome {
    Unchanged,
    Changed,
    /// Ran its notification commands (reload, restart).
    Notified,
    ChangedAndNotified,
    Failed(String),
    Skipped(String),
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }
    pub fn changed(&self) -> bool {
        matches!(
            self,
            Outcome::Changed | Outcome::Notified | Outcome::ChangedAndNotified
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceOutcome {
    pub address: String,
    pub outcome: Outcome,
}

/// The result of applying one host.
#[derive(Debug, Clone, Serialize)]
pub struct HostOutcome {
    pub host: String,
    pub resources: Vec<ResourceOutcome>,
    pub error: Option<String>,
    pub round_trips: u64,
}

impl HostOutcome {
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.resources.iter().any(|r| r.outcome.is_failure())
    }
    pub fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.resources.iter().filter(|r| f(&r.outcome)).count()
    }
}

/// Something to tell the user while a host is being applied.
pub trait Progress: Send + Sync {
    fn step(&self, host: &str, address: &str);
}

impl Progress for () {
    fn step(&self, _: &str, _: &str) {}
}

/// Join commands into one script; the first failing step stops it and
/// names itself on stderr.
pub fn script_of(cmds: &[Cmd]) -> String {
    let mut s = String::new();
    for c in cmds {
        let _ = writeln!(s, "(\nset -e\n{}\n)", c.script);
        let _ = writeln!(
            s,
            "keel_rc=$?; if [ \"$keel_rc\" -ne 0 ]; then printf '%s\\n' {} >&2; exit \"$keel_rc\"; fi",
            crate::shell::q(&format!("keel: step failed: {}", c.summary))
        );
    }
    s
}

async fn run_cmds(work: &HostWork, cmds: &[Cmd], masker: &Masker<'_>) -> Result<(), String> {
    let Some(t) = work.conn() else {
        return Err("no connection".into());
    };
    for c in cmds {
        tracing::info!(host = %work.host, "run: {}", masker.mask(&c.summary));
    }
    match t.run(&script_of(cmds)).await {
        Ok(out) if out.success() => Ok(()),
        Ok(out) => Err(failure(out.status, &out.stderr_text(), masker)),
        Err(e) => Err(masker.mask(&e.to_string())),
    }
}

/// How a failed script is reported: its exit status and the last lines of
/// its stderr, masked before they are cut (a secret split across lines
/// that starts above the cut would otherwise show all but its first lines).
fn failure(status: Option<i32>, stderr: &str, masker: &Masker<'_>) -> String {
    let stderr = masker.mask(stderr);
    let tail: Vec<&str> = stderr
        .lines()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!(
        "exit status {}: {}",
        status.map_or("killed".to_string(), |s| s.to_string()),
        tail.join("\n").trim()
    )
}

async fn reprobe(work: &HostWork, i: usize) -> Result<Evaluation, String> {
    let t = work.conn().ok_or("no connection")?;
    let inst = &work.resolved.instances[i];
    let outs = probe::run_batch(t.as_ref(), &[inst.resource.probe()])
        .await
        .map_err(|e| e.to_string())?;
    let out = outs.into_iter().next().unwrap_or_default();
    inst.resource.evaluate(&out)
}

/// How to confirm that changes which can cut access kept it: a brand-new
/// SSH connection to this target, within `timeout` seconds of arming the
/// revert. `None` for the local transport.
#[derive(Debug, Clone)]
pub struct AccessCheck {
    pub target: crate::transport::ssh::SshTarget,
    pub timeout: u64,
    /// The bootstrap login of a fresh server: when the stack does not (yet)
    /// create the inventory's user or port, the final check of a run that
    /// cut nothing accepts a new connection through it.
    pub fallback: Option<crate::transport::ssh::SshTarget>,
}

/// A brand-new SSH connection (not the multiplexed one) to `target`, with
/// a few tries: sshd may take a moment to come back after a restart.
async fn fresh_login(target: &crate::transport::ssh::SshTarget) -> Result<(), String> {
    let mut result = crate::transport::ssh::check_fresh_connection(target).await;
    for _ in 0..3 {
        if result.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        result = crate::transport::ssh::check_fresh_connection(target).await;
    }
    result.map_err(|e| e.to_string())
}

/// The last net: after a run that changed the host, a brand-new SSH
/// connection must still get in, whatever the changes were (the exposure
/// rules may miss a way to lock keel out). `Err` is the run's first error.
async fn final_access_check(access: &AccessCheck) -> Result<(), String> {
    let primary = fresh_login(&access.target).await;
    let Err(first) = primary else {
        return Ok(());
    };
    if let Some(boot) = &access.fallback
        && crate::transport::ssh::check_fresh_connection(boot)
            .await
            .is_ok()
    {
        tracing::warn!(
            "the inventory's login ({}) does not work yet; the bootstrap login ({}) does",
            access.target.destination(),
            boot.destination()
        );
        return Ok(());
    }
    Err(format!(
        "access lost: after this run a brand-new SSH connection as {} fails ({first}); the host may be unreachable",
        access.target.destination()
    ))
}

async fn run_plain(work: &HostWork, script: &str) -> Result<String, String> {
    let t = work.conn().ok_or("no connection")?;
    match t.run(script).await {
        Ok(o) if o.success() => Ok(o.stdout_text()),
        Ok(o) => Err(format!("exit {:?}: {}", o.status, o.stderr_text().trim())),
        Err(e) => Err(e.to_string()),
    }
}

/// Mask `text` as every message of `work`'s apply is masked: the
/// redactor plus every value rendered from a secret on that host.
pub fn mask_for_host(work: &HostWork, redactor: &Redactor, text: &str) -> String {
    Masker {
        redactor,
        tainted: &host_tainted(work),
    }
    .mask(text)
}

/// Apply one host's plan; changes that can cut access run under
/// commit-confirmed when `access` is given.
///
/// The steps: find the changes that can cut access, walk the graph (arming
/// the revert before the first of them), confirm access, verify that what
/// changed converged, and make a brand-new connection as the last net.
pub async fn apply_host_confirmed(
    work: &HostWork,
    redactor: &Redactor,
    progress: &dyn Progress,
    access: Option<&AccessCheck>,
) -> HostOutcome {
    let start_trips = work.round_trips();
    // Every message of this host's apply is masked as the plan is: the
    // redactor's secret values plus every value rendered from a secret on
    // this host (a failing command may echo another resource's content).
    let host_tainted = host_tainted(work);
    let masker = Masker {
        redactor,
        tainted: &host_tainted,
    };
    let mut result = HostOutcome {
        host: work.host.clone(),
        resources: Vec::new(),
        error: work.plan.error.as_deref().map(|e| masker.mask(e)),
        round_trips: 0,
    };
    let Some(graph) = &work.graph else {
        return result;
    };
    let walk = Walk {
        work,
        graph,
        redactor,
        masker,
    };
    let n = work.resolved.instances.len();
    let (guarded, scope) = walk.guarded(access);
    let (mut state, armed) = walk.walk(access, &guarded, &scope, progress).await;
    let mut disarm: Option<(String, &[usize])> = None;
    if let (Some(id), Some(a)) = (&armed, access) {
        let window = Window {
            id,
            guarded: &guarded,
            scope: &scope,
        };
        let confirmed = confirm_access(
            work,
            redactor,
            a,
            &window,
            &mut state.outcome,
            &mut state.changed,
        )
        .await;
        if confirmed {
            disarm = Some((crate::confirm::disarm_script(id), &guarded[..]));
        }
    }
    // Access confirmed after the whole walk already is the last net: a
    // brand-new connection got in after every change of this run.
    let confirmed = disarm.is_some();
    // The revert is cancelled in the same round trip as the verification.
    let disarm = disarm.as_ref().map(|(script, g)| (script.as_str(), *g));
    if let Err(e) = walk.verify(&mut state, disarm).await {
        result.error = Some(e);
    }
    if let Some(a) = access
        && !confirmed
        && let Err(e) = walk.last_net(a, armed.is_some(), &state.outcome).await
    {
        result.error = Some(match result.error.take() {
            Some(other) => format!("{e}\n{other}"),
            None => e,
        });
    }
    let stopped = state
        .outcome
        .iter()
        .flatten()
        .filter(|o| matches!(o, Outcome::Skipped(why) if why == crate::interrupt::NOT_STARTED))
        .count();
    if stopped > 0 {
        let e = format!(
            "interrupted: {stopped} of {n} resource{} not applied; run `keel apply` again to finish",
            if n == 1 { "" } else { "s" }
        );
        result.error = Some(match result.error.take() {
            Some(other) => format!("{e}\n{other}"),
            None => e,
        });
    }
    result.error = result.error.map(|e| walk.masker.mask(&e));
    result.resources = (0..n)
        .map(|i| ResourceOutcome {
            address: walk.address(i),
            outcome: match state.outcome[i].clone().unwrap_or(Outcome::Unchanged) {
                Outcome::Failed(why) => Outcome::Failed(walk.masker.mask(&why)),
                Outcome::Skipped(why) => Outcome::Skipped(walk.masker.mask(&why)),
                other => other,
            },
        })
        .collect();
    result.round_trips = work.round_trips() - start_trips;
    tracing::info!(host = %work.host, "applied in {} round trip(s)", result.round_trips);
    result
}

/// Every value rendered from a secret on this host.
fn host_tainted(work: &HostWork) -> Vec<crate::secret::Secret> {
    work.resolved
        .instances
        .iter()
        .flat_map(|inst| inst.tainted.iter().cloned())
        .collect()
}

/// What a host's walk has found so far, by instance index.
struct State {
    outcome: Vec<Option<Outcome>>,
    /// Instances changed or notified in this run.
    changed: BTreeSet<usize>,
    /// Steps of the walk that ran changes so far; each change is stamped
    /// with the step that made it.
    steps: u64,
    /// The step that changed each instance (0: none).
    changed_in: Vec<u64>,
    /// Live state read again during the walk ([`reprobe`]).
    fresh: Vec<Option<reprobe::Fresh>>,
    /// Instances whose batched command failed: applied alone from then on.
    unbatched: BTreeSet<usize>,
}

impl State {
    fn new(n: usize) -> State {
        State {
            outcome: vec![None; n],
            changed: BTreeSet::new(),
            steps: 0,
            changed_in: vec![0; n],
            fresh: vec![None; n],
            unbatched: BTreeSet::new(),
        }
    }

    /// Start a step that may change the host; its number.
    fn step(&mut self) -> u64 {
        self.steps += 1;
        self.steps
    }

    /// Record what instance `i` did in the current step.
    fn record(&mut self, i: usize, o: Outcome) {
        if o.changed() {
            self.changed.insert(i);
            self.changed_in[i] = self.steps;
        }
        self.outcome[i] = Some(o);
    }
}

/// One host's apply: its work, graph and how its messages are masked.
struct Walk<'a> {
    work: &'a HostWork,
    graph: &'a crate::graph::Graph,
    redactor: &'a Redactor,
    masker: Masker<'a>,
}

impl Walk<'_> {
    /// An address, masked as the plan masks it (its own taint only), so
    /// the two read the same.
    fn address(&self, i: usize) -> String {
        Masker {
            redactor: self.redactor,
            tainted: &self.work.resolved.instances[i].tainted,
        }
        .mask(&self.work.resolved.instances[i].address)
    }

    /// Whether instance `i` is planned to change.
    fn planned_change(&self, i: usize) -> bool {
        self.work.evals[i]
            .as_ref()
            .is_some_and(|e| e.diff.action().is_change())
    }

    /// Whether a notifier of instance `i` satisfies `pred`.
    fn notified_by(&self, i: usize, pred: impl Fn(usize) -> bool) -> bool {
        (0..self.graph.notifies.len()).any(|m| self.graph.notifies[m].contains(&i) && pred(m))
    }

    /// The changes that can cut access, in apply order, and what a revert
    /// of them restores. A handler counts when a notifier of it is planned
    /// to change (an `ssh` restart after a config line).
    fn guarded(&self, access: Option<&AccessCheck>) -> (Vec<usize>, crate::confirm::Scope) {
        let login = access.and_then(|a| a.target.user.as_deref());
        let mut scope = crate::confirm::Scope::default();
        let guarded = self
            .graph
            .order
            .iter()
            .copied()
            .filter(|&i| {
                let acts =
                    self.planned_change(i) || self.notified_by(i, |m| self.planned_change(m));
                if !acts {
                    return false;
                }
                let inst = &self.work.resolved.instances[i];
                match crate::lockout::exposure(&inst.resource.touches(), login) {
                    Some(e) => {
                        tracing::debug!(host = %self.work.host, "{}", self.redactor.redact(&format!(
                            "{} can cut access: {}",
                            inst.address,
                            e.why.join("; ")
                        )));
                        scope.merge(&e.scope);
                        true
                    }
                    None => false,
                }
            })
            .collect();
        (guarded, scope)
    }

    /// Walk the graph: each step applies the first instance not yet
    /// walked (always ready: the order is topological), with what can
    /// join it in one script. The revert is armed before the first change
    /// that can cut access; its id, when armed.
    async fn walk(
        &self,
        access: Option<&AccessCheck>,
        guarded: &[usize],
        scope: &crate::confirm::Scope,
        progress: &dyn Progress,
    ) -> (State, Option<String>) {
        let order = &self.graph.order;
        let mut state = State::new(self.work.resolved.instances.len());
        let mut armed: Option<String> = None;
        let mut pos = 0;
        loop {
            while pos < order.len() && state.outcome[order[pos]].is_some() {
                pos += 1;
            }
            let Some(&i) = order.get(pos) else {
                break;
            };
            // Stopped (crate::interrupt): nothing new starts but the
            // handlers of what changed, whose notification would be lost.
            if crate::interrupt::requested() && !self.notified_by(i, |m| state.changed.contains(&m))
            {
                state.record(i, Outcome::Skipped(crate::interrupt::NOT_STARTED.into()));
                continue;
            }
            if let Some(a) = access
                && guarded.first() == Some(&i)
                && armed.is_none()
            {
                armed = self.arm(a, guarded, scope, &mut state.outcome).await;
                if state.outcome[i].is_some() {
                    continue;
                }
            }
            self.reprobe_ready(&mut state).await;
            if self.together(i, &mut state, guarded, progress).await {
                continue;
            }
            progress.step(&self.work.host, &self.address(i));
            state.step();
            let o = self.resource(i, &mut state).await;
            state.record(i, o);
        }
        (state, armed)
    }

    /// Arm the automatic revert before the first change that can cut
    /// access; its id, or — when it cannot be armed — every such change
    /// failed unapplied.
    async fn arm(
        &self,
        a: &AccessCheck,
        guarded: &[usize],
        scope: &crate::confirm::Scope,
        outcome: &mut [Option<Outcome>],
    ) -> Option<String> {
        let id = crate::confirm::new_id();
        match run_plain(
            self.work,
            &crate::confirm::arm_script(&id, a.timeout, scope),
        )
        .await
        {
            Ok(_) => {
                tracing::info!(host = %self.work.host, "armed a revert in {}s of {} before changes that can cut access ({id})", a.timeout, self.redactor.redact(&scope.describe()));
                Some(id)
            }
            Err(e) => {
                // Without a revert, do not touch access at all.
                for &g in guarded {
                    outcome[g] = Some(Outcome::Failed(self.redactor.redact(&format!(
                        "not applied: cannot arm the automatic revert: {e}"
                    ))));
                }
                None
            }
        }
    }

    /// Apply instance `i`: skipped when a dependency did not succeed; else
    /// its changes (on fresh live state when something upstream changed),
    /// then its notification.
    async fn resource(&self, i: usize, state: &mut State) -> Outcome {
        let (work, redactor) = (self.work, self.redactor);
        if let Some(bad) = self.graph.requirements(i).into_iter().find(|&d| {
            matches!(
                state.outcome[d],
                Some(Outcome::Failed(_)) | Some(Outcome::Skipped(_))
            )
        }) {
            return Outcome::Skipped(format!(
                "{} did not succeed",
                redactor.redact(&work.resolved.instances[bad].address)
            ));
        }
        let Some(planned) = &work.evals[i] else {
            return Outcome::Failed(
                work.plan.resources[i]
                    .error
                    .clone()
                    .unwrap_or_else(|| "its live state could not be read".into()),
            );
        };
        // The live state read again when something it depends on changed
        // (read with others at the same point of the graph, or now).
        let eval = if self.upstream_changed(i, state) {
            let fresh = match self.fresh(i, state) {
                Some(f) => f.clone(),
                None => reprobe(work, i).await,
            };
            match fresh {
                Ok(e) => e,
                Err(e) => {
                    return Outcome::Failed(
                        redactor.redact(&format!("cannot read its live state: {e}")),
                    );
                }
            }
        } else {
            planned.clone()
        };
        if let Some(e) = &eval.diff.error {
            return Outcome::Failed(redactor.redact(e));
        }
        let mut did_change = false;
        if eval.diff.action().is_change() && !eval.commands.is_empty() {
            if let Err(e) = self.run_alone(i, &eval, state).await {
                return Outcome::Failed(e);
            }
            did_change = true;
        }
        let did_notify = match self.notify(i, &eval, did_change, state).await {
            Ok(n) => n,
            Err(failed) => return failed,
        };
        match (did_change, did_notify) {
            (true, true) => Outcome::ChangedAndNotified,
            (true, false) => Outcome::Changed,
            (false, true) => Outcome::Notified,
            (false, false) => Outcome::Unchanged,
        }
    }

    /// Run the notification of handler `i` when a notifier of it changed;
    /// whether it ran.
    async fn notify(
        &self,
        i: usize,
        eval: &Evaluation,
        did_change: bool,
        state: &State,
    ) -> Result<bool, Outcome> {
        let notified = self.notified_by(i, |m| state.changed.contains(&m));
        if !notified || eval.on_notify.is_empty() {
            return Ok(false);
        }
        let cmds = if did_change {
            // Its own change may have made the notification moot (a
            // service just started): ask the kind with fresh state.
            match reprobe(self.work, i).await {
                Ok(e) => e.on_notify,
                Err(e) => return Err(Outcome::Failed(self.redactor.redact(&e))),
            }
        } else {
            eval.on_notify.clone()
        };
        if cmds.is_empty() {
            return Ok(false);
        }
        match run_cmds(self.work, &cmds, &self.masker).await {
            Ok(()) => Ok(true),
            Err(e) => Err(Outcome::Failed(format!("notification failed: {e}"))),
        }
    }

    /// The last net: a run that changed the host ends with a brand-new
    /// connection to it. `Err` (masked) is the run's first error.
    async fn last_net(
        &self,
        access: &AccessCheck,
        armed: bool,
        outcome: &[Option<Outcome>],
    ) -> Result<(), String> {
        let touched = armed
            || outcome
                .iter()
                .flatten()
                .any(|o| o.changed() || o.is_failure());
        if !touched {
            return Ok(());
        }
        final_access_check(access).await.map_err(|e| {
            let e = self.masker.mask(&e);
            tracing::error!(host = %self.work.host, "{e}");
            e
        })
    }
}

/// A revert armed on the host: its id, the changes it covers (indexes of
/// instances) and what it restores.
struct Window<'a> {
    id: &'a str,
    guarded: &'a [usize],
    scope: &'a crate::confirm::Scope,
}

/// After the last change that can cut access: check with a brand-new
/// connection (then `true`: the revert is to be cancelled), or revert at
/// once and fail (`false`).
async fn confirm_access(
    work: &HostWork,
    redactor: &Redactor,
    access: &AccessCheck,
    window: &Window<'_>,
    outcome: &mut [Option<Outcome>],
    changed: &mut BTreeSet<usize>,
) -> bool {
    let Window { id, guarded, scope } = *window;
    let names = |pred: &dyn Fn(&Outcome) -> bool, outcome: &[Option<Outcome>]| -> Vec<String> {
        guarded
            .iter()
            .filter(|&&g| outcome[g].as_ref().is_some_and(pred))
            .map(|&g| redactor.redact(&work.resolved.instances[g].address))
            .collect()
    };
    let failed = names(&|o: &Outcome| o.is_failure(), outcome);
    let applied = names(&|o: &Outcome| o.changed(), outcome);
    let problem = if !failed.is_empty() {
        Some(format!("{} failed", failed.join(", ")))
    } else {
        match fresh_login(&access.target).await {
            Ok(()) => None,
            Err(e) => Some(format!(
                "a new SSH connection as {} failed after applying {}: {}",
                access.target.destination(),
                applied.join(", "),
                e
            )),
        }
    };
    match problem {
        None => {
            tracing::info!(host = %work.host, "access confirmed with a new connection to {}", access.target.destination());
            // Later steps use the connection the inventory describes (a new
            // port or user after this change), not the bootstrap login the
            // run may have begun with. Without a bootstrap login the run's
            // connection already is that one: no third handshake.
            if access.fallback.is_some() {
                match crate::transport::ssh::Ssh::connect(access.target.clone()).await {
                    Ok(t) => work.reconnect(Arc::new(t)),
                    Err(e) => {
                        tracing::warn!(host = %work.host, "keeping the current connection: {e}")
                    }
                }
            }
            true
        }
        Some(why) => {
            let reverted = run_plain(work, &crate::confirm::revert_now_script(id)).await;
            let how = match reverted {
                Ok(_) => format!("restored as it was before: {}", scope.describe()),
                Err(_) => format!(
                    "keel could not revert it now; the host restores by itself, within {} s, {}",
                    access.timeout,
                    scope.describe()
                ),
            };
            for &g in guarded {
                if outcome[g].as_ref().is_some_and(Outcome::changed) {
                    changed.remove(&g);
                    outcome[g] = Some(Outcome::Failed(
                        redactor.redact(&format!("reverted: {why}; {how}")),
                    ));
                }
            }
            tracing::error!(host = %work.host, "access check failed: {}", redactor.redact(&why));
            false
        }
    }
}

/// The armed revert could not be cancelled (`e`): the changes it covers
/// are good, but it will undo them. Say so loudly, on each of them.
fn not_disarmed(redactor: &Redactor, guarded: &[usize], outcome: &mut [Option<Outcome>], e: &str) {
    for &g in guarded {
        if outcome[g].as_ref().is_some_and(Outcome::changed) {
            outcome[g] = Some(Outcome::Failed(redactor.redact(&format!(
                "applied and confirmed, but the automatic revert could not be cancelled ({e}); it will restore the previous configuration"
            ))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{MASK, Secret};

    #[test]
    fn a_failure_masks_the_stderr_before_keeping_its_last_lines() {
        let secret = "s3cr&t<\"%:x-the-CANARY-value";
        let redactor = Redactor::new(vec![Secret::new(secret)]);
        let masker = Masker {
            redactor: &redactor,
            tainted: &[],
        };
        // Two characters a line: the secret starts above the 12 lines kept.
        let folded: Vec<String> = secret
            .chars()
            .collect::<Vec<_>>()
            .chunks(2)
            .map(|c| c.iter().collect())
            .collect();
        assert!(folded.len() > 12);
        let stderr = format!("starting\n{}\n", folded.join("\n"));
        let shown = failure(Some(1), &stderr, &masker);
        assert!(shown.starts_with("exit status 1: "), "{shown}");
        assert!(shown.contains(MASK), "{shown}");
        for piece in ["CANARY", "CA", "NA", "va", "lu"] {
            assert!(
                !shown.lines().any(|l| l.contains(piece)),
                "`{piece}` shows: {shown}"
            );
        }
    }
}

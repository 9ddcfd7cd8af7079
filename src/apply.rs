//! Apply and verify: walk a host's graph and make the host match its plan.
//!
//! Per host, resources run in graph order. A resource whose dependency
//! failed (or was skipped) is skipped; independent resources still run.
//! A resource that depends on something changed earlier in this run is
//! probed again just before it is applied, so it acts on the live state,
//! not on a guess made before the run. Handlers (`notify:`) run once, after
//! their notifiers, only if a notifier changed. Finally every changed
//! resource is probed again in one round trip: any that still differs "did
//! not converge" and fails the run.

use crate::probe;
use crate::resources::{Cmd, Evaluation};
use crate::secret::Redactor;
use crate::session::HostWork;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write as _;

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

async fn run_cmds(work: &HostWork, cmds: &[Cmd], redactor: &Redactor) -> Result<(), String> {
    let Some(t) = &work.transport else {
        return Err("no connection".into());
    };
    for c in cmds {
        tracing::info!(host = %work.host, "run: {}", redactor.redact(&c.summary));
    }
    match t.run(&script_of(cmds)).await {
        Ok(out) if out.success() => Ok(()),
        Ok(out) => {
            let err = out.stderr_text();
            let tail: Vec<&str> = err
                .lines()
                .rev()
                .take(12)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            Err(redactor.redact(&format!(
                "exit status {}: {}",
                out.status.map_or("killed".to_string(), |s| s.to_string()),
                tail.join("\n").trim()
            )))
        }
        Err(e) => Err(redactor.redact(&e.to_string())),
    }
}

async fn reprobe(work: &HostWork, i: usize) -> Result<Evaluation, String> {
    let t = work.transport.as_ref().ok_or("no connection")?;
    let inst = &work.resolved.instances[i];
    let outs = probe::run_batch(t.as_ref(), &[inst.resource.probe()])
        .await
        .map_err(|e| e.to_string())?;
    let out = outs.into_iter().next().unwrap_or_default();
    inst.resource.evaluate(&out)
}

/// Apply one host's plan.
pub async fn apply_host(
    work: &HostWork,
    redactor: &Redactor,
    progress: &dyn Progress,
) -> HostOutcome {
    let start_trips = work.transport.as_ref().map_or(0, |t| t.round_trips());
    let mut result = HostOutcome {
        host: work.host.clone(),
        resources: Vec::new(),
        error: work.plan.error.clone(),
        round_trips: 0,
    };
    let Some(graph) = &work.graph else {
        return result;
    };
    let n = work.resolved.instances.len();
    let mut outcome: Vec<Option<Outcome>> = vec![None; n];
    let mut changed: BTreeSet<usize> = BTreeSet::new();
    for &i in &graph.order {
        let inst = &work.resolved.instances[i];
        let addr = redactor.redact(&inst.address);
        progress.step(&work.host, &addr);
        // Skip when a dependency did not succeed.
        if let Some(bad) = graph.dependencies(i).into_iter().find(|&d| {
            matches!(
                outcome[d],
                Some(Outcome::Failed(_)) | Some(Outcome::Skipped(_))
            )
        }) {
            outcome[i] = Some(Outcome::Skipped(format!(
                "{} did not succeed",
                redactor.redact(&work.resolved.instances[bad].address)
            )));
            continue;
        }
        let planned = match &work.evals[i] {
            Some(e) => e.clone(),
            None => {
                outcome[i] = Some(Outcome::Failed(
                    work.plan.resources[i]
                        .error
                        .clone()
                        .unwrap_or_else(|| "its live state could not be read".into()),
                ));
                continue;
            }
        };
        // Re-read the live state when something it depends on changed.
        let upstream_changed = graph.ancestors(i).iter().any(|a| changed.contains(a));
        let eval = if upstream_changed {
            match reprobe(work, i).await {
                Ok(e) => e,
                Err(e) => {
                    outcome[i] = Some(Outcome::Failed(
                        redactor.redact(&format!("cannot read its live state: {e}")),
                    ));
                    continue;
                }
            }
        } else {
            planned
        };
        if let Some(e) = &eval.diff.error {
            outcome[i] = Some(Outcome::Failed(redactor.redact(e)));
            continue;
        }
        let mut did_change = false;
        if eval.diff.action().is_change() && !eval.commands.is_empty() {
            if let Err(e) = run_cmds(work, &eval.commands, redactor).await {
                outcome[i] = Some(Outcome::Failed(e));
                continue;
            }
            did_change = true;
        }
        // Handlers: notified by a changed notifier.
        let notified = (0..n).any(|m| graph.notifies[m].contains(&i) && changed.contains(&m));
        let mut did_notify = false;
        if notified && !eval.on_notify.is_empty() {
            let cmds = if did_change {
                // Its own change may have made the notification moot (a
                // service just started): ask the kind with fresh state.
                match reprobe(work, i).await {
                    Ok(e) => e.on_notify,
                    Err(e) => {
                        outcome[i] = Some(Outcome::Failed(redactor.redact(&e)));
                        continue;
                    }
                }
            } else {
                eval.on_notify.clone()
            };
            if !cmds.is_empty() {
                if let Err(e) = run_cmds(work, &cmds, redactor).await {
                    outcome[i] = Some(Outcome::Failed(format!("notification failed: {e}")));
                    continue;
                }
                did_notify = true;
            }
        }
        if did_change || did_notify {
            changed.insert(i);
        }
        outcome[i] = Some(match (did_change, did_notify) {
            (true, true) => Outcome::ChangedAndNotified,
            (true, false) => Outcome::Changed,
            (false, true) => Outcome::Notified,
            (false, false) => Outcome::Unchanged,
        });
    }

    // Verify: everything that changed must now match (one round trip).
    let to_verify: Vec<usize> = changed
        .iter()
        .copied()
        .filter(|&i| {
            matches!(
                outcome[i],
                Some(Outcome::Changed | Outcome::ChangedAndNotified)
            )
        })
        .collect();
    if !to_verify.is_empty()
        && let Some(t) = &work.transport
    {
        let probes: Vec<String> = to_verify
            .iter()
            .map(|&i| work.resolved.instances[i].resource.probe())
            .collect();
        match probe::run_batch(t.as_ref(), &probes).await {
            Ok(outs) => {
                for (&i, out) in to_verify.iter().zip(outs) {
                    let inst = &work.resolved.instances[i];
                    match inst.resource.evaluate(&out) {
                        Ok(e) if e.diff.action().is_change() => {
                            let detail: Vec<String> = e
                                .diff
                                .attrs
                                .iter()
                                .map(|a| {
                                    format!(
                                        "{} is {}",
                                        a.name,
                                        a.before.as_deref().unwrap_or("(none)")
                                    )
                                })
                                .collect();
                            outcome[i] = Some(Outcome::Failed(redactor.redact(&format!(
                                "did not converge: after apply it still differs ({}){}",
                                e.diff.action().verb(),
                                if detail.is_empty() || inst.sensitive {
                                    String::new()
                                } else {
                                    format!(": {}", detail.join(", "))
                                }
                            ))));
                        }
                        Ok(_) => {}
                        Err(e) => {
                            outcome[i] = Some(Outcome::Failed(
                                redactor.redact(&format!("cannot verify: {e}")),
                            ))
                        }
                    }
                }
            }
            Err(e) => result.error = Some(redactor.redact(&format!("cannot verify: {e}"))),
        }
    }

    result.resources = (0..n)
        .map(|i| ResourceOutcome {
            address: redactor.redact(&work.resolved.instances[i].address),
            outcome: outcome[i].clone().unwrap_or(Outcome::Unchanged),
        })
        .collect();
    result.round_trips = work.transport.as_ref().map_or(0, |t| t.round_trips()) - start_trips;
    result
}

//! Verify: after the walk, everything that changed is probed again, in one
//! round trip; a resource that still differs "did not converge" and fails
//! the run. When changes that can cut access were confirmed, the same
//! round trip first cancels their armed revert (it runs before the
//! probes, so they read the state that stays).

use super::{Outcome, State, Walk, not_disarmed};
use crate::probe::{self, Part};
use crate::resources::Evaluation;

impl Walk<'_> {
    /// Probe again what changed (see the module doc), after running
    /// `disarm`: the script that cancels the revert of the changes
    /// `guarded`, when given. `Err` when the host could not be asked.
    pub(super) async fn verify(
        &self,
        state: &mut State,
        disarm: Option<(&str, &[usize])>,
    ) -> Result<(), String> {
        let outcome = &mut state.outcome;
        let to_verify: Vec<usize> = state
            .changed
            .iter()
            .copied()
            .filter(|&i| changed_itself(&outcome[i]))
            .collect();
        let instances = &self.work.resolved.instances;
        let probes: Vec<String> = to_verify
            .iter()
            .map(|&i| instances[i].resource.probe())
            .collect();
        let parts: Vec<Part> = disarm
            .iter()
            .map(|(s, _)| Part::Change(s))
            .chain(probes.iter().map(|p| Part::Probe(p)))
            .collect();
        if parts.is_empty() {
            return Ok(());
        }
        let Some(t) = self.work.conn() else {
            if let Some((_, guarded)) = disarm {
                not_disarmed(self.redactor, guarded, outcome, "no connection");
            }
            return Ok(());
        };
        let outs = match probe::run_parts(t.as_ref(), &parts).await {
            Ok(outs) => outs,
            Err(e) => {
                if let Some((_, guarded)) = disarm {
                    not_disarmed(self.redactor, guarded, outcome, &e.to_string());
                }
                return Err(self.redactor.redact(&format!("cannot verify: {e}")));
            }
        };
        let mut outs = outs.into_iter();
        if let Some((_, guarded)) = disarm {
            // run_parts answers every part; a missing one counts as failed.
            let d = outs.next().unwrap_or(crate::resources::ProbeOutput {
                status: -1,
                ..Default::default()
            });
            if d.status != 0 {
                let e = format!("exit {}: {}", d.status, d.stderr.trim());
                not_disarmed(self.redactor, guarded, outcome, &e);
            }
        }
        for (&i, out) in to_verify.iter().zip(outs) {
            // Not when the revert will undo it anyway (said on it).
            if !changed_itself(&outcome[i]) {
                continue;
            }
            let inst = &instances[i];
            match inst.resource.evaluate(&out) {
                Ok(e) if e.diff.action().is_change() => {
                    outcome[i] = Some(Outcome::Failed(
                        self.redactor.redact(&not_converged(&e, inst.sensitive)),
                    ));
                }
                Ok(_) => {}
                Err(e) => {
                    outcome[i] = Some(Outcome::Failed(
                        self.redactor.redact(&format!("cannot verify: {e}")),
                    ))
                }
            }
        }
        Ok(())
    }
}

/// Whether an outcome is a change of the resource itself (not only its
/// notification).
fn changed_itself(o: &Option<Outcome>) -> bool {
    matches!(o, Some(Outcome::Changed | Outcome::ChangedAndNotified))
}

/// Why a resource that was changed still differs from its desired state.
fn not_converged(e: &Evaluation, sensitive: bool) -> String {
    let detail: Vec<String> = e
        .diff
        .attrs
        .iter()
        .map(|a| format!("{} is {}", a.name, a.before.as_deref().unwrap_or("(none)")))
        .collect();
    format!(
        "did not converge: after apply it still differs ({}){}",
        e.diff.action().verb(),
        if detail.is_empty() || sensitive {
            String::new()
        } else {
            format!(": {}", detail.join(", "))
        }
    )
}

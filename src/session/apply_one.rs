//! Apply one planned host and record what it now is: a host with changes
//! is applied ([`crate::apply::apply_host_confirmed`], under
//! commit-confirmed when it is reached over SSH), then its release
//! ([`record_release`]) and its ledger
//! ([`crate::ledger::record_after_apply`]) are recorded. Used by the
//! parallel apply and by the rollout's batches alike.

use super::Session;
use crate::apply::{self, AccessCheck, HostOutcome, Progress};
use crate::config::inventory::TransportKind;
use crate::plan::HostWork;

/// Apply one host (when it has changes), then record its release and
/// ledger; an error recording them follows the host's own error.
pub async fn apply_and_record(w: &HostWork, s: &Session, progress: &dyn Progress) -> HostOutcome {
    if crate::interrupt::requested() && w.plan.summary.changes() > 0 {
        return HostOutcome {
            host: w.host.clone(),
            resources: Vec::new(),
            error: Some(format!(
                "not applied: keel was interrupted before this host started ({} to change)",
                w.plan.summary.changes()
            )),
            round_trips: 0,
        };
    }
    let mut outcome = if w.plan.summary.changes() == 0 {
        HostOutcome {
            host: w.host.clone(),
            resources: Vec::new(),
            error: None,
            round_trips: 0,
        }
    } else {
        let access = access_check(s, &w.host);
        apply::apply_host_confirmed(w, &s.redactor, progress, access.as_ref()).await
    };
    let recorded = match record_release(w, &outcome).await {
        Ok(()) => crate::ledger::record_after_apply(w, &outcome).await,
        Err(e) => Err(e),
    };
    if let Err(e) = recorded {
        // After a failure, what the run did comes first (a lost
        // connection also fails the recording).
        let e = apply::mask_for_host(w, &s.redactor, &e);
        outcome.error = Some(match outcome.error.take() {
            Some(other) => format!("{other}\n{e}"),
            None => e,
        });
    }
    outcome
}

/// How to confirm that a host reached over SSH is still reachable after
/// changes that can cut access; `None` for a local host.
fn access_check(s: &Session, host: &str) -> Option<AccessCheck> {
    let h = s.project.inventory.hosts.get(host)?;
    let timeout = s.options.connect_timeout;
    (h.transport == TransportKind::Ssh).then(|| AccessCheck {
        target: crate::connect::primary_target(h, timeout),
        timeout: h.confirm_timeout.unwrap_or(s.options.confirm_timeout),
        fallback: crate::connect::bootstrap_target(h, timeout),
    })
}

/// After a host was applied: record its release when the run succeeded
/// and the release changed. Returns an error to report for the host.
async fn record_release(work: &HostWork, outcome: &HostOutcome) -> Result<(), String> {
    let (Some(ctx), Some(plan)) = (&work.resolved.release, &work.plan.release) else {
        return Ok(());
    };
    if outcome.failed() || !plan.changes() {
        return Ok(());
    }
    let t = work.conn().ok_or("no connection")?;
    match t.run(&crate::release::write_script(ctx, plan)).await {
        Ok(o) if o.success() => Ok(()),
        Ok(o) => Err(format!(
            "the release {} was applied but could not be recorded: {}",
            ctx.version,
            o.stderr_text().trim()
        )),
        Err(e) => Err(format!(
            "the release {} was applied but could not be recorded: {e}",
            ctx.version
        )),
    }
}

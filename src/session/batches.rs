//! Batches of a rollout across hosts: `serial:` splits the run's hosts
//! into batches applied one after the other (each batch in parallel,
//! bounded by `--parallel`); after a batch, its hosts' checks run, and a
//! failed check counts as a failed host. When more hosts have failed than
//! `max_fail:` allows, the run stops: the hosts not started are reported
//! as not applied. Without `serial:` the run is one batch.

use super::Session;
use crate::apply::{HostOutcome, Progress};
use crate::config::rollout::{Amount, Rollout};
use crate::plan::HostWork;
use std::sync::Arc;

/// Apply `works` batch by batch (see the module doc); one outcome per
/// host, in the order of `works`.
pub async fn apply_in_batches(
    s: Arc<Session>,
    works: Arc<Vec<HostWork>>,
    progress: Arc<dyn Progress>,
) -> Vec<HostOutcome> {
    let rollout = &s.project.stack.rollout;
    let names: Vec<String> = works.iter().map(|w| w.host.clone()).collect();
    let plan = batches(&names, rollout.serial);
    let limit = tolerated(rollout, names.len());
    let mut outcomes: Vec<Option<HostOutcome>> = vec![None; works.len()];
    let mut failed = 0;
    for (b, batch) in plan.iter().enumerate() {
        // Once stopped (crate::interrupt), each host of a later batch says
        // so itself (apply_and_record), not that the rollout's limit stopped it.
        if let Some(l) = limit.filter(|&l| failed > l && !crate::interrupt::requested()) {
            for (i, w) in works.iter().enumerate() {
                if batch.contains(&w.host) {
                    outcomes[i] = Some(not_applied(&w.host, (b, plan.len()), failed, l));
                }
            }
            continue;
        }
        let idx: Vec<usize> = (0..works.len())
            .filter(|&i| batch.contains(&works[i].host))
            .collect();
        for (i, o) in apply_batch(&s, &works, &progress, &idx).await {
            failed += usize::from(o.failed());
            outcomes[i] = Some(o);
        }
    }
    outcomes.into_iter().flatten().collect()
}

/// Apply the hosts `idx` of `works` in parallel (bounded by `--parallel`),
/// then run the checks of those that applied; a failed check fails its
/// host.
async fn apply_batch(
    s: &Arc<Session>,
    works: &Arc<Vec<HostWork>>,
    progress: &Arc<dyn Progress>,
    idx: &[usize],
) -> Vec<(usize, HostOutcome)> {
    let sem = Arc::new(tokio::sync::Semaphore::new(s.options.parallel.max(1)));
    let mut tasks = Vec::new();
    for &i in idx {
        let (works, s, sem, progress) = (works.clone(), s.clone(), sem.clone(), progress.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await;
            let mut o = super::apply_one::apply_and_record(&works[i], &s, progress.as_ref()).await;
            if !o.failed() {
                check_host(&works[i], &s, &mut o).await;
            }
            o
        }));
    }
    let mut out = Vec::new();
    for (t, &i) in tasks.into_iter().zip(idx) {
        let o = t.await.unwrap_or_else(|e| HostOutcome {
            host: works[i].host.clone(),
            resources: Vec::new(),
            error: Some(format!("internal error: {e}")),
            round_trips: 0,
        });
        out.push((i, o));
    }
    out
}

/// Run a host's checks after its batch applied; the failed ones become
/// the host's error.
async fn check_host(w: &HostWork, s: &Session, o: &mut HostOutcome) {
    let reports = s.run_checks(w).await;
    let failures = crate::check::failures(&reports);
    if !failures.is_empty() {
        o.error = Some(format!(
            "a check failed after its batch applied: {}",
            failures.join("; ")
        ));
    }
}

/// The hosts of each batch, in the run's order: `serial` hosts at a time
/// (a percentage of `hosts.len()`, rounded up, at least one).
pub fn batches(hosts: &[String], serial: Option<Amount>) -> Vec<Vec<String>> {
    if hosts.is_empty() {
        return Vec::new();
    }
    let size = match serial {
        None => hosts.len(),
        Some(a) => of(a, hosts.len(), true).max(1),
    };
    hosts.chunks(size).map(<[String]>::to_vec).collect()
}

/// How many failed hosts the run tolerates: `None` without `max_fail:`
/// and without `serial:` (no limit, every host is applied); 0 when
/// `serial:` is written without `max_fail:` (the first failure stops the
/// run). A percentage of `total` rounds down.
pub fn tolerated(r: &Rollout, total: usize) -> Option<usize> {
    match (r.max_fail, r.serial) {
        (Some(a), _) => Some(of(a, total, false)),
        (None, Some(_)) => Some(0),
        (None, None) => None,
    }
}

/// `a` of `total`: a count as written, a percentage rounded up or down.
fn of(a: Amount, total: usize, round_up: bool) -> usize {
    match a {
        Amount::Count(c) => usize::try_from(c).unwrap_or(usize::MAX),
        Amount::Percent(p) => {
            let n = total * usize::from(p);
            if round_up { n.div_ceil(100) } else { n / 100 }
        }
    }
}

/// The outcome of a host the run did not start because it stopped after
/// batch `done` of `of_batches`, `failed` hosts having failed where
/// `tolerated` were allowed.
pub fn not_applied(
    host: &str,
    (done, of_batches): (usize, usize),
    failed: usize,
    tolerated: usize,
) -> HostOutcome {
    HostOutcome {
        host: host.to_string(),
        resources: Vec::new(),
        error: Some(format!(
            "not applied: the rollout stopped after batch {done}/{of_batches}: {failed} host{} failed, max_fail allows {tolerated}",
            if failed == 1 { "" } else { "s" }
        )),
        round_trips: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("web-{i}")).collect()
    }

    fn sizes(b: &[Vec<String>]) -> Vec<usize> {
        b.iter().map(Vec::len).collect()
    }

    #[test]
    fn counts_split_the_hosts_in_order() {
        let b = batches(&hosts(5), Some(Amount::Count(2)));
        assert_eq!(sizes(&b), [2, 2, 1]);
        assert_eq!(b[0], ["web-1", "web-2"]);
        assert_eq!(b[2], ["web-5"]);
        assert_eq!(sizes(&batches(&hosts(3), Some(Amount::Count(10)))), [3]);
        assert_eq!(sizes(&batches(&hosts(3), None)), [3]);
        assert!(batches(&[], Some(Amount::Count(1))).is_empty());
    }

    #[test]
    fn percentages_round_up_and_take_at_least_one_host() {
        // 30% of 10 = 3; 30% of 5 = 1.5 → 2; 1% of 5 = 0.05 → 1.
        assert_eq!(
            sizes(&batches(&hosts(10), Some(Amount::Percent(30)))),
            [3, 3, 3, 1]
        );
        assert_eq!(
            sizes(&batches(&hosts(5), Some(Amount::Percent(30)))),
            [2, 2, 1]
        );
        assert_eq!(sizes(&batches(&hosts(5), Some(Amount::Percent(1)))), [1; 5]);
        assert_eq!(sizes(&batches(&hosts(4), Some(Amount::Percent(100)))), [4]);
    }

    #[test]
    fn failures_tolerated() {
        let r = |serial, max_fail| Rollout {
            serial,
            max_fail,
            serial_span: None,
        };
        assert_eq!(tolerated(&r(None, None), 5), None);
        assert_eq!(tolerated(&r(Some(Amount::Count(1)), None), 5), Some(0));
        assert_eq!(tolerated(&r(None, Some(Amount::Count(2))), 5), Some(2));
        // 30% of 5 = 1.5 → 1 tolerated: the second failure stops the run.
        assert_eq!(tolerated(&r(None, Some(Amount::Percent(30))), 5), Some(1));
    }
}

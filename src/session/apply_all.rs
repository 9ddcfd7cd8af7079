//! Apply every planned host, in parallel and bounded like
//! [`super::plan_all`] plans them (or in the rollout's batches,
//! [`super::batches`]), each with [`apply_and_record`]. [`finish`] ends a
//! run: every host lock let go, every connection closed.

use super::Session;
use super::apply_one::apply_and_record;
use crate::apply::{HostOutcome, Progress};
use crate::plan::HostWork;
use std::sync::Arc;

/// Apply every host of `works`, at most `parallel` at a time; one outcome
/// per host, in the order of `works`.
pub async fn apply_all(
    s: Arc<Session>,
    works: Arc<Vec<HostWork>>,
    progress: Arc<dyn Progress>,
) -> Vec<HostOutcome> {
    if s.project.stack.rollout.is_set() {
        return super::batches::apply_in_batches(s, works, progress).await;
    }
    let sem = Arc::new(tokio::sync::Semaphore::new(s.options.parallel.max(1)));
    let mut tasks = Vec::new();
    for idx in 0..works.len() {
        let (works, s, sem, progress) = (works.clone(), s.clone(), sem.clone(), progress.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await;
            apply_and_record(&works[idx], &s, progress.as_ref()).await
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap_or_else(|e| HostOutcome {
            host: "?".into(),
            resources: Vec::new(),
            error: Some(format!("internal error: {e}")),
            round_trips: 0,
        }));
    }
    outcomes
}

/// Let go of every host lock, then close every connection.
pub async fn finish(works: &[HostWork]) {
    for w in works {
        w.release_lock().await;
    }
    for w in works {
        let later = w.reconnected.lock().ok().and_then(|g| g.clone());
        if let Some(t) = later {
            t.close().await;
        }
        if let Some(t) = &w.transport {
            t.close().await;
        }
    }
}

//! The work of one host between plan and apply: its connection (and the
//! one that replaces it after a confirmed SSH change), its lock, what was
//! resolved, its graph, the evaluations and the plan built from them.

use crate::graph::Graph;
use crate::plan::HostPlan;
use crate::resolve::Resolved;
use crate::resources::Evaluation;
use crate::transport::Transport;
use std::sync::Arc;

/// What was computed for one host: enough to print its plan and apply it.
pub struct HostWork {
    pub host: String,
    pub transport: Option<Arc<dyn Transport>>,
    /// A connection opened during apply that replaces `transport` (after a
    /// confirmed change of SSH port or user, later steps use the new one).
    pub reconnected: std::sync::Mutex<Option<Arc<dyn Transport>>>,
    pub resolved: Resolved,
    pub graph: Option<Graph>,
    pub evals: Vec<Option<Evaluation>>,
    pub plan: HostPlan,
    /// The host's lock, held for the run (apply only).
    pub lock: Option<crate::lock::HostLock>,
}

impl HostWork {
    /// The connection to use now.
    pub fn conn(&self) -> Option<Arc<dyn Transport>> {
        self.reconnected
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .or_else(|| self.transport.clone())
    }

    /// Let go of the host's lock, if held.
    pub async fn release_lock(&self) {
        if let Some(l) = &self.lock {
            l.release().await;
        }
    }

    /// Use this connection from now on.
    pub fn reconnect(&self, t: Arc<dyn Transport>) {
        if let Ok(mut g) = self.reconnected.lock() {
            *g = Some(t);
        }
    }

    /// Round trips made on every connection of this host.
    pub fn round_trips(&self) -> u64 {
        let first = self.transport.as_ref().map_or(0, |t| t.round_trips());
        let later = self
            .reconnected
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|t| t.round_trips()))
            .unwrap_or(0);
        first + later
    }
}

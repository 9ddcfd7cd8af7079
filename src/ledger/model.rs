//! The ledger's data: what one stack manages on a host ([`Ledger`], its
//! [`Entry`]s, stored as JSON on the host) and what a plan learned about
//! a host's ledgers, kept for the apply ([`HostLedger`]). Reading,
//! pruning and recording are in the parent module.

use super::ssh_end::SshEnd;
use serde::{Deserialize, Serialize};
use serde_json::Value as J;
use std::collections::BTreeSet;
use std::sync::Mutex;

/// One thing a stack manages on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub address: String,
    pub kind: String,
    /// The identifying settings (`{"path": "/etc/x"}`).
    pub spec: serde_json::Map<String, J>,
    /// keel created it: only such entries are pruned.
    #[serde(default)]
    pub created: bool,
    /// A file's content as keel last wrote it (or found it, when
    /// imported): its sha256, kept only in this root-only file, never
    /// shown. A file whose content differs is not pruned without
    /// `--force-prune` (`ledger::guard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// The ledger of one stack on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub stack: String,
    pub entries: Vec<Entry>,
}

/// What the plan learned about a host's ledger, kept for the apply.
#[derive(Debug, Clone, Default)]
pub struct HostLedger {
    pub stack: String,
    pub state_dir: String,
    /// The recorded ledger (`None`: missing or corrupt).
    pub previous: Option<Ledger>,
    /// Addresses added to the plan for removal.
    pub pruned: BTreeSet<String>,
    /// `--force-prune`, or the stack's `prune: force`: remove files
    /// changed by hand too.
    pub force: bool,
    /// The SSH port keel reaches the host on (`None`: not over SSH), which
    /// pruning a `ufw` must leave open (`ledger::guard`) when `ssh_end` is not
    /// known.
    pub ssh_port: Option<u16>,
    /// Where sshd took keel's connection on the host (port and family),
    /// read with the ledgers (`None`: not known, or not over SSH).
    pub ssh_end: Option<SshEnd>,
    /// The account keel logs in as (`None`: not over SSH), which pruning
    /// must not remove (`ledger::guard`).
    pub login: Option<String>,
    /// Lockout refusals are warnings (`--allow-lockout-risk`).
    pub allow_lockout_risk: bool,
    /// The removals [`guard`] refused, as `ledger::show_removals` found them.
    pub refused: Refused,
}

impl HostLedger {
    /// `STATE_DIR/ledger`.
    pub fn dir(&self) -> String {
        format!("{}/ledger", self.state_dir.trim_end_matches('/'))
    }
    /// The ledger file of this stack.
    pub fn path(&self) -> String {
        format!("{}/{}.json", self.dir(), self.stack)
    }
}

/// The addresses whose removal was refused when the host was planned,
/// recorded while the plan is built from shared references (for `keel
/// drift`, which reports them as drift rather than as errors).
#[derive(Debug, Default)]
pub struct Refused(Mutex<BTreeSet<String>>);

impl Refused {
    pub(crate) fn set(&self, addresses: BTreeSet<String>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = addresses;
    }
    pub fn contains(&self, address: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(address)
    }
}

impl Clone for Refused {
    fn clone(&self) -> Self {
        Refused(Mutex::new(
            self.0.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        ))
    }
}

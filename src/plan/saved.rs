//! Saved plans: `keel plan --out FILE` writes the JSON plan; `keel apply
//! FILE` re-resolves the same stack, and refuses unless the configuration
//! hashes to the same desired state and every planned resource's live state
//! still gives the same probe fingerprint. Then it applies exactly that plan.

use super::{HostPlan, Plan};
use std::path::Path;

/// Why a saved plan cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Stale {
    #[error("{0} is not a keel plan: {1}")]
    Unreadable(String, String),
    #[error("the plan was made by keel plan format {found}; this keel reads format {expected}")]
    Format { found: u32, expected: u32 },
    #[error(
        "host {host}: the stack's configuration changed since the plan was made; run `keel plan` again"
    )]
    Config { host: String },
    #[error(
        "host {host}: the live state of {address} changed since the plan was made; run `keel plan` again"
    )]
    Live { host: String, address: String },
    #[error("host {host} is not in the saved plan (or the plan has hosts this run doesn't target)")]
    Hosts { host: String },
    #[error("host {host} could not be planned when the plan was saved: {error}")]
    HostError { host: String, error: String },
}

pub fn save(plan: &Plan, path: &Path) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(plan).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text + "\n")?;
    std::fs::rename(&tmp, path)
}

pub fn load(path: &Path) -> Result<Plan, Stale> {
    let name = path.display().to_string();
    let text =
        crate::config::local_file::read_text(path, crate::config::local_file::MAX_DATA_BYTES)
            .map_err(|e| Stale::Unreadable(name.clone(), e.to_string()))?;
    let plan: Plan =
        serde_json::from_str(&text).map_err(|e| Stale::Unreadable(name, e.to_string()))?;
    if plan.format_version != super::FORMAT_VERSION {
        return Err(Stale::Format {
            found: plan.format_version,
            expected: super::FORMAT_VERSION,
        });
    }
    Ok(plan)
}

/// Compare a freshly computed host plan with the saved one.
pub fn check_host(saved: &HostPlan, fresh: &HostPlan) -> Result<(), Stale> {
    if let Some(e) = &saved.error {
        return Err(Stale::HostError {
            host: saved.host.clone(),
            error: e.clone(),
        });
    }
    if saved.desired_hash != fresh.desired_hash || saved.resources.len() != fresh.resources.len() {
        return Err(Stale::Config {
            host: saved.host.clone(),
        });
    }
    for (s, f) in saved.resources.iter().zip(&fresh.resources) {
        if s.address != f.address {
            return Err(Stale::Config {
                host: saved.host.clone(),
            });
        }
        if s.fingerprint != f.fingerprint || s.action != f.action {
            return Err(Stale::Live {
                host: saved.host.clone(),
                address: s.address.clone(),
            });
        }
    }
    Ok(())
}

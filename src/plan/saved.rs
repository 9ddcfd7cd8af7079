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
    /// Not JSON, or not a plan's shape: see [`Stale::diag`] for the location.
    #[error("{path}:{line}:{column}: {message}")]
    Corrupt {
        path: String,
        text: String,
        line: usize,
        column: usize,
        message: String,
    },
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
    let text = std::fs::read_to_string(path)
        .map_err(|e| Stale::Unreadable(name.clone(), e.to_string()))?;
    let plan: Plan = serde_json::from_str(&text).map_err(|e| corrupt(name, &text, &e))?;
    if plan.format_version != super::FORMAT_VERSION {
        return Err(Stale::Format {
            found: plan.format_version,
            expected: super::FORMAT_VERSION,
        });
    }
    Ok(plan)
}

/// A saved plan that does not parse, with where and why.
fn corrupt(path: String, text: &str, e: &serde_json::Error) -> Stale {
    let full = e.to_string();
    // serde_json appends " at line L column C"; the location is kept apart.
    let what = full
        .rfind(" at line ")
        .map_or(full.as_str(), |i| &full[..i])
        .to_string();
    let message = match e.classify() {
        serde_json::error::Category::Data => format!("not a keel plan: {what}"),
        serde_json::error::Category::Eof => {
            "cut short: its JSON ends before it is complete".to_string()
        }
        _ => format!("not valid JSON ({what}): the file was edited or damaged"),
    };
    Stale::Corrupt {
        path,
        text: text.to_string(),
        line: e.line(),
        column: e.column(),
        message,
    }
}

impl Stale {
    /// A located diagnostic, for errors that have a place in the file.
    pub fn diag(&self) -> Option<crate::diag::Diag> {
        let Stale::Corrupt {
            path,
            text,
            line,
            column,
            message,
        } = self
        else {
            return None;
        };
        let src = crate::diag::SourceFile::new(Path::new(path), text.clone());
        let mut offset = src.offset_of(*line, *column).min(text.len());
        let mut label = "here";
        let end = text.trim_end().len();
        if offset >= end {
            // Cut short: point at the last character there is.
            offset = text[..end].char_indices().last().map_or(0, |(i, _)| i);
            label = "the file ends here";
        }
        let len = text[offset..].chars().next().map_or(0, char::len_utf8);
        Some(
            crate::diag::Diag::at(
                "keel::saved-plan",
                &src,
                crate::config::node::Span { offset, len },
                format!("{} is {message}", src.name),
                label,
            )
            .with_help(
                "a saved plan is applied only exactly as `keel plan --out FILE` wrote it: make a new one",
            ),
        )
    }
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

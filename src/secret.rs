//! Secrets: values that never appear in argv, logs, plans or CI output.
//!
//! A [`Secret`] holds its value in a type whose `Debug`/`Display` print
//! `(sensitive)`. Values are read on the machine keel runs on, from an
//! environment variable, a file, or a command (a password manager's CLI).
//! The [`Redactor`] knows every secret value of a run and replaces any
//! occurrence in text meant for people (plans, logs, errors) with
//! `(sensitive)` — a last line of defence behind the plan's own masking of
//! anything rendered from a secret.

use crate::config::stack::{SecretDecl, SecretSource};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// What is shown instead of a secret.
pub const MASK: &str = "(sensitive)";

/// A secret value. Printing it prints `(sensitive)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Secret(value.into())
    }
    /// The value itself: only for rendering into what is sent to hosts.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// Read one secret. Errors never contain the value.
pub fn read(decl: &SecretDecl, base_dir: &Path) -> Result<Secret, String> {
    let strip = |mut s: String| {
        if s.ends_with('\n') {
            s.pop();
            if s.ends_with('\r') {
                s.pop();
            }
        }
        s
    };
    let value = match &decl.source {
        SecretSource::Env(var) => std::env::var(var).map_err(|_| {
            format!(
                "environment variable `{var}` is not set (secret `{}`)",
                decl.name
            )
        })?,
        SecretSource::File(path) => {
            let p = base_dir.join(path);
            strip(
                crate::config::local_file::read_text(
                    &p,
                    crate::config::local_file::MAX_CONFIG_BYTES,
                )
                .map_err(|e| {
                    let hint = e.hint().map(|h| format!("; {h}")).unwrap_or_default();
                    format!("{} for secret `{}`{hint}", e.message(""), decl.name)
                })?,
            )
        }
        SecretSource::Command(cmd) => {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .current_dir(base_dir)
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| format!("cannot run the command of secret `{}`: {e}", decl.name))?;
            if !out.status.success() {
                return Err(format!(
                    "the command of secret `{}` failed with {} (its output is not shown)",
                    decl.name, out.status
                ));
            }
            strip(String::from_utf8(out.stdout).map_err(|_| {
                format!(
                    "the command of secret `{}` printed non-UTF-8 bytes",
                    decl.name
                )
            })?)
        }
    };
    if value.is_empty() {
        return Err(format!("secret `{}` is empty", decl.name));
    }
    Ok(Secret::new(value))
}

/// Replaces every known secret value in text with `(sensitive)`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    values: Vec<Secret>,
}

/// Secrets shorter than this are not searched for in output (masking every
/// `x` would garble it); keel warns about them instead.
pub const MIN_REDACT_LEN: usize = 4;

impl Redactor {
    pub fn new(mut values: Vec<Secret>) -> Self {
        values.retain(|v| v.expose().len() >= MIN_REDACT_LEN);
        // Longest first, so a secret containing another is masked whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.expose().len()));
        values.dedup();
        Redactor { values }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if !v.expose().is_empty() && out.contains(v.expose()) {
                out = out.replace(v.expose(), MASK);
            }
        }
        out
    }

    /// Whether the text contains any secret value.
    pub fn touches(&self, text: &str) -> bool {
        self.values
            .iter()
            .any(|v| !v.expose().is_empty() && text.contains(v.expose()))
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "(sensitive) (sensitive)");
    }

    #[test]
    fn redactor_masks_all_occurrences() {
        let r = Redactor::new(vec![
            Secret::new("abcd"),
            Secret::new("abcdefg"),
            Secret::new("x"),
        ]);
        assert_eq!(r.redact("x abcdefg y abcd"), "x (sensitive) y (sensitive)");
        assert!(r.touches("..abcd.."));
        assert!(!r.touches("x"), "too short to mask");
    }

    #[test]
    fn command_source_failure_hides_output() {
        let d = SecretDecl {
            name: "t".into(),
            span: Default::default(),
            source: SecretSource::Command("echo topsecret; exit 3".into()),
        };
        let e = read(&d, Path::new(".")).unwrap_err();
        assert!(!e.contains("topsecret"));
    }
}

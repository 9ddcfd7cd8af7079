//! Releases: the version of an application a stack deploys, recorded on
//! each host, and the run-once steps that follow it.
//!
//! A stack declares `release: "{{vars.release}}"` (any template; usually a
//! var given with `--set release=v2.1.0`). The rendered value is `{{release}}`
//! in every template of the stack and its modules.
//!
//! On each host keel keeps, under the stack's `state_dir` (default
//! `/var/lib/keel`, a root-only 0700 folder):
//! - `releases/STACK.json`: the applied release, the one before it and
//!   when it was applied (`{"stack":…,"release":…,"previous":…,"applied_at":…}`),
//!   read by the plan's one probe round trip and written atomically at the
//!   end of a successful apply that changes it;
//! - `releases/STACK.once/KEY`: for each `command` with `once: release`,
//!   the releases it succeeded for, one per line (KEY is a digest of the
//!   command's name).
//!
//! Release values and stack names are restricted to `[A-Za-z0-9._+-]` so
//! they are safe in file names, in JSON and in shell words.

use crate::shell::{self, Script, q};
use serde::{Deserialize, Serialize};

/// Where keel keeps its per-host state when the stack does not say.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/keel";

/// The longest release value accepted.
const MAX_LEN: usize = 128;

/// What a resource needs to know about the release it is applied for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub stack: String,
    pub version: String,
    pub state_dir: String,
}

impl Context {
    /// `STATE_DIR/releases`.
    pub fn dir(&self) -> String {
        format!("{}/releases", self.state_dir.trim_end_matches('/'))
    }

    /// The release record of the stack on a host.
    pub fn record_path(&self) -> String {
        format!("{}/{}.json", self.dir(), self.stack)
    }

    /// The file listing the releases a run-once step succeeded for.
    pub fn once_path(&self, step: &str) -> String {
        format!("{}/{}.once/{}", self.dir(), self.stack, step_key(step))
    }
}

/// A file-name-safe key for a run-once step's name.
pub fn step_key(step: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(step.as_bytes());
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Check a release value (or stack name): non-empty, at most 128
/// characters of `[A-Za-z0-9._+-]`, not starting with `.` or `-`.
pub fn check_value(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("is empty".into());
    }
    if v.len() > MAX_LEN {
        return Err(format!("is longer than {MAX_LEN} characters"));
    }
    if let Some(c) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')))
    {
        return Err(format!(
            "contains `{}`; use letters, digits, `.`, `_`, `+` and `-`",
            c.escape_debug()
        ));
    }
    if v.starts_with('.') || v.starts_with('-') {
        return Err("starts with `.` or `-`".into());
    }
    Ok(())
}

/// The release record of a stack on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub stack: String,
    pub release: String,
    #[serde(default)]
    pub previous: Option<String>,
    #[serde(default)]
    pub applied_at: Option<String>,
}

/// The release line of a host's plan: `release: BEFORE → AFTER`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasePlan {
    /// Recorded on the host now (`None`: never applied).
    pub before: Option<String>,
    /// What this run applies.
    pub after: String,
    /// The release recorded before `before` (what `keel rollback` uses).
    pub previous: Option<String>,
    /// When `before` was applied (host clock, UTC).
    pub applied_at: Option<String>,
}

impl ReleasePlan {
    pub fn changes(&self) -> bool {
        self.before.as_deref() != Some(self.after.as_str())
    }

    /// `v2.0.3 → v2.1.0`, `(none) → v1`, or `v2.1.0 (unchanged)`.
    pub fn describe(&self) -> String {
        if self.changes() {
            format!(
                "{} → {}",
                self.before.as_deref().unwrap_or("(none)"),
                self.after
            )
        } else {
            format!("{} (unchanged)", self.after)
        }
    }
}

/// The probe that reads a stack's record: prints `record=none`, or
/// `record=found` and the file.
pub fn read_script(ctx: &Context) -> String {
    let p = q(&ctx.record_path());
    format!("if [ -f {p} ]; then echo record=found; cat -- {p}; else echo record=none; fi\n")
}

/// Parse what [`read_script`] printed.
pub fn parse_record(stdout: &str) -> Result<Option<Record>, String> {
    let (first, rest) = stdout.split_once('\n').unwrap_or((stdout, ""));
    match first.trim() {
        "record=none" => Ok(None),
        "record=found" => serde_json::from_str::<Record>(rest.trim())
            .map(Some)
            .map_err(|e| format!("the release record on the host is not valid ({e})")),
        _ => Err(format!(
            "unexpected output of the release probe: {}",
            first.escape_debug()
        )),
    }
}

/// The plan's release line for a host, from the probe output.
pub fn plan_of(ctx: &Context, stdout: &str) -> Result<ReleasePlan, String> {
    let record = parse_record(stdout)?;
    Ok(match record {
        None => ReleasePlan {
            before: None,
            after: ctx.version.clone(),
            previous: None,
            applied_at: None,
        },
        Some(r) => ReleasePlan {
            before: Some(r.release),
            after: ctx.version.clone(),
            previous: r.previous,
            applied_at: r.applied_at,
        },
    })
}

/// Shell lines creating `STATE_DIR/releases` (and `extra` below it) root-only.
fn make_dirs(ctx: &Context, extra: Option<&str>) -> String {
    let dir = |d: &str| {
        Script::new(include_str!("release/dir.sh"))
            .set("keel_dir", d)
            .render()
    };
    let mut s = dir(&ctx.dir());
    if let Some(e) = extra {
        s.push_str(&dir(e));
    }
    s
}

/// The script that records `plan.after` as the applied release (the one
/// it replaces becomes `previous`), atomically through a private
/// temporary file.
pub fn write_script(ctx: &Context, plan: &ReleasePlan) -> String {
    let path = ctx.record_path();
    // What was there before becomes `previous`; re-applying the same
    // release keeps the previous one.
    let previous = if plan.changes() {
        plan.before.clone()
    } else {
        plan.previous.clone()
    };
    let prev_json = match &previous {
        Some(p) => format!("\"{p}\""),
        None => "null".into(),
    };
    let mut s = String::from("set -e\n");
    s.push_str(&make_dirs(ctx, None));
    let record = Script::new(include_str!("release/record.sh"))
        .set("keel_stack", &ctx.stack)
        .set("keel_release", &ctx.version)
        .set("keel_previous", &prev_json)
        .render();
    s.push_str(&shell::write_private_from("keel_tmp", &path, &record));
    s
}

/// A shell condition true when `step` already succeeded for this release.
pub fn once_done_test(ctx: &Context, step: &str) -> String {
    format!(
        "grep -qxF -- {} {} 2>/dev/null",
        q(&ctx.version),
        q(&ctx.once_path(step))
    )
}

/// Shell lines that record the success of `step` for this release (the
/// list of releases is replaced atomically).
pub fn once_record(ctx: &Context, step: &str) -> String {
    let path = ctx.once_path(step);
    let dir = format!("{}/{}.once", ctx.dir(), ctx.stack);
    let mut s = String::from("(\nset -e\n");
    s.push_str(&make_dirs(ctx, Some(&dir)));
    let list = Script::new(include_str!("release/once.sh"))
        .set("keel_list", &path)
        .set("keel_release", &ctx.version)
        .render();
    s.push_str(&shell::write_private_from("keel_once", &path, &list));
    s.push_str(")\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Probe lines of a run-once step: print `once=done` when `step` already
    /// succeeded for this release, else `once=pending`.
    fn once_probe(ctx: &Context, step: &str) -> String {
        format!(
            "if grep -qxF -- {} {} 2>/dev/null; then echo once=done; else echo once=pending; fi\n",
            q(&ctx.version),
            q(&ctx.once_path(step))
        )
    }

    fn ctx(dir: &std::path::Path, version: &str) -> Context {
        Context {
            stack: "web".into(),
            version: version.into(),
            state_dir: dir.display().to_string(),
        }
    }

    fn sh(script: &str) -> std::process::Output {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap()
    }

    #[test]
    fn values_are_checked() {
        assert!(check_value("v2.1.0").is_ok());
        assert!(check_value("2026-01-01_build+3").is_ok());
        for bad in ["", "a b", "x;rm", "../x", "-v", "é", "a\"b", "a/b"] {
            assert!(check_value(bad).is_err(), "{bad:?}");
        }
        assert!(check_value(&"a".repeat(129)).is_err());
    }

    #[test]
    fn records_are_written_read_and_keep_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let a = ctx(dir.path(), "A");
        let read = |c: &Context| {
            let out = sh(&read_script(c));
            plan_of(c, &String::from_utf8_lossy(&out.stdout)).unwrap()
        };
        let p = read(&a);
        assert_eq!(p.before, None);
        assert!(p.changes());
        assert_eq!(p.describe(), "(none) → A");
        assert!(sh(&write_script(&a, &p)).status.success());
        let p = read(&a);
        assert_eq!(p.before.as_deref(), Some("A"));
        assert!(!p.changes());
        assert!(p.applied_at.as_deref().is_some_and(|t| t.ends_with('Z')));
        let b = ctx(dir.path(), "B");
        let p = read(&b);
        assert_eq!(p.describe(), "A → B");
        assert!(sh(&write_script(&b, &p)).status.success());
        let p = read(&b);
        assert_eq!(
            (p.before.as_deref(), p.previous.as_deref()),
            (Some("B"), Some("A"))
        );
        // Re-applying B keeps A as the previous release.
        assert!(sh(&write_script(&b, &p)).status.success());
        assert_eq!(read(&b).previous.as_deref(), Some("A"));
        use std::os::unix::fs::PermissionsExt;
        let rel = dir.path().join("releases");
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&rel), 0o700);
        assert_eq!(mode(&rel.join("web.json")), 0o600);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&rel)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_broken_record_is_an_error_not_a_fresh_host() {
        assert!(parse_record("record=found\nnot json").is_err());
        assert!(parse_record("garbage").is_err());
        assert_eq!(parse_record("record=none\n").unwrap(), None);
    }

    #[test]
    fn once_steps_are_recorded_per_release() {
        let dir = tempfile::tempdir().unwrap();
        let a = ctx(dir.path(), "A");
        let b = ctx(dir.path(), "B");
        let probe = |c: &Context| {
            String::from_utf8_lossy(&sh(&once_probe(c, "migrate")).stdout).to_string()
        };
        assert_eq!(probe(&a), "once=pending\n");
        assert!(sh(&once_record(&a, "migrate")).status.success());
        assert_eq!(probe(&a), "once=done\n");
        assert_eq!(probe(&b), "once=pending\n");
        // Another step of the same release is its own.
        assert_eq!(
            String::from_utf8_lossy(&sh(&once_probe(&a, "seed")).stdout),
            "once=pending\n"
        );
        assert!(sh(&once_record(&b, "migrate")).status.success());
        assert_eq!(probe(&a), "once=done\n");
        assert_eq!(probe(&b), "once=done\n");
        let listed = std::fs::read_to_string(a.once_path("migrate")).unwrap();
        assert_eq!(listed, "A\nB\n");
        // A release that is a prefix of another is not confused with it.
        assert_eq!(probe(&ctx(dir.path(), "B.1")), "once=pending\n");
    }
}

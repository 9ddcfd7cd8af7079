//! The `sshd` kind: the OpenSSH server's settings, as one managed drop-in.
//!
//! ```yaml
//! - sshd:
//!     settings:
//!       Port: [22, 2222]            # several values: one `Port` line each
//!       PermitRootLogin: prohibit-password
//!       PasswordAuthentication: "no"
//!       MaxAuthTries: 3
//!       ClientAliveInterval: 5m
//!       AllowUsers: [deploy, ops]   # one line: `AllowUsers deploy ops`
//!     # path: /etc/ssh/sshd_config.d/50-keel.conf   (the default)
//! ```
//!
//! Keys are `sshd_config` keywords, matched case-insensitively against a
//! table of the keywords of OpenSSH 9.x ([`KEYWORDS`]); an unknown one is
//! refused at load time with a "did you mean". Values are checked where
//! their type is known (yes/no, enumerations, integers, ports, time values,
//! `MaxStartups`, log levels) and may never hold a newline. These checks run
//! while the YAML is deserialized, so the diagnostic points at the exact key
//! or value (a `check()` error could only point at `settings:`).
//!
//! The drop-in is `# managed by keel` followed by one `Keyword value` line
//! per setting, in the order written. Debian and Ubuntu read
//! `Include /etc/ssh/sshd_config.d/*.conf` at the *top* of `sshd_config`,
//! and sshd keeps the first value it reads, so the drop-in overrides the
//! main file. If no `Include` of `sshd_config` (before any `Match`) covers
//! the drop-in, `Include <path>` is added at the top of `sshd_config` (only
//! this file: dormant drop-ins next to it are not switched on), and the plan
//! says so.
//!
//! ## Fact
//! The probe prints `sshd=yes|no`, `dropin=absent|file|dir|link|other|unreadable`,
//! `main=file|absent`, `effective_status=N` and base64 sections: `[dropin]`
//! (the drop-in), `[main]` (`sshd_config`), `[sources]` (`grep -n` of the
//! lines of `sshd_config` and the drop-in directory's `*.conf` that set a
//! declared keyword) and `[effective]` (`sshd -T`: the effective
//! configuration, lowercase `keyword value` lines) or `[effective_error]`.
//! `sshd -T` needs `/run/sshd`; the probe never creates it, so when it is
//! missing (sshd stopped) the comparison falls back to the drop-in file.
//!
//! ## Diff
//! Each declared setting is compared with the *effective* value, normalized
//! as `sshd -T` prints it (`prohibit-password` is `without-password`, times
//! are seconds, `MaxStartups 10` is `10:30:10`...): the plan shows
//! `MaxAuthTries: 6 → 3`. Keywords that accumulate over files (`Port`,
//! `AllowUsers`, `AcceptEnv`...) converge when every declared value is in
//! effect; values set elsewhere are shown. A few keywords that sshd
//! rewrites beyond recognition (`ListenAddress`, `IPQoS`, algorithm lists
//! with `+`/`-`/`^`...) are compared with the drop-in file only.
//! When the drop-in already says the right thing but another file read
//! before it sets the keyword first (a `50-cloud-init.conf` sorts before
//! `50-keel.conf`), the plan shows an error naming that file and line, and
//! apply refuses rather than report a success sshd would not honour; before
//! the drop-in is written, the plan warns about it.
//!
//! ## Apply
//! The new drop-in is written to a temporary file next to it. The whole
//! configuration is then validated *before* anything is replaced: a copy of
//! `sshd_config` whose `Include` lines point at a temporary copy of the
//! drop-in directory (holding the other drop-ins and the new one) is checked
//! with `sshd -t -f`. Only then is the temporary file renamed over the
//! drop-in, so a configuration sshd rejects never replaces the working one,
//! even if keel dies half-way; apply fails with sshd's own message. sshd is
//! then reloaded (`systemctl reload ssh`, or `sshd`; a `SIGHUP` without
//! systemd): existing sessions stay open. sshd re-executes itself on a
//! reload and refuses connections for a moment, so the script waits for its
//! new pid file (written once it listens again) before it returns: the
//! fresh connection that confirms access must not race it. On Ubuntu's
//! socket-activated `ssh.socket`, a change of `Port` or `ListenAddress`
//! also regenerates and restarts the socket.
//!
//! A change can cut keel's own access, so the kind says so
//! (`can_cut_access`): apply runs it under commit-confirmed. It is not
//! notifiable: it reloads sshd itself.
//!
//! [`Sshd::desired_settings`] exposes the declared settings (keyword as
//! sshd names it, values) for lockout analysis.

use super::*;
use crate::shell::{self, Perms, Script, q};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Where the drop-in goes unless `path:` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/ssh/sshd_config.d/50-keel.conf";
/// The main configuration file.
pub const MAIN_CONFIG: &str = "/etc/ssh/sshd_config";
/// First line of the drop-in.
const HEADER: &str = "# managed by keel: changes made here by hand are overwritten";

mod config;
mod keywords;
mod plan;
mod scripts;
mod settings;
#[cfg(test)]
mod tests;

use config::*;
use keywords::*;
pub use keywords::{KEYWORDS, Keyword, keyword};
use scripts::*;
pub use settings::{Setting, Settings};

// ---------------------------------------------------------------------------
// The resource.

fn default_path() -> String {
    DEFAULT_PATH.to_string()
}

/// The managed sshd drop-in.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(schemars::JsonSchema)]
pub struct Sshd {
    /// `sshd_config` keywords and their values, in the order written.
    pub settings: Settings,
    /// The drop-in file.
    #[serde(default = "default_path")]
    pub path: String,
}

/// What is at the drop-in's path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DropIn {
    #[default]
    Absent,
    File(Vec<u8>),
    /// A regular file the probe could not read.
    Unreadable,
    Link(String),
    Dir,
    Other,
}

/// The effective configuration (`sshd -T`), or why it is not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effective {
    /// Lowercase keyword → values, one per printed line, in order.
    Config(BTreeMap<String, Vec<String>>),
    Unavailable(String),
}

impl Default for Effective {
    fn default() -> Self {
        Effective::Unavailable("not probed".into())
    }
}

/// A line of `sshd_config` or of a drop-in that sets a declared keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub file: String,
    pub line: usize,
    /// Lowercase keyword as written.
    pub keyword: String,
    /// The rest of the line.
    pub value: String,
}

/// The live state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshdFact {
    /// An `sshd` binary exists.
    pub sshd: bool,
    /// `sshd_config`, when it exists.
    pub main: Option<String>,
    pub dropin: DropIn,
    pub effective: Effective,
    pub sources: Vec<Source>,
}

/// The `Include` of `sshd_config` that reads the drop-in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IncludeAt {
    line: usize,
    pattern: String,
}

/// Whether the shell should add `Include <path>` to `sshd_config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddInclude {
    No,
    Yes,
    /// Not known at plan time (sshd not installed yet): decided on the host.
    Auto,
}

impl Sshd {
    /// The declared settings: the keyword as sshd names it (legacy aliases
    /// resolved, e.g. `ChallengeResponseAuthentication` is
    /// `KbdInteractiveAuthentication`) and its values (ports one by one,
    /// users one by one, `yes`/`no` lowercased), in the order written.
    pub fn desired_settings(&self) -> Vec<(String, Vec<String>)> {
        self.settings
            .0
            .iter()
            .map(|s| (s.keyword.canonical().to_string(), s.values.clone()))
            .collect()
    }

    /// The drop-in's content.
    pub fn content(&self) -> String {
        let mut s = format!("{HEADER}\n");
        for setting in &self.settings.0 {
            setting.lines(&mut s);
        }
        s
    }

    fn dir(&self) -> String {
        parent_dir(&self.path).unwrap_or_else(|| "/".into())
    }

    fn base(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// Every keyword that sets the same option as `kw` (aliases included).
    fn names_of(kw: &Keyword) -> Vec<String> {
        KEYWORDS
            .iter()
            .filter(|k| k.canonical() == kw.canonical())
            .map(|k| k.name.to_ascii_lowercase())
            .collect()
    }
}

/// Characters allowed in the drop-in's path (they are used in `sed`
/// expressions and `Include` lines).
fn path_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '@' | '+' | '-')
}

impl Kind for Sshd {
    const KIND: &'static str = "sshd";
    type Fact = SshdFact;

    fn name(&self) -> String {
        self.path.clone()
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        if let Some(e) = check_abs_path("path", &self.path) {
            errs.push(e);
        } else if let Some(c) = self.path.chars().find(|c| !path_char_ok(*c)) {
            errs.push(
                Invalid::field(
                    "path",
                    format!("`{}` contains {c:?}", self.path.escape_debug()),
                )
                .help("use letters, digits and `._-+@/` in the drop-in's path"),
            );
        } else if self.path.ends_with('/') || self.base().is_empty() {
            errs.push(Invalid::field(
                "path",
                format!("`{}` names a directory, not a file", self.path),
            ));
        } else if self.path == MAIN_CONFIG || self.dir() == "/etc/ssh" {
            errs.push(
                Invalid::field(
                    "path",
                    format!("`{}` is not a drop-in directory's file", self.path),
                )
                .help(format!(
                    "keel manages a drop-in next to the main file, e.g. `{DEFAULT_PATH}`"
                )),
            );
        }
        if self.settings.0.is_empty() {
            errs.push(
                Invalid::field("settings", "no settings are given")
                    .help("declare at least one sshd_config keyword, e.g. `MaxAuthTries: 3`"),
            );
        }
        errs
    }

    fn links(&self) -> Links {
        Links {
            provides: vec![Ref::Path(self.path.clone())],
            // After the firewall: a new SSH port is allowed before sshd moves.
            needs: vec![
                Ref::Package("openssh-server".into()),
                Ref::Path(self.dir()),
                Ref::Service("firewall".into()),
            ],
        }
    }

    /// The drop-in, the main file (its `Include` line) and the server: a
    /// bad setting can shut keel out, so apply runs it under commit-confirmed.
    fn touches(&self) -> Touches {
        Touches::default()
            .write(&self.path, Written::Whole(self.content()))
            .path(MAIN_CONFIG)
            .service("ssh")
    }

    fn probe(&self) -> String {
        let mut names: Vec<String> = Vec::new();
        for s in &self.settings.0 {
            for n in Self::names_of(s.keyword) {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        let mut s = lookup();
        s.push_str(
            &Script::new(include_str!("probe.sh"))
                .set("keel_p", &self.path)
                .set("keel_d", self.dir())
                .set("keel_main", MAIN_CONFIG)
                .set(
                    "keel_re",
                    format!("^[[:space:]]*({})([[:space:]]|=)", names.join("|")),
                )
                .render(),
        );
        s
    }

    fn parse(&self, out: &ProbeOutput) -> Result<SshdFact, FactError> {
        let (header, secs) = sections(&out.stdout);
        let dropin_kind = kv(&header, "dropin").ok_or("the probe printed no `dropin=` line")?;
        let text = |name: &str| -> Result<Option<String>, FactError> {
            Ok(decode(&secs, name)?.map(|d| String::from_utf8_lossy(&d).into_owned()))
        };
        let dropin = match dropin_kind.trim() {
            "absent" => DropIn::Absent,
            "file" => DropIn::File(decode(&secs, "dropin")?.unwrap_or_default()),
            "unreadable" => DropIn::Unreadable,
            "link" => DropIn::Link(kv(&header, "target").unwrap_or_default().to_string()),
            "dir" => DropIn::Dir,
            "other" => DropIn::Other,
            other => {
                return Err(FactError::Unexpected(format!(
                    "unexpected `dropin={other}`"
                )));
            }
        };
        let main = if kv(&header, "main") == Some("file") {
            Some(text("main")?.unwrap_or_default())
        } else {
            None
        };
        let effective = match kv(&header, "effective_status").map(str::trim) {
            Some("0") => {
                Effective::Config(parse_effective(&text("effective")?.unwrap_or_default()))
            }
            Some("noprivsep") => Effective::Unavailable(
                "/run/sshd is missing (sshd is not running), and the probe does not create it"
                    .into(),
            ),
            Some(_) => {
                let err = text("effective_error")?.unwrap_or_default();
                let err = err.lines().map(str::trim).filter(|l| !l.is_empty());
                let err = err.collect::<Vec<_>>().join(" / ");
                Effective::Unavailable(if err.is_empty() {
                    "it failed".into()
                } else {
                    err
                })
            }
            None => Effective::Unavailable("sshd is not installed".into()),
        };
        Ok(SshdFact {
            sshd: kv(&header, "sshd") == Some("yes"),
            main,
            dropin,
            effective,
            sources: parse_sources(&text("sources")?.unwrap_or_default()),
        })
    }

    fn plan(&self, fact: &SshdFact) -> Planned {
        self.plan_dropin(fact)
    }
}

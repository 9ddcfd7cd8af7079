//! The `command` kind: an arbitrary shell command, made idempotent by a
//! guard.
//!
//! ```yaml
//! - command:
//!     name: install app
//!     run: ./install.sh --prefix /opt/app && touch /opt/app/.installed
//!     cwd: /srv/app
//!     creates: /opt/app/.installed
//!     env: { APP_TOKEN: "{{ secrets.token }}" }
//! - command: { run: systemctl daemon-reload, notified_only: true }
//! - command: { name: migrate, run: ./migrate.sh, cwd: /srv/app, once: release }
//! ```
//!
//! `timeout: SECS` bounds `run`: past it, coreutils `timeout` stops it
//! (TERM, then KILL 10 s later) with its whole process tree, and the
//! command fails saying so. It bounds each of the `unless` and `onlyif`
//! guards too (each gets the whole time): a guard cut short is an error of
//! the resource (plan and apply fail for it, saying so), never a decision
//! to run or to skip.
//!
//! `once: release` makes a run-once step (a migration, a seeding): it runs
//! once per release of the stack on a host, and its success is recorded
//! there (see [`crate::release`]); a failure leaves it pending for the next
//! run. It is a guard of its own, and combines with the others.
//!
//! The command runs when every declared guard says so: `creates` does not
//! exist, `unless` exits non-zero, `onlyif` exits 0. A command without any
//! guard would run on every apply, so it is rejected unless it is
//! `notified_only` (it then runs only when another resource notifies it).
//!
//! The probe *runs* the `unless` and `onlyif` commands: they are assumed to
//! be read-only checks (`test`, `grep -q`, `dpkg -s`...), like a fact. They
//! run exactly like `run`: in `cwd`, with `env`, as `user`, under `set -e`,
//! with stdin from `/dev/null` (so a command reading stdin cannot swallow
//! the rest of the script it is part of) and their output discarded. The
//! apply script checks the guards again right before running, so a stale
//! plan or a second trigger (a notification after the command already ran)
//! does not run it twice; and since they read state that earlier resources
//! may change, `reads_other_state()` makes apply re-probe them.
//!
//! Nothing of `run`, `env`, `unless` or `onlyif` is ever on a command line:
//! the text is a quoted argument of the shell builtin `eval`, variables are
//! `export`ed inside the script, and with `user` the whole thing is piped
//! to `runuser -u USER -- sh -s` in a quoted here-document.

use super::common::accounts::valid_name;
use super::*;
use crate::resources::common::script::heredoc_delim;
use crate::resources::common::script::valid_env_name;
use crate::shell::q;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A guarded shell command.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// The shell command text (POSIX `sh`).
    pub run: String,
    /// A label for the address `command[name]` (default: `run`).
    pub name: Option<String>,
    /// Skip when this path exists.
    pub creates: Option<String>,
    /// Skip when this command exits 0.
    pub unless: Option<String>,
    /// Run only when this command exits 0.
    pub onlyif: Option<String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// Environment variables, exported inside the script.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Run as this user (`runuser`).
    pub user: Option<String>,
    /// Run only when notified by another resource.
    #[serde(default)]
    pub notified_only: bool,
    /// Run once per release (`once: release`).
    pub once: Option<Once>,
    /// Stop `run` after this many seconds (1 to 604800): the command
    /// fails and its whole process tree is killed (coreutils `timeout`:
    /// TERM, then KILL 10 s later). Each `unless`/`onlyif` guard gets the
    /// same bound; a guard that does not finish in it is an error.
    pub timeout: Option<u64>,
    /// The release the host is resolved for (set at prepare time).
    #[serde(skip)]
    release: Option<crate::release::Context>,
}

/// How often a run-once command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Once {
    /// Once per release of the stack, on each host.
    Release,
}

/// What the guards said. `None` means "not evaluated" (an earlier guard
/// already decided, or something needed to evaluate it is missing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandFact {
    /// The `cwd` does not exist (yet): the guards could not be evaluated.
    pub cwd_missing: bool,
    /// The `user` does not exist (yet): the guards could not be evaluated.
    pub user_missing: bool,
    pub creates_exists: Option<bool>,
    pub unless_status: Option<i32>,
    pub onlyif_status: Option<i32>,
    /// `once: release`: whether it already succeeded for this release.
    pub once_done: Option<bool>,
}

/// What a guard cut short by `timeout:` says.
fn guard_unfinished(field: &str, secs: u64) -> String {
    format!(
        "the `{field}` command did not finish within {secs} s (`timeout: {secs}`), so keel cannot tell whether to run: make the check faster or raise `timeout:`"
    )
}

/// What a host without coreutils `timeout` says.
const NO_TIMEOUT: &str = "`timeout:` needs the timeout command (coreutils) on the host";

const GUARD_HELP: &str = "a command without a guard would run on every apply, so a second run would not be a no-op: add `creates:`, `unless:` or `onlyif:`, or `notified_only: true`";

/// Whether the script generator is producing the probe (prints what the
/// guards say) or the apply script (silent, then runs).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Probe,
    Apply,
}

impl Command {
    fn has_guard(&self) -> bool {
        self.creates.is_some() || self.unless.is_some() || self.onlyif.is_some()
    }

    /// Guarded by anything: a guard or `once`.
    fn guarded(&self) -> bool {
        self.has_guard() || self.once.is_some()
    }

    /// A subshell that runs `text` in the command's context:
    /// `( set -e; cd CWD; export K=V; eval 'TEXT' ) </dev/null`.
    fn in_context(&self, text: &str) -> String {
        let mut s = String::from("( set -e");
        if let Some(cwd) = &self.cwd {
            let _ = write!(s, "; cd {}", q(cwd));
        }
        for (k, v) in &self.env {
            let _ = write!(s, "; export {k}={}", q(v));
        }
        let _ = write!(s, "\neval {}\n) </dev/null", q(text));
        s
    }

    /// A shell function `name` that runs `sh -s` (its script on stdin)
    /// behind `prefix` (`timeout -k 10 5`, or nothing), as `user` when set.
    fn sh_function(&self, name: &str, prefix: &str) -> String {
        let p = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix} ")
        };
        match &self.user {
            None => format!("{name}() {{ {p}sh -s; }}\n"),
            Some(u) => {
                let u = q(u);
                format!(
                    "{name}() {{ if [ \"$(id -un)\" = {u} ]; then {p}sh -s; else {p}runuser -u {u} -- sh -s; fi; }}\n"
                )
            }
        }
    }

    /// Shell lines that run `text` in context (as `user` if set), with
    /// `redirect` applied to its output, leaving its status in `$keel_rc`
    /// when `capture` (errexit is suspended around it).
    fn exec(&self, text: &str, redirect: &str, capture: bool) -> String {
        let body = self.in_context(text);
        let mut s = String::new();
        if capture {
            s.push_str("set +e\n");
        }
        match &self.user {
            None => {
                let _ = writeln!(s, "{}", format!("{body} {redirect}").trim_end());
            }
            Some(_) => {
                let end = heredoc_delim("KEEL_CMD_END", &body);
                s.push_str(&self.sh_function("keel_as_user", ""));
                let redirect = if redirect.is_empty() {
                    String::new()
                } else {
                    format!(" {redirect}")
                };
                let _ = writeln!(s, "keel_as_user{redirect} <<'{end}'\n{body}\n{end}");
            }
        }
        if capture {
            s.push_str("keel_rc=$?\n");
        }
        s
    }

    /// The guard evaluation shared by the probe and the apply script; leaves
    /// `keel_go=1` when the command should run.
    fn guards(&self, mode: Mode) -> String {
        let probe = mode == Mode::Probe;
        let say = |s: &mut String, line: &str| {
            if probe {
                let _ = writeln!(s, "{line}");
            }
        };
        let mut s = String::from("keel_go=1\n");
        if let Some(r) = &self.release {
            let step = Kind::name(self);
            let _ = writeln!(
                s,
                "if {}; then keel_go=0",
                crate::release::once_done_test(r, &step)
            );
            say(&mut s, "echo once=done");
            if probe {
                let _ = writeln!(s, "else echo once=pending");
            }
            let _ = writeln!(s, "fi");
        }
        if probe {
            if let Some(cwd) = &self.cwd {
                let _ = writeln!(
                    s,
                    "if [ ! -d {} ]; then echo cwd=missing; keel_go=0; fi",
                    q(cwd)
                );
            }
            if let Some(u) = &self.user {
                let _ = writeln!(
                    s,
                    "if [ $keel_go = 1 ] && ! id -u {} >/dev/null 2>&1; then echo user=missing; keel_go=0; fi",
                    q(u)
                );
            }
        }
        if let Some(c) = &self.creates {
            let c = q(c);
            let _ = writeln!(s, "if [ $keel_go = 1 ]; then");
            let _ = writeln!(s, "if [ -e {c} ] || [ -L {c} ]; then keel_go=0");
            say(&mut s, "echo creates=exists");
            if probe {
                let _ = writeln!(s, "else echo creates=missing");
            }
            let _ = writeln!(s, "fi\nfi");
        }
        let restore = if probe { "" } else { "set -e\n" };
        let guards = [("unless", &self.unless, "!="), ("onlyif", &self.onlyif, "=")];
        for (field, text, runs_when) in guards {
            let Some(text) = text else { continue };
            let _ = writeln!(s, "if [ $keel_go = 1 ]; then");
            s.push_str(&self.exec_guard(text));
            s.push_str(restore);
            say(&mut s, &format!("echo \"{field}=$keel_rc\""));
            if let Some(secs) = self.timeout {
                // Cut short: no decision. The probe reports it (and looks no
                // further); the apply script fails saying so.
                let stop = if probe {
                    "keel_go=0".to_string()
                } else {
                    format!(
                        "echo {} >&2; exit 124",
                        q(&format!("keel: {}", guard_unfinished(field, secs)))
                    )
                };
                let _ = writeln!(s, "case $keel_rc in timeout|no-timeout) {stop} ;; esac");
            }
            let _ = writeln!(s, "[ \"$keel_rc\" {runs_when} 0 ] || keel_go=0\nfi");
        }
        s
    }

    /// Shell lines that run guard `text` like `run` (bounded by `timeout`
    /// when it is set), output discarded, leaving its exit status in
    /// `$keel_rc` — or `timeout` when a bounded guard did not finish, or
    /// `no-timeout` when the host has no `timeout` command.
    fn exec_guard(&self, text: &str) -> String {
        let Some(secs) = self.timeout else {
            return self.exec(text, ">/dev/null 2>&1", true);
        };
        // The status travels on the inner shell's stdout: nothing printed
        // means it was stopped (a guard's own status can be 124 too).
        let body = format!("{} >/dev/null 2>&1\necho $?", self.in_context(text));
        let end = heredoc_delim("KEEL_CMD_END", &body);
        let t = format!("timeout -k 5 {secs}");
        let mut s = String::from("set +e\n");
        s.push_str(&self.sh_function("keel_guard", &t));
        let _ = writeln!(
            s,
            "if command -v timeout >/dev/null 2>&1; then\nkeel_rc=$(keel_guard 2>/dev/null <<'{end}'\n{body}\n{end}\n)\n[ -n \"$keel_rc\" ] || keel_rc=timeout\nelse keel_rc=no-timeout; fi"
        );
        s
    }

    /// The one-line description of what runs.
    fn summary(&self) -> String {
        let mut lines = self.run.trim().lines();
        let first = lines.next().unwrap_or_default().trim();
        let more = lines.filter(|l| !l.trim().is_empty()).count();
        let mut s = format!("run `{first}`");
        if more > 0 {
            let _ = write!(
                s,
                " (+{more} more line{})",
                if more == 1 { "" } else { "s" }
            );
        }
        if let Some(u) = &self.user {
            let _ = write!(s, " as {u}");
        }
        if let Some(c) = &self.cwd {
            let _ = write!(s, " in {c}");
        }
        if let Some(t) = self.timeout {
            let _ = write!(s, " (timeout {t} s)");
        }
        s
    }

    /// Shell lines that run `run` in context (as `user` if set), killed
    /// with its process tree after `secs` seconds. The text travels on
    /// the standard input of `sh -s` in a quoted here-document, never on
    /// a command line; a failure exits the script with its status.
    fn exec_bounded(&self, secs: u64) -> String {
        let body = self.in_context(&self.run);
        let end = heredoc_delim("KEEL_CMD_END", &body);
        let t = format!("timeout -k 10 {secs}");
        let mut s = String::from(
            "command -v timeout >/dev/null 2>&1 || { echo ",
        );
        let _ = writeln!(s, "{} >&2; exit 127; }}", q(&format!("keel: {NO_TIMEOUT}")));
        s.push_str(&self.sh_function("keel_bounded", &t));
        let _ = writeln!(
            s,
            "keel_bounded <<'{end}' || {{ keel_rc=$?; case $keel_rc in 124|137) echo 'keel: stopped after {secs} s (its timeout)' >&2 ;; esac; exit $keel_rc; }}\n{body}\n{end}"
        );
        s
    }

    /// `run`, bounded by `timeout` when it is set.
    fn exec_run(&self) -> String {
        match self.timeout {
            Some(secs) => self.exec_bounded(secs),
            None => self.exec(&self.run, "", false),
        }
    }

    /// The apply script: the guards again, then `run`.
    fn run_cmd(&self) -> Cmd {
        let mut s = String::new();
        if self.guarded() {
            s.push_str(&self.guards(Mode::Apply));
            let _ = writeln!(s, "if [ $keel_go = 1 ]; then");
            s.push_str(&self.exec_run());
            // Recorded only after a success (errexit stops a failure here).
            if let Some(r) = &self.release {
                s.push_str(&crate::release::once_record(r, &Kind::name(self)));
            }
            let _ = writeln!(
                s,
                "else echo 'keel: the guard holds already; not running' >&2\nfi"
            );
        } else {
            s.push_str(&self.exec_run());
        }
        Cmd::new(self.summary(), s)
    }
}

impl Kind for Command {
    const KIND: &'static str = "command";
    type Fact = CommandFact;

    fn name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.run.trim().to_string())
    }

    fn prepare(&mut self, cx: &mut dyn PrepareCx) -> Result<(), Vec<Invalid>> {
        if self.once.is_some() {
            match cx.release() {
                Some(r) => self.release = Some(r),
                None => {
                    return Err(vec![
                        Invalid::field("once", "`once: release` needs a release, and the stack declares none")
                            .help("declare the release in the stack, e.g. `release: \"{{vars.release}}\"`, and give it with `--set release=v1.0.0`"),
                    ]);
                }
            }
        }
        Ok(())
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        if self.run.trim().is_empty() {
            errs.push(Invalid::field("run", "`run` is empty"));
        } else if !self.guarded() && !self.notified_only {
            errs.push(Invalid::field("run", "this command has no guard").help(GUARD_HELP));
        }
        if let Some(n) = &self.name
            && n.trim().is_empty()
        {
            errs.push(Invalid::field("name", "`name` is empty"));
        }
        if let Some(t) = self.timeout
            && !(1..=604_800).contains(&t)
        {
            errs.push(Invalid::field(
                "timeout",
                format!("`timeout: {t}` is out of range: seconds from 1 to 604800 (a week)"),
            ));
        }
        if let Some(c) = &self.creates {
            errs.extend(check_abs_path("creates", c));
        }
        if let Some(c) = &self.cwd {
            errs.extend(check_abs_path("cwd", c));
        }
        for (field, v) in [("unless", &self.unless), ("onlyif", &self.onlyif)] {
            if let Some(v) = v
                && v.trim().is_empty()
            {
                errs.push(Invalid::field(field, format!("`{field}` is empty")));
            }
        }
        for k in self.env.keys() {
            if !valid_env_name(k) {
                errs.push(
                    Invalid::field(
                        "env",
                        format!(
                            "`{}` is not a valid environment variable name",
                            k.escape_debug()
                        ),
                    )
                    .help("names match `[A-Za-z_][A-Za-z0-9_]*`"),
                );
            }
        }
        if let Some(u) = &self.user
            && !valid_name(u, true)
        {
            errs.push(
                Invalid::field(
                    "user",
                    format!("`{}` is not a valid user name", u.escape_debug()),
                )
                .help("a user name matches `[a-z_][a-z0-9_-]*[$]?`"),
            );
        }
        errs
    }

    /// Only `run` changes anything (the guards are read-only checks).
    fn touches(&self) -> Touches {
        Touches::default().command(&self.run)
    }

    fn links(&self) -> Links {
        let mut l = Links::default();
        if let Some(c) = &self.creates {
            l.provides.push(Ref::Path(c.clone()));
        }
        if let Some(c) = &self.cwd {
            l.needs.push(Ref::Path(c.clone()));
        }
        if let Some(u) = &self.user {
            l.needs.push(Ref::User(u.clone()));
        }
        l
    }

    fn probe(&self) -> String {
        if !self.guarded() {
            return "echo notified_only=1\n".into();
        }
        format!("set +e\n{}", self.guards(Mode::Probe))
    }

    fn parse(&self, out: &ProbeOutput) -> Result<CommandFact, FactError> {
        let text = &out.stdout;
        let status = |key: &str| -> Result<Option<i32>, FactError> {
            kv(text, key)
                .map(|v| match (v.trim(), self.timeout) {
                    ("timeout", Some(secs)) => Err(FactError::ProbeFailed {
                        status: 124,
                        message: guard_unfinished(key, secs),
                    }),
                    ("no-timeout", Some(_)) => Err(FactError::ProbeFailed {
                        status: 127,
                        message: NO_TIMEOUT.into(),
                    }),
                    (v, _) => v.parse::<i32>().map_err(|_| {
                        FactError::Unexpected(format!(
                            "unexpected `{key}={v}` in the command probe"
                        ))
                    }),
                })
                .transpose()
        };
        let fact = CommandFact {
            cwd_missing: kv(text, "cwd") == Some("missing"),
            user_missing: kv(text, "user") == Some("missing"),
            creates_exists: match kv(text, "creates") {
                None => None,
                Some("exists") => Some(true),
                Some("missing") => Some(false),
                Some(v) => {
                    return Err(FactError::Unexpected(format!(
                        "unexpected `creates={v}` in the command probe"
                    )));
                }
            },
            unless_status: status("unless")?,
            onlyif_status: status("onlyif")?,
            once_done: match kv(text, "once") {
                None => None,
                Some("done") => Some(true),
                Some("pending") => Some(false),
                Some(v) => {
                    return Err(FactError::Unexpected(format!(
                        "unexpected `once={v}` in the command probe"
                    )));
                }
            },
        };
        if self.guarded() && fact == CommandFact::default() {
            let err = out.stderr.trim();
            return Err(FactError::Unexpected(format!(
                "the command probe printed no guard result (exit status {}){}{err}",
                out.status,
                if err.is_empty() { "" } else { ": " }
            )));
        }
        Ok(fact)
    }

    fn plan(&self, fact: &CommandFact) -> Planned {
        match self.verdict(fact) {
            Verdict::Skip(why) => Planned::only(Diff::noop().reason(why)),
            Verdict::Run { reason, unknown } => {
                let mut diff = Diff::with_action(Action::Run).reason(reason);
                diff.unknown = unknown;
                Planned::new(diff, vec![self.run_cmd()])
            }
        }
    }

    fn notified(&self, _fact: &CommandFact, _diff: &Diff) -> Option<Vec<Cmd>> {
        Some(vec![self.run_cmd()])
    }

    fn notifiable(&self) -> bool {
        true
    }

    fn reads_other_state(&self) -> bool {
        self.has_guard()
    }
}

/// What the guards decide.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// Nothing to run, and why.
    Skip(String),
    /// The command runs: why, and what cannot be known before apply.
    Run {
        reason: String,
        unknown: Option<String>,
    },
}

impl Verdict {
    fn run(reason: impl Into<String>) -> Self {
        Verdict::Run {
            reason: reason.into(),
            unknown: None,
        }
    }
}

impl Command {
    /// Read the guards' results (and the release record) into a verdict.
    fn verdict(&self, fact: &CommandFact) -> Verdict {
        if self.notified_only {
            return Verdict::Skip("runs only when notified".into());
        }
        let release = self.release.as_ref().map_or("", |r| r.version.as_str());
        if fact.once_done == Some(true) {
            return Verdict::Skip(format!("already ran for release {release}"));
        }
        let first =
            (fact.once_done == Some(false)).then(|| format!("first run for release {release}"));
        // Only `once`: its record decides, wherever the command runs.
        if let (Some(first), false) = (&first, self.has_guard()) {
            return Verdict::run(first.clone());
        }
        let unknown = if fact.cwd_missing {
            Some(format!(
                "the guards run in `{}`, which does not exist yet",
                self.cwd.as_deref().unwrap_or_default()
            ))
        } else if fact.user_missing {
            Some(format!(
                "the guards run as user `{}`, who does not exist yet",
                self.user.as_deref().unwrap_or_default()
            ))
        } else {
            None
        };
        if let Some(u) = unknown {
            return Verdict::Run {
                reason: "the guards cannot be evaluated yet".into(),
                unknown: Some(u),
            };
        }
        let creates = self.creates.as_deref().unwrap_or_default();
        let mut why: Vec<String> = first.into_iter().collect();
        match fact.creates_exists {
            Some(true) => return Verdict::Skip(format!("`{creates}` exists")),
            Some(false) => why.push(format!("`{creates}` does not exist")),
            None => {}
        }
        match fact.unless_status {
            Some(0) => return Verdict::Skip("`unless` command exited 0".into()),
            Some(n) => why.push(format!("`unless` command exited {n}")),
            None => {}
        }
        match fact.onlyif_status {
            Some(0) => why.push("`onlyif` command exited 0".into()),
            Some(n) => return Verdict::Skip(format!("`onlyif` command exited {n}")),
            None => {}
        }
        Verdict::run(why.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::assert_sh_syntax as assert_parses;
    use crate::resources::testing::{converge_locally, eval, load, run_local, try_load};
    use std::path::Path;

    const HOSTILE: &str = "it's $(touch /tmp/keel-pwned) ; \"x\" `id` \\ $HOME\nnew line";

    /// A YAML double-quoted scalar (JSON strings are YAML).
    fn yq(s: &str) -> String {
        serde_json::to_string(s).unwrap()
    }

    /// A temp dir whose name needs quoting.
    fn hostile_dir() -> (tempfile::TempDir, String) {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("dir with 'quotes' $(touch pwned); \"x\"");
        std::fs::create_dir(&d).unwrap();
        let s = d.to_str().unwrap().to_string();
        (t, s)
    }

    fn assert_inert(t: &tempfile::TempDir) {
        assert!(!Path::new("/tmp/keel-pwned").exists());
        assert!(!t.path().join("pwned").exists());
    }

    fn release_cx(dir: &Path) -> crate::release::Context {
        crate::release::Context {
            stack: "web".into(),
            version: "v2".into(),
            state_dir: dir.display().to_string(),
        }
    }

    /// A `once: release` command prepared for release v2 under `dir`.
    fn once_cmd(dir: &Path, yaml: &str) -> Command {
        let mut c: Command = crate::node::Node::parse(yaml)
            .unwrap()
            .deserialize()
            .unwrap();
        c.release = Some(release_cx(dir));
        c
    }

    #[test]
    fn once_fixtures() {
        let dir = tempfile::tempdir().unwrap();
        let c = once_cmd(
            dir.path(),
            "run: ./migrate\nname: migrate\nonce: release\ncwd: /srv/app\n",
        );
        assert!(Kind::check(&c).is_empty(), "once is a guard");
        let d = Kind::plan(
            &c,
            &Kind::parse(&c, &ProbeOutput::ok("once=pending\ncwd=missing\n")).unwrap(),
        )
        .diff;
        assert_eq!(
            d,
            Diff::with_action(Action::Run).reason("first run for release v2")
        );
        let d = Kind::plan(
            &c,
            &Kind::parse(&c, &ProbeOutput::ok("once=done\n")).unwrap(),
        )
        .diff;
        assert_eq!(d, Diff::noop().reason("already ran for release v2"));
        assert!(Kind::parse(&c, &ProbeOutput::ok("once=maybe\n")).is_err());
        assert!(Kind::parse(&c, &ProbeOutput::ok("")).is_err());
        // With another guard, both must say run.
        let c = once_cmd(dir.path(), "run: x\nonce: release\ncreates: /y\n");
        let d = Kind::plan(
            &c,
            &Kind::parse(&c, &ProbeOutput::ok("once=pending\ncreates=exists\n")).unwrap(),
        )
        .diff;
        assert_eq!(d.action(), Action::NoOp);
        let d = Kind::plan(
            &c,
            &Kind::parse(&c, &ProbeOutput::ok("once=pending\ncreates=missing\n")).unwrap(),
        )
        .diff;
        assert_eq!(
            d.reason.as_deref(),
            Some("first run for release v2, `/y` does not exist")
        );
    }

    #[test]
    fn once_runs_once_per_release_and_a_failure_stays_pending() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let fail = dir.path().join("fail");
        let yaml = format!(
            "run: echo ran >> {}; test ! -e {}\nname: migrate\nonce: release\n",
            yq(log.to_str().unwrap()),
            yq(fail.to_str().unwrap())
        );
        let c = once_cmd(dir.path(), &yaml);
        let probe = || {
            let out = run_local(&Kind::probe(&c));
            Kind::plan(&c, &Kind::parse(&c, &out).unwrap())
                .diff
                .action()
        };
        let apply = || {
            let out = run_local(&crate::apply::script_of(&[c.run_cmd()]));
            out.status == 0
        };
        assert_eq!(probe(), Action::Run);
        std::fs::write(&fail, "").unwrap();
        assert!(!apply(), "the command failed");
        assert_eq!(probe(), Action::Run, "a failure stays pending");
        std::fs::remove_file(&fail).unwrap();
        assert!(apply());
        assert_eq!(probe(), Action::NoOp);
        // Applying again (a stale plan, a notification) does not run it.
        assert!(apply());
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "ran\nran\n");
    }

    #[test]
    fn creates_fixture() {
        let yaml = "run: make install\ncreates: /opt/app/.installed\n";
        let e = eval("command", yaml, "creates=missing\n");
        assert_eq!(e.diff.action(), Action::Run);
        assert_eq!(
            e.diff.reason.as_deref(),
            Some("`/opt/app/.installed` does not exist")
        );
        assert_eq!(e.commands.len(), 1);
        assert_eq!(e.commands[0].summary, "run `make install`");
        assert_parses(&e.commands[0].script);
        let e = eval("command", yaml, "creates=exists\n");
        assert_eq!(e.diff, Diff::noop().reason("`/opt/app/.installed` exists"));
        assert!(e.commands.is_empty());
        assert_eq!(load("command", yaml).name(), "make install");
    }

    #[test]
    fn unless_and_onlyif_fixtures() {
        let yaml = "run: x\nname: thing\nunless: a\nonlyif: b\n";
        let e = eval("command", yaml, "unless=1\nonlyif=0\n");
        assert_eq!(e.diff.action(), Action::Run);
        assert_eq!(
            e.diff.reason.as_deref(),
            Some("`unless` command exited 1, `onlyif` command exited 0")
        );
        let e = eval("command", yaml, "unless=0\n");
        assert_eq!(e.diff, Diff::noop().reason("`unless` command exited 0"));
        let e = eval("command", yaml, "unless=2\nonlyif=3\n");
        assert_eq!(e.diff, Diff::noop().reason("`onlyif` command exited 3"));
        assert_eq!(load("command", yaml).name(), "thing");
    }

    #[test]
    fn unknown_when_cwd_or_user_missing() {
        let e = eval(
            "command",
            "run: x\ncreates: /y\ncwd: /srv/app\n",
            "cwd=missing\n",
        );
        assert_eq!(e.diff.action(), Action::Run);
        assert!(e.diff.unknown.as_deref().unwrap().contains("/srv/app"));
        let e = eval(
            "command",
            "run: x\ncreates: /y\nuser: app\n",
            "user=missing\n",
        );
        assert!(e.diff.unknown.as_deref().unwrap().contains("`app`"));
    }

    #[test]
    fn odd_probe_outputs() {
        let r = load("command", "run: x\nunless: y\n");
        let err = r
            .evaluate(&ProbeOutput {
                stdout: String::new(),
                stderr: "Killed".into(),
                status: 137,
            })
            .unwrap_err();
        assert!(err.contains("Killed"), "{err}");
        assert!(r.evaluate(&ProbeOutput::ok("unless=abc\n")).is_err());
        assert!(r.evaluate(&ProbeOutput::ok("creates=maybe\n")).is_err());
        let e = r.evaluate(&ProbeOutput::ok("junk\nunless= 1 \n")).unwrap();
        assert_eq!(e.diff.action(), Action::Run);
    }

    #[test]
    fn notified_only() {
        let e = eval(
            "command",
            "run: systemctl daemon-reload\nnotified_only: true\n",
            "notified_only=1\n",
        );
        assert_eq!(e.diff, Diff::noop().reason("runs only when notified"));
        assert!(e.commands.is_empty());
        assert_eq!(e.on_notify.len(), 1);
        assert_eq!(e.on_notify[0].summary, "run `systemctl daemon-reload`");
        let r = load("command", "run: x\nnotified_only: true\n");
        assert!(r.notifiable());
        assert!(!r.reads_other_state());
        assert!(load("command", "run: x\ncreates: /x\n").reads_other_state());
    }

    #[test]
    fn validation_errors() {
        let e = try_load("command", "run: apt-get update\n").unwrap_err();
        assert!(e.contains("no guard"), "{e}");
        let r = super::super::kind("command").unwrap();
        let node = crate::node::Node::parse("run: apt-get update\n").unwrap();
        let res = (r.parse)(&node).unwrap();
        let errs = res.check();
        assert_eq!(errs[0].field, Some("run"));
        assert_eq!(errs[0].help.as_deref(), Some(GUARD_HELP));
        for (yaml, want) in [
            ("run: \"  \"\nnotified_only: true\n", "`run` is empty"),
            ("run: x\ncreates: relative/path\n", "not an absolute path"),
            ("run: x\ncreates: /a\ncwd: tmp\n", "not an absolute path"),
            (
                "run: x\ncreates: /a\nenv: {\"A-B\": 1}\n",
                "not a valid environment variable name",
            ),
            (
                "run: x\ncreates: /a\nenv: {\"1A\": 1}\n",
                "not a valid environment variable name",
            ),
            (
                "run: x\ncreates: /a\nuser: \"a b\"\n",
                "not a valid user name",
            ),
            ("run: x\nunless: \"\"\n", "`unless` is empty"),
            ("run: x\ncreates: /a\nnmae: y\n", "nmae"),
            ("creates: /a\n", "`run`"),
        ] {
            let e = try_load("command", yaml).unwrap_err();
            assert!(e.contains(want), "{yaml}: {e}");
        }
        // Scalars of any type are text.
        assert!(
            try_load(
                "command",
                "run: x\ncreates: /a\nenv: {PORT: 8080, DEBUG: true}\n"
            )
            .is_ok()
        );
    }

    #[test]
    fn links() {
        let r = load(
            "command",
            "run: x\ncreates: /opt/a/.done\ncwd: /srv/a\nuser: app\n",
        );
        assert_eq!(
            r.links(),
            Links {
                provides: vec![Ref::Path("/opt/a/.done".into())],
                needs: vec![Ref::Path("/srv/a".into()), Ref::User("app".into())],
            }
        );
    }

    #[test]
    fn converges_with_creates_env_and_cwd() {
        let (t, d) = hostile_dir();
        let creates = format!("{d}/out file");
        let yaml = format!(
            "run: printf '%s' \"$VAL\" > 'out file'; pwd > where\ncwd: {}\ncreates: {}\nenv: {{VAL: {}}}\n",
            yq(&d),
            yq(&creates),
            yq(HOSTILE)
        );
        let r = load("command", &yaml);
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(before.diff.action(), Action::Run);
        assert_eq!(
            before.diff.reason,
            Some(format!("`{creates}` does not exist"))
        );
        assert_eq!(std::fs::read_to_string(&creates).unwrap(), HOSTILE);
        assert_eq!(
            std::fs::read_to_string(format!("{d}/where"))
                .unwrap()
                .trim_end(),
            d
        );
        assert_eq!(
            after.diff,
            Diff::noop().reason(format!("`{creates}` exists"))
        );
        assert!(after.commands.is_empty());
        assert_inert(&t);
        // Nothing of the value is on a command line.
        assert!(!before.commands[0].script.contains("sh -c"));
    }

    #[test]
    fn converges_with_unless() {
        let (t, d) = hostile_dir();
        let f = format!("{d}/flag");
        let run = format!("printf '%s\\n' {} > \"$F\"", q(HOSTILE));
        let yaml = format!(
            "run: {}\nunless: grep -q touch \"$F\"\nenv: {{F: {}}}\n",
            yq(&run),
            yq(&f),
        );
        let r = load("command", &yaml);
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(
            before.diff.reason.as_deref(),
            Some("`unless` command exited 2")
        );
        assert_eq!(std::fs::read_to_string(&f).unwrap(), format!("{HOSTILE}\n"));
        assert_eq!(after.diff, Diff::noop().reason("`unless` command exited 0"));
        assert_inert(&t);
    }

    #[test]
    fn converges_with_onlyif() {
        let (t, d) = hostile_dir();
        let f = format!("{d}/it's here");
        std::fs::write(&f, "x").unwrap();
        let yaml = format!(
            "run: rm -f -- \"$F\"\nonlyif: test -e \"$F\"\nenv: {{F: {}}}\n",
            yq(&f)
        );
        let r = load("command", &yaml);
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(
            before.diff.reason.as_deref(),
            Some("`onlyif` command exited 0")
        );
        assert!(!Path::new(&f).exists());
        assert_eq!(after.diff, Diff::noop().reason("`onlyif` command exited 1"));
        assert_inert(&t);
    }

    #[test]
    fn a_failing_guard_that_never_holds_does_not_converge() {
        // The engine reports "did not converge": after running, the guard
        // still says run.
        let (_t, d) = hostile_dir();
        let yaml = format!("run: \"true\"\ncreates: {}\n", yq(&format!("{d}/never")));
        let (before, after) = converge_locally(load("command", &yaml).as_ref());
        assert_eq!(before.diff.action(), Action::Run);
        assert_eq!(after.diff.action(), Action::Run);
    }

    #[test]
    fn run_text_cannot_break_out_or_eat_the_script() {
        // Unbalanced parentheses, a line equal to the here-document
        // delimiter, and a command that reads stdin: the rest of the apply
        // script still runs, and stdin is empty.
        let (t, d) = hostile_dir();
        let me = run_local("id -un").stdout.trim().to_string();
        for user in [None, Some(me.as_str())] {
            let done = format!("{d}/done-{}", user.is_some());
            let run = format!(
                "cat > \"$D/stdin\"\necho ')' >> \"$D/stdin\"\nKEEL_CMD_END\ntouch {}",
                q(&done)
            );
            let mut yaml = format!(
                "run: {}\ncreates: {}\nenv: {{D: {}}}\n",
                yq(&run),
                yq(&done),
                yq(&d)
            );
            if let Some(u) = user {
                yaml.push_str(&format!("user: {u}\n"));
            }
            let r = load("command", &yaml);
            let e = r.evaluate(&run_local(&r.probe())).unwrap();
            assert_eq!(e.diff.action(), Action::Run);
            let script = format!(
                "set -e\n{}\necho after > {}\n",
                e.commands[0].script,
                q(&format!("{d}/marker"))
            );
            assert_parses(&script);
            let out = run_local(&script);
            // `KEEL_CMD_END` as a command fails under set -e: the text ran,
            // as a unit, and stopped there.
            assert_ne!(out.status, 0, "{}", out.stderr);
            assert!(out.stderr.contains("KEEL_CMD_END"), "{}", out.stderr);
            assert_eq!(
                std::fs::read_to_string(format!("{d}/stdin")).unwrap(),
                ")\n"
            );
            assert!(!Path::new(&done).exists(), "set -e stopped the run text");
            // Without the failing line: runs through, and the script goes on.
            let r = load("command", &yaml.replace("KEEL_CMD_END\\n", ""));
            let e = r.evaluate(&run_local(&r.probe())).unwrap();
            let script = format!(
                "set -e\n{}\necho after > {}\n",
                e.commands[0].script,
                q(&format!("{d}/marker"))
            );
            let out = run_local(&script);
            assert_eq!(out.status, 0, "{}", out.stderr);
            assert!(Path::new(&done).exists());
            assert_eq!(
                std::fs::read_to_string(format!("{d}/marker")).unwrap(),
                "after\n"
            );
            let e = r.evaluate(&run_local(&r.probe())).unwrap();
            assert_eq!(e.diff.action(), Action::NoOp);
            std::fs::remove_file(format!("{d}/marker")).unwrap();
        }
        assert_inert(&t);
    }

    #[test]
    fn guards_run_under_set_e_with_stdin_closed() {
        let (_t, d) = hostile_dir();
        // `false; true` fails under set -e: the unless guard does not hold.
        let yaml = format!(
            "run: touch ok\ncwd: {}\nunless: |\n  false\n  true\n",
            yq(&d)
        );
        let r = load("command", &yaml);
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert_eq!(e.diff.reason.as_deref(), Some("`unless` command exited 1"));
        // A guard that reads stdin sees nothing (and does not hang).
        let yaml = format!(
            "run: \"true\"\nonlyif: test -z \"$(cat)\"\ncwd: {}\n",
            yq(&d)
        );
        let r = load("command", &yaml);
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert_eq!(e.diff.reason.as_deref(), Some("`onlyif` command exited 0"));
        // Guard output does not pollute the probe.
        let r = load(
            "command",
            "run: \"true\"\nonlyif: echo creates=exists; echo unless=0\n",
        );
        let out = run_local(&r.probe());
        assert_eq!(out.stdout, "onlyif=0\n");
    }

    #[test]
    fn apply_rechecks_the_guard() {
        // Planned to run, but the path appeared since: the script skips.
        let (_t, d) = hostile_dir();
        let f = format!("{d}/made");
        let yaml = format!(
            "run: echo ran >> \"$F\"\ncreates: {}\nenv: {{F: {}}}\n",
            yq(&f),
            yq(&f)
        );
        let e = eval("command", &yaml, "creates=missing\n");
        std::fs::write(&f, "before\n").unwrap();
        let out = run_local(&format!("set -e\n{}", e.commands[0].script));
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "before\n");
        // A notification after it ran: skipped too.
        assert_eq!(
            run_local(&format!("set -e\n{}", e.on_notify[0].script)).status,
            0
        );
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "before\n");
    }

    #[test]
    fn notified_only_runs_when_notified() {
        let (t, d) = hostile_dir();
        let f = format!("{d}/notified");
        let yaml = format!(
            "run: printf '%s' \"$V\" > \"$F\"\nnotified_only: true\nenv: {{F: {}, V: {}}}\n",
            yq(&f),
            yq(HOSTILE)
        );
        let r = load("command", &yaml);
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(before.diff.action(), Action::NoOp);
        assert!(!Path::new(&f).exists());
        let out = run_local(&format!("set -e\n{}", after.on_notify[0].script));
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert_eq!(std::fs::read_to_string(&f).unwrap(), HOSTILE);
        assert_inert(&t);
    }

    #[test]
    fn runs_as_another_user_when_root() {
        let is_root = run_local("id -u").stdout.trim() == "0";
        let has_nobody = run_local("id -u nobody").status == 0;
        assert!(
            is_root && has_nobody,
            "this test needs root and a `nobody` user: run the suite as root, as .ci/run does"
        );
        let t = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let d = t.path().join("shared");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let f = d.join("who");
        let yaml = format!(
            "run: id -un > who; printf '%s' \"$V\" >> who\nuser: nobody\ncwd: {}\nunless: test -s who\nenv: {{V: {}}}\n",
            yq(d.to_str().unwrap()),
            yq(HOSTILE)
        );
        let r = load("command", &yaml);
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(
            before.diff.reason.as_deref(),
            Some("`unless` command exited 1")
        );
        assert_eq!(
            before.commands[0].summary,
            format!(
                "run `id -un > who; printf '%s' \"$V\" >> who` as nobody in {}",
                d.display()
            )
        );
        assert_eq!(
            std::fs::read_to_string(&f).unwrap(),
            format!("nobody\n{HOSTILE}")
        );
        assert_eq!(after.diff.action(), Action::NoOp);
        assert!(!before.commands[0].script.contains("sh -c"));
    }

    /// `timeout:` bounds `run`: past it, the command fails saying so and
    /// its whole process tree is gone (a background child never finishes);
    /// within it, the command runs as usual, as another user too, with its
    /// text and env off every command line.
    #[test]
    fn timeout_stops_the_run_and_its_children() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().to_str().unwrap();
        let yaml = format!(
            "run: \"(sleep 2; touch late) & touch started; sleep 30\"\ncwd: {}\ncreates: {}\ntimeout: 1\n",
            yq(d),
            yq(&format!("{d}/done"))
        );
        let e = eval("command", &yaml, "creates=missing\n");
        assert_eq!(e.commands[0].summary, format!("run `(sleep 2; touch late) & touch started; sleep 30` in {} (timeout 1 s)", t.path().display()));
        assert_parses(&e.commands[0].script);
        let start = std::time::Instant::now();
        let out = run_local(&e.commands[0].script);
        assert!(start.elapsed() < std::time::Duration::from_secs(20));
        assert_eq!(out.status, 124, "{}", out.stderr);
        assert!(out.stderr.contains("keel: stopped after 1 s (its timeout)"), "{}", out.stderr);
        assert!(t.path().join("started").exists());
        std::thread::sleep(std::time::Duration::from_millis(2500));
        assert!(!t.path().join("late").exists(), "a child outlived the timeout");

        let (_keep, hostile) = hostile_dir();
        let yaml = format!(
            "run: printf '%s' \"$V\" > out; id -un >> out\ncwd: {}\ncreates: {}\nenv: {{V: {}}}\ntimeout: 30\nuser: root\n",
            yq(&hostile),
            yq(&format!("{hostile}/out")),
            yq(HOSTILE)
        );
        let r = load("command", &yaml);
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(
            std::fs::read_to_string(Path::new(&hostile).join("out")).unwrap(),
            format!("{HOSTILE}root\n")
        );
        assert_eq!(after.diff.action(), Action::NoOp);
        let script = &before.commands[0].script;
        assert!(!script.contains("sh -c") && script.contains("timeout -k 10 30 sh -s"), "{script}");
    }

    /// `timeout:` bounds each guard too: a guard cut short fails the probe
    /// and the apply script (never a decision to run), and kills its
    /// children; a guard that exits 124 by itself is only a status.
    #[test]
    fn timeout_bounds_the_guards() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().to_str().unwrap();
        for field in ["unless", "onlyif"] {
            let yaml = format!(
                "run: touch ran\ncwd: {}\n{field}: \"(sleep 2; touch late) & sleep 30\"\ntimeout: 1\nuser: root\n",
                yq(d)
            );
            let r = load("command", &yaml);
            let start = std::time::Instant::now();
            let probe = run_local(&r.probe());
            assert!(start.elapsed() < std::time::Duration::from_secs(20));
            let err = r.evaluate(&probe).expect_err("a cut-short guard decided");
            assert!(
                err.to_string()
                    .contains(&format!("the `{field}` command did not finish within 1 s")),
                "{err}"
            );
            // A stale plan said "run": the apply script's own check is cut
            // short too, and it fails instead of running.
            let stale = if field == "unless" { "unless=1\n" } else { "onlyif=0\n" };
            let e = eval("command", &yaml, stale);
            assert_parses(&e.commands[0].script);
            let out = run_local(&e.commands[0].script);
            assert_eq!(out.status, 124, "{}", out.stderr);
            assert!(out.stderr.contains("did not finish within 1 s (`timeout: 1`)"), "{}", out.stderr);
            assert!(!t.path().join("ran").exists(), "ran after a cut-short guard");
        }
        std::thread::sleep(std::time::Duration::from_millis(2500));
        assert!(!t.path().join("late").exists(), "a guard's child outlived the timeout");

        // Its own status 124 is a status, and a guard in time decides.
        let yaml = format!("run: touch ran\ncwd: {}\nunless: exit 124\ntimeout: 5\n", yq(d));
        let r = load("command", &yaml);
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert_eq!(e.diff.action(), Action::Run, "{:?}", e.diff);
        let yaml = format!("run: touch ran\ncwd: {}\nunless: test -d .\ntimeout: 5\n", yq(d));
        let r = load("command", &yaml);
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
    }

    #[test]
    fn timeout_out_of_range_is_refused() {
        for bad in ["0", "604801"] {
            let e = try_load("command", &format!("run: x\ncreates: /x\ntimeout: {bad}\n"))
                .err()
                .unwrap_or_else(|| panic!("timeout {bad} accepted"));
            assert!(e.contains("seconds from 1 to 604800"), "{e}");
        }
        assert!(try_load("command", "run: x\ncreates: /x\ntimeout: 10m\n").is_err());
    }

    #[test]
    fn summary_of_a_multi_line_script() {
        let e = eval(
            "command",
            "run: |\n  apt-get update\n  apt-get install -y foo\n\n  touch /x\ncreates: /x\ncwd: /srv\nuser: app\n",
            "creates=missing\n",
        );
        assert_eq!(
            e.commands[0].summary,
            "run `apt-get update` (+2 more lines) as app in /srv"
        );
        assert_parses(&e.commands[0].script);
    }
}

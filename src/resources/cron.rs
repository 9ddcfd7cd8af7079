//! The `cron` kind: one entry of a user's crontab, owned by keel.
//!
//! ```yaml
//! - cron:
//!     name: db-backup            # unique per user; identifies the entry
//!     user: root                 # default root
//!     schedule: "0 2 * * *"      # 5 fields, or @daily/@weekly/@hourly/@reboot/...
//!     command: /usr/local/bin/backup-db
//!     env: { MAILTO: "" }        # optional variable lines written with the entry
//!     state: present             # or absent
//! ```
//!
//! The address is `cron[USER/NAME]`. An owned entry is a *block* in the
//! user's crontab: a marker comment, the entry's variable lines, then the
//! job line:
//!
//! ```text
//! # keel: db-backup
//! MAILTO=""
//! 0 2 * * * /usr/local/bin/backup-db
//! ```
//!
//! Everything else in the crontab (entries written by hand or by other
//! tools) is left exactly as it is. An owned block is updated in place (it
//! keeps its position); a new one is appended at the end — unless a line
//! written by hand (outside keel's blocks) already runs the same schedule
//! and command, and the entry has no `env`: then that line is marked in
//! place (an update that names the line), so adopting a server does not
//! run the job twice; `state: absent` removes it. Two blocks with the same marker (a copy made by hand) are
//! merged back into one.
//!
//! Several `cron` resources (and `backup`, which reuses this code) edit the
//! same crontab, so the apply script never writes a crontab computed at
//! plan time: it reads the crontab again (`crontab -l`), replaces only its
//! own block with a small line-by-line `sh` loop, and installs the result
//! through a temporary file with `crontab FILE` — which checks the whole
//! file and refuses a broken one, leaving the installed crontab untouched.
//! The same edit is implemented in Rust (`common::crontab::edit_crontab`) to show the
//! crontab's content diff in the plan; the fixture tests check that both
//! agree.
//!
//! Schedules are validated at load time field by field, as Debian's
//! (Vixie) cron parses them: numbers in range, `*`, lists, ranges, steps on
//! ranges or `*` (`5/15` is rejected: Vixie cron does not accept a step on
//! a single number), three-letter month and day names; or one of the `@`
//! keywords. A `%` in the command must be written `\%`: cron turns a bare
//! `%` into a newline, which is almost never what was meant.
//!
//! A note on `env`: cron applies a `NAME=value` line to *every* job line
//! below it in the crontab, not only to the next one. keel writes the
//! variables inside the entry's block, as asked, but they also reach the
//! entries after it (keel appends new blocks at the end, so entries written
//! before them by hand are not affected). Put variables meant for one
//! command in the command itself (`FOO=bar /usr/local/bin/job`).
//!
//! Probe: whether `crontab` is installed, whether the user exists, and the
//! crontab as `crontab -l` prints it (base64, on one line).

use super::common::State;
use super::common::accounts::valid_name;
use super::common::crontab::{
    CrontabFact, Entry, SCHEDULE_HELP, check_schedule, crontab_probe, env_line, parse_crontab,
    plan_entry,
};
use super::common::script::valid_env_name;
use super::*;
use std::collections::BTreeMap;

/// One keel-owned entry of a user's crontab.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cron {
    /// Identifies the entry in the user's crontab (`# keel: NAME`).
    pub name: String,
    /// Whose crontab.
    #[serde(default = "root")]
    pub user: String,
    /// Five fields or an `@` keyword (required unless `state: absent`).
    pub schedule: Option<String>,
    /// The command line (required unless `state: absent`).
    pub command: Option<String>,
    /// Variable lines written in the entry's block.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub state: State,
}

fn root() -> String {
    "root".into()
}

/// Check the name of an owned entry (it is written in the marker line).
fn check_entry_name(field: &'static str, name: &str) -> Option<Invalid> {
    let bad = name.trim().is_empty()
        || name.trim() != name
        || name.contains('/')
        || name.chars().any(char::is_control);
    bad.then(|| {
        Invalid::field(
            field,
            format!("`{}` is not a usable entry name", name.escape_debug()),
        )
        .help("a name is one line of text without `/`, e.g. `db-backup`")
    })
}

impl Cron {
    fn entry(&self) -> Option<Entry> {
        if self.state == State::Absent {
            return None;
        }
        Some(Entry {
            schedule: self
                .schedule
                .as_deref()
                .map(|s| check_schedule(s).unwrap_or_else(|_| s.trim().to_string()))
                .unwrap_or_default(),
            command: self.command.clone().unwrap_or_default().trim().to_string(),
            env: self
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }
}

/// Check a command for a crontab line.
fn check_command(field: &'static str, command: &str) -> Option<Invalid> {
    if command.trim().is_empty() {
        return Some(Invalid::field(field, "the command is empty"));
    }
    if command.contains(['\n', '\r']) {
        return Some(
            Invalid::field(field, "a cron command is one line")
                .help("put several commands in a script and run the script"),
        );
    }
    // A `%` not preceded by a backslash becomes a newline in cron.
    let bytes = command.as_bytes();
    if let Some(i) =
        (0..bytes.len()).find(|&i| bytes[i] == b'%' && (i == 0 || bytes[i - 1] != b'\\'))
    {
        return Some(
            Invalid::field(
                field,
                format!(
                    "cron turns the `%` at column {} into a newline (the rest becomes the command's input)",
                    i + 1
                ),
            )
            .help("write `\\%` for a literal percent sign, e.g. `date +\\%F`"),
        );
    }
    None
}

impl Kind for Cron {
    const KIND: &'static str = "cron";
    type Fact = CrontabFact;

    /// The user's crontab, where Debian's `crontab` keeps it.
    fn touches(&self) -> Touches {
        Touches::default().path(format!("/var/spool/cron/crontabs/{}", self.user))
    }

    fn name(&self) -> String {
        format!("{}/{}", self.user, self.name)
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        errs.extend(check_entry_name("name", &self.name));
        if !valid_name(&self.user, true) {
            errs.push(
                Invalid::field(
                    "user",
                    format!("`{}` is not a valid user name", self.user.escape_debug()),
                )
                .help("a user name matches `[a-z_][a-z0-9_-]*[$]?`"),
            );
        }
        if self.state == State::Absent {
            errs.extend(unused_when_absent(&[
                ("schedule", self.schedule.is_some()),
                ("command", self.command.is_some()),
                ("env", !self.env.is_empty()),
            ]));
            return errs;
        }
        match &self.schedule {
            None => errs.push(
                Invalid::field("name", "a cron entry needs a `schedule`").help(SCHEDULE_HELP),
            ),
            Some(s) => {
                if let Err(e) = check_schedule(s) {
                    errs.push(Invalid::field("schedule", e.to_string()).help(SCHEDULE_HELP));
                }
            }
        }
        match &self.command {
            None => errs.push(Invalid::field("name", "a cron entry needs a `command`")),
            Some(c) => errs.extend(check_command("command", c)),
        }
        for (k, v) in &self.env {
            if !valid_env_name(k) {
                errs.push(
                    Invalid::field(
                        "env",
                        format!("`{}` is not a valid variable name", k.escape_debug()),
                    )
                    .help("names match `[A-Za-z_][A-Za-z0-9_]*`"),
                );
            } else if env_line(k, v).is_none() {
                errs.push(
                    Invalid::field(
                        "env",
                        format!(
                            "the value of `{k}` cannot be written in a crontab (it has a newline, spaces at either end, or both kinds of quotes)"
                        ),
                    )
                    .help("cron variable values are one line, quoted with `\"` or `'`"),
                );
            }
        }
        errs
    }

    fn links(&self) -> Links {
        let mut needs = vec![Ref::Package("cron".into())];
        if self.user != "root" && self.state == State::Present {
            needs.push(Ref::User(self.user.clone()));
        }
        Links {
            provides: Vec::new(),
            needs,
        }
    }

    fn probe(&self) -> String {
        crontab_probe(&self.user)
    }

    fn parse(&self, out: &ProbeOutput) -> Result<CrontabFact, FactError> {
        parse_crontab(out)
    }

    fn plan(&self, fact: &CrontabFact) -> Planned {
        plan_entry(
            &self.user,
            &self.name,
            self.entry().as_ref(),
            fact,
            &format!("cron entry `{}`", self.name),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::{eval, load, run_local, try_load};
    use crate::shell::{self, q};
    use std::path::Path;

    fn present(text: &str) -> String {
        format!(
            "crontab=present\ncrontab_b64={}\n",
            shell::base64(text.as_bytes()).replace('\n', "")
        )
    }

    const YAML: &str = "name: db-backup\nschedule: \"0 2 * * *\"\ncommand: /usr/local/bin/backup-db\nenv: { MAILTO: \"\" }\n";

    const BLOCK: &str = "# keel: db-backup\nMAILTO=\"\"\n0 2 * * * /usr/local/bin/backup-db\n";

    #[test]
    fn invalid_schedule_points_at_schedule() {
        let node =
            crate::node::Node::parse("name: x\nschedule: \"0 25 * * *\"\ncommand: y\n")
                .unwrap();
        let res = (super::super::kind("cron").unwrap().parse)(&node).unwrap();
        let errs = res.check();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, Some("schedule"));
        assert_eq!(errs[0].message, "hour 25 is out of range 0–23");
        assert!(
            errs[0]
                .help
                .as_deref()
                .unwrap()
                .contains("minute hour day-of-month")
        );
    }

    #[test]
    fn validation_errors() {
        for (yaml, want) in [
            ("name: x\ncommand: y\n", "needs a `schedule`"),
            ("name: x\nschedule: \"@daily\"\n", "needs a `command`"),
            (
                "name: x\nschedule: \"@daily\"\ncommand: \"a\\nb\"\n",
                "one line",
            ),
            ("name: x\nschedule: \"@daily\"\ncommand: \"  \"\n", "empty"),
            (
                "name: x\nschedule: \"@daily\"\ncommand: date +%F\n",
                "`%` at column 7",
            ),
            (
                "name: \"a/b\"\nschedule: \"@daily\"\ncommand: y\n",
                "not a usable entry name",
            ),
            (
                "name: \" a\"\nschedule: \"@daily\"\ncommand: y\n",
                "not a usable entry name",
            ),
            (
                "name: \"a\\nb\"\nschedule: \"@daily\"\ncommand: y\n",
                "not a usable entry name",
            ),
            (
                "name: x\nuser: \"a b\"\nschedule: \"@daily\"\ncommand: y\n",
                "not a valid user name",
            ),
            (
                "name: x\nschedule: \"@daily\"\ncommand: y\nenv: {\"A-B\": 1}\n",
                "not a valid variable name",
            ),
            (
                "name: x\nschedule: \"@daily\"\ncommand: y\nenv: {A: \"x\\ny\"}\n",
                "cannot be written",
            ),
            (
                "name: x\nschedule: \"@daily\"\ncommand: y\nenv: {A: \" '\\\"\"}\n",
                "cannot be written",
            ),
            (
                "name: x\nschedule: \"@daily\"\nstate: absent\n",
                "no effect with `state: absent`",
            ),
            (
                "name: x\nschedule: \"@daily\"\ncommand: y\nstate: gone\n",
                "gone",
            ),
            ("name: x\nschedule: \"@daily\"\ncommand: y\nusr: z\n", "usr"),
        ] {
            let e = try_load("cron", yaml).unwrap_err();
            assert!(e.contains(want), "{yaml}: {e}");
        }
        assert!(
            try_load(
                "cron",
                "name: x\nschedule: \"@daily\"\ncommand: date +\\%F\n"
            )
            .is_ok()
        );
        assert!(try_load("cron", "name: x\nstate: absent\n").is_ok());
    }

    #[test]
    fn address_and_links() {
        let r = load("cron", YAML);
        assert_eq!(r.name(), "root/db-backup");
        assert_eq!(r.links().needs, vec![Ref::Package("cron".into())]);
        let r = load("cron", &format!("{YAML}user: app\n"));
        assert_eq!(r.name(), "app/db-backup");
        assert_eq!(
            r.links().needs,
            vec![Ref::Package("cron".into()), Ref::User("app".into())]
        );
    }

    #[test]
    fn absent_crontab_creates_the_entry() {
        let e = eval("cron", YAML, "crontab=none\n");
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new("schedule", None::<String>, Some("\"0 2 * * *\"")),
                AttrChange::new("command", None::<String>, Some("/usr/local/bin/backup-db")),
                AttrChange::new("env MAILTO", None::<String>, Some("\"\"")),
            ]
        );
        assert_eq!(
            e.diff.content,
            Some(ContentChange {
                before: None,
                after: BLOCK.into()
            })
        );
        assert_eq!(
            e.commands[0].summary,
            "add cron entry `db-backup` in root's crontab (0 2 * * *)"
        );
    }

    #[test]
    fn appended_after_hand_entries() {
        let hand = "# my stuff\nPATH=/usr/bin:/bin\n*/5 * * * * /usr/bin/hand-job\n";
        let e = eval("cron", YAML, &present(hand));
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(
            e.diff.content.as_ref().unwrap().after,
            format!("{hand}{BLOCK}")
        );
        assert_eq!(
            e.diff.content.as_ref().unwrap().before.as_deref(),
            Some(hand)
        );
    }

    #[test]
    fn equal_entry_is_noop() {
        let text = format!("# hand\n1 1 * * * x\n{BLOCK}# after\n");
        let e = eval("cron", YAML, &present(&text));
        assert_eq!(e.diff, Diff::noop());
        assert!(e.commands.is_empty());
        // Whitespace and quoting variants read back the same.
        let text = "# keel: db-backup\n  MAILTO = ''\n0  2 * *\t* /usr/local/bin/backup-db  \n";
        let e = eval("cron", YAML, &present(text));
        assert_eq!(e.diff.action(), Action::Update, "rewritten to keel's form");
        assert!(e.diff.attrs.is_empty(), "{:?}", e.diff.attrs);
    }

    #[test]
    fn drift_updates_in_place() {
        let text = "# top\n# keel: db-backup\nMAILTO=ops@example.com\nFOO=1\n0 3 * * * /usr/local/bin/backup-db --old\n# hand\n5 5 * * * hand\n";
        let e = eval("cron", YAML, &present(text));
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new("schedule", Some("\"0 3 * * *\""), Some("\"0 2 * * *\"")),
                AttrChange::new(
                    "command",
                    Some("/usr/local/bin/backup-db --old"),
                    Some("/usr/local/bin/backup-db")
                ),
                AttrChange::new("env FOO", Some("\"1\""), None::<String>),
                AttrChange::new("env MAILTO", Some("\"ops@example.com\""), Some("\"\"")),
            ]
        );
        assert_eq!(
            e.diff.content.unwrap().after,
            format!("# top\n{BLOCK}# hand\n5 5 * * * hand\n")
        );
        assert_eq!(
            e.commands[0].summary,
            "update cron entry `db-backup` in root's crontab (0 2 * * *)"
        );
    }

    #[test]
    fn duplicates_are_merged() {
        let text = format!("{BLOCK}# hand\n{BLOCK}");
        let e = eval("cron", YAML, &present(&text));
        assert_eq!(e.diff.action(), Action::Update);
        assert!(e.diff.reason.unwrap().contains("2 entries are marked"));
        assert_eq!(e.diff.content.unwrap().after, format!("{BLOCK}# hand\n"));
    }

    #[test]
    fn marker_without_job_line() {
        let text = "# keel: db-backup\nMAILTO=\"\"\n\n# other\n";
        let e = eval("cron", YAML, &present(text));
        assert_eq!(e.diff.action(), Action::Update);
        assert!(
            e.diff
                .reason
                .unwrap()
                .contains("not followed by a job line")
        );
        assert_eq!(e.diff.content.unwrap().after, format!("{BLOCK}\n# other\n"));
    }

    #[test]
    fn removal() {
        let yaml = "name: db-backup\nstate: absent\n";
        let text = format!("# hand\n1 1 * * * x\n{BLOCK}2 2 * * * y\n");
        let e = eval("cron", yaml, &present(&text));
        assert_eq!(e.diff.action(), Action::Delete);
        assert_eq!(
            e.diff.content.as_ref().unwrap().after,
            "# hand\n1 1 * * * x\n2 2 * * * y\n"
        );
        assert_eq!(
            e.commands[0].summary,
            "remove cron entry `db-backup` from root's crontab"
        );
        assert_eq!(
            e.diff.attrs[0],
            AttrChange::new("schedule", Some("\"0 2 * * *\""), None::<String>)
        );
        let e = eval("cron", yaml, &present("1 1 * * * x\n"));
        assert_eq!(e.diff.action(), Action::NoOp);
        let e = eval("cron", yaml, "crontab=none\n");
        assert_eq!(e.diff.action(), Action::NoOp);
        let e = eval("cron", yaml, "crontab=uninstalled\n");
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn unknown_when_cron_or_user_missing() {
        let e = eval("cron", YAML, "crontab=uninstalled\n");
        assert_eq!(e.diff.action(), Action::Create);
        assert!(
            e.diff
                .unknown
                .unwrap()
                .contains("cron is not installed yet")
        );
        assert_eq!(e.commands.len(), 1);
        let e = eval("cron", &format!("{YAML}user: app\n"), "crontab=nouser\n");
        assert!(
            e.diff
                .unknown
                .unwrap()
                .contains("user `app` does not exist yet")
        );
    }

    #[test]
    fn odd_probe_outputs() {
        let r = load("cron", YAML);
        let err = r
            .evaluate(&ProbeOutput {
                stdout: "crontab=error\n".into(),
                stderr: "crontab: must be privileged to use -u\n".into(),
                status: 0,
            })
            .unwrap_err();
        assert!(err.contains("must be privileged"), "{err}");
        assert!(r.evaluate(&ProbeOutput::ok("")).is_err());
        assert!(r.evaluate(&ProbeOutput::ok("crontab=maybe\n")).is_err());
        assert!(
            r.evaluate(&ProbeOutput::ok("crontab=present\ncrontab_b64=@@@@\n"))
                .is_err()
        );
        // Empty crontab, present.
        let e = r
            .evaluate(&ProbeOutput::ok("crontab=present\ncrontab_b64=\n"))
            .unwrap();
        assert_eq!(e.diff.action(), Action::Create);
        // A last line without newline, CRLF lines.
        let e = r
            .evaluate(&ProbeOutput::ok(present("1 1 * * * x\r\n2 2 * * * y")))
            .unwrap();
        assert_eq!(
            e.diff.content.unwrap().after,
            format!("1 1 * * * x\r\n2 2 * * * y\n{BLOCK}")
        );
    }

    // --- Local runs: a fake `crontab` that stores files in a directory.
    use crate::resources::common::crontab::fake::{fake_crontab, me, stored};

    const HOSTILE: &str = "it's \"$(touch pwned)\" `touch pwned2`; rm -rf / \\ $HOME";

    /// Probe, apply, probe with the fake crontab: returns (before, after).
    fn converge(dir: &Path, r: &dyn Resource) -> (Evaluation, Evaluation) {
        let env = fake_crontab(dir);
        let ev = |r: &dyn Resource| {
            let out = run_local(&format!("{env}{}", r.probe()));
            assert_eq!(out.status, 0, "{}", out.stderr);
            r.evaluate(&out).unwrap()
        };
        let before = ev(r);
        for c in &before.commands {
            let out = run_local(&format!(
                "set -e\ncd {}\n{env}{}",
                q(dir.to_str().unwrap()),
                c.script
            ));
            assert_eq!(out.status, 0, "{}: {}", c.summary, out.stderr);
        }
        let after = ev(r);
        (before, after)
    }

    #[test]
    fn converges_locally_next_to_hand_entries() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let user = me();
        let hand = "# hand-made\nSHELL=/bin/sh\n*/5 * * * * echo hand\n";
        fake_crontab(d);
        std::fs::write(d.join("store").join(&user), hand).unwrap();
        let yaml = format!(
            "name: {n}\nuser: {user}\nschedule: \"0 2 * * *\"\ncommand: {c}\nenv: {{MAILTO: {v}, PATH: /usr/bin}}\n",
            n = serde_json::to_string(HOSTILE.replace('/', "|").as_str()).unwrap(),
            c = serde_json::to_string(&format!("echo {}", q(HOSTILE))).unwrap(),
            v = serde_json::to_string("it's $(x)").unwrap(),
        );
        let r = load("cron", &yaml);
        let (before, after) = converge(d, r.as_ref());
        assert_eq!(before.diff.action(), Action::Create);
        assert_eq!(after.diff, Diff::noop(), "{:?}", after.diff);
        let text = stored(d);
        assert!(text.starts_with(hand), "{text}");
        assert_eq!(
            text,
            before.diff.content.as_ref().unwrap().after,
            "the plan's crontab is what the shell wrote"
        );
        assert!(text.contains("MAILTO=\"it's $(x)\"\n"), "{text}");
        assert!(!d.join("pwned").exists() && !d.join("pwned2").exists());

        // Changed schedule: updated in place, no duplicate.
        let yaml2 = yaml.replace("0 2 * * *", "30 4 * * 1-5");
        std::fs::write(
            d.join("store").join(&user),
            format!("{text}# later hand\n1 1 * * * later\n"),
        )
        .unwrap();
        let r2 = load("cron", &yaml2);
        let (before, after) = converge(d, r2.as_ref());
        assert_eq!(before.diff.action(), Action::Update);
        assert_eq!(
            before.diff.attrs,
            vec![AttrChange::new(
                "schedule",
                Some("\"0 2 * * *\""),
                Some("\"30 4 * * 1-5\"")
            )]
        );
        assert_eq!(after.diff, Diff::noop());
        let text2 = stored(d);
        assert_eq!(text2.matches("# keel: ").count(), 1);
        assert!(
            text2.ends_with("# later hand\n1 1 * * * later\n"),
            "{text2}"
        );
        assert!(text2.starts_with(hand));

        // Removed.
        let absent = format!(
            "name: {}\nuser: {user}\nstate: absent\n",
            serde_json::to_string(HOSTILE.replace('/', "|").as_str()).unwrap()
        );
        let r3 = load("cron", &absent);
        let (before, after) = converge(d, r3.as_ref());
        assert_eq!(before.diff.action(), Action::Delete);
        assert_eq!(after.diff.action(), Action::NoOp);
        assert_eq!(stored(d), format!("{hand}# later hand\n1 1 * * * later\n"));
        assert!(!d.join("pwned").exists() && !d.join("pwned2").exists());
    }

    #[test]
    fn no_crontab_yet_and_rejected_install() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let user = me();
        let r = load(
            "cron",
            &format!("name: a\nuser: {user}\nschedule: \"@hourly\"\ncommand: run-a\n"),
        );
        let (before, after) = converge(d, r.as_ref());
        assert_eq!(before.diff.action(), Action::Create);
        assert_eq!(after.diff, Diff::noop());
        assert_eq!(stored(d), "# keel: a\n@hourly run-a\n");
        // An install that crontab rejects fails the script and keeps the
        // installed crontab.
        let r = load(
            "cron",
            &format!("name: b\nuser: {user}\nschedule: \"@hourly\"\ncommand: bad\n"),
        );
        let env = fake_crontab(d);
        let e = r
            .evaluate(&run_local(&format!("{env}{}", r.probe())))
            .unwrap();
        let out = run_local(&format!("set -e\n{env}{}", e.commands[0].script));
        assert_ne!(out.status, 0);
        assert!(
            out.stderr.contains("errors in crontab file"),
            "{}",
            out.stderr
        );
        assert_eq!(stored(d), "# keel: a\n@hourly run-a\n");
    }

    #[test]
    fn probe_is_valid_sh_and_reads_the_fake() {
        let t = tempfile::tempdir().unwrap();
        let env = fake_crontab(t.path());
        let user = me();
        let r = load(
            "cron",
            &format!("name: a\nuser: {user}\nschedule: \"@hourly\"\ncommand: x\n"),
        );
        let out = run_local(&format!("{env}{}", r.probe()));
        assert_eq!(out.stdout, "crontab=none\n");
        std::fs::write(t.path().join("store").join(&user), "1 1 * * * x\n").unwrap();
        let out = run_local(&format!("{env}{}", r.probe()));
        assert_eq!(
            parse_crontab(&out).unwrap().text.as_deref(),
            Some("1 1 * * * x\n")
        );
        // No crontab command at all.
        let out = run_local(&format!("PATH=/nonexistent\n{}", r.probe()));
        assert_eq!(out.stdout, "crontab=uninstalled\n");
        // An unknown user.
        let r = load(
            "cron",
            "name: a\nuser: keel-no-such-user\nschedule: \"@hourly\"\ncommand: x\n",
        );
        let out = run_local(&format!("{env}{}", r.probe()));
        assert_eq!(out.stdout, "crontab=nouser\n");
    }
}

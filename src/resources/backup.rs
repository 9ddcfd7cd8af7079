//! The `backup` kind: a scheduled backup job — a script keel generates, a
//! root crontab entry that runs it, and the directory it writes to.
//!
//! ```yaml
//! - backup:
//!     name: database
//!     schedule: "0 2 * * *"
//!     type: postgres             # postgres | files | config
//!     database: ai_platform      # postgres: pg_dump as the OS user `db_user` (runuser) ...
//!     db_user: postgres
//!     # compose_service: db      # ... or inside a compose service
//!     # compose_file: /srv/app/docker-compose.prod.yml
//!     destination: /backup/database
//!     retention_days: 7
//!     offsite: "aws s3 sync /backup s3://bucket/backup"
//! - backup: { name: uploads, schedule: "30 2 * * *", type: files, source: /srv/app/uploads, destination: /backup/uploads }
//! - backup: { name: config, schedule: "@daily", type: config, paths: [/srv/app/.env.production, /srv/app/nginx], destination: /backup/config }
//! ```
//!
//! What keel installs:
//! - `/usr/local/lib/keel/backup-NAME`, mode 0700, owner root: a POSIX `sh`
//!   script generated from the fields (its `# keel: key=value` header
//!   lines record the settings, so the plan shows `retention_days: 7 → 14`
//!   next to the script's content diff). It is written to a temporary file
//!   next to it, checked with `sh -n`, then renamed over the old one.
//! - an entry in root's crontab marked `# keel: backup/NAME` (the same
//!   ownership convention and editing code as the `cron` kind; `/` cannot
//!   occur in a `cron` name, so the two never collide);
//! - the destination directory, mode 0700, owner root.
//!
//! What the script does, by type (every run takes a `flock` on
//! `/run/lock/keel-backup-NAME.lock`, so two runs never overlap; it logs to
//! syslog with the tag `keel-backup-NAME` and to stderr, and exits non-zero
//! on any failure without touching older backups):
//! - `postgres`: `pg_dump DATABASE | gzip` into
//!   `DEST/NAME_backup_YYYYmmdd_HHMMSS.sql.gz`, written as `.partial` and
//!   renamed only when both pg_dump (its status is saved from inside the
//!   pipeline, as POSIX sh has no `pipefail`) and gzip succeeded. pg_dump
//!   runs as the OS user `db_user` (default `postgres`) through `runuser`,
//!   or with `compose_service` inside that service:
//!   `docker compose -f COMPOSE_FILE exec -T SERVICE pg_dump -U DB_USER DATABASE`
//!   (`docker-compose` when the compose plugin is missing).
//! - `files`: `rsync -a --delete SOURCE/ DEST/current/`, then a hard-link
//!   snapshot `cp -al DEST/current DEST/snapshot-YYYYmmdd` (one per day; a
//!   second run the same day replaces it). Unchanged files share their
//!   inode with `current`, so a snapshot costs only the changed files.
//!   As with any hard-link scheme, a file's *metadata* is shared too.
//! - `config`: `tar czf DEST/config_YYYYmmdd_HHMMSS.tar.gz` of the `paths`
//!   that exist (missing ones are logged and skipped; none at all fails).
//!
//! After a successful backup, artifacts older than `retention_days` are
//! deleted (`find -mtime +N`, only the file names this backup writes), and
//! then `offsite` runs, if given, with `KEEL_BACKUP_DEST` and
//! `KEEL_BACKUP_FILE` in its environment; its failure fails the run (the
//! local backup is kept).
//!
//! `state: absent` removes the crontab entry and the script; the backups in
//! the destination are kept.
//!
//! Probe: root's crontab (as for `cron`), the installed script (mode,
//! owner, content base64 on one line) and the destination's type, mode and
//! owner.

use super::common::State;
use super::common::accounts::valid_name;
use super::common::crontab::{
    CrontabFact, Entry, SCHEDULE_HELP, check_schedule, crontab_probe, find_blocks, parse_crontab,
    plan_entry,
};
use super::common::paths::check_host_path;
use super::*;
use crate::shell::{self, Script, q};
use std::fmt::Write as _;

/// Where the scripts live.
pub const SCRIPT_DIR: &str = "/usr/local/lib/keel";

/// A scheduled backup job.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// `[A-Za-z0-9][A-Za-z0-9_.-]*`: names the script, the crontab entry,
    /// the lock and the artifacts.
    pub name: String,
    /// When it runs (crontab syntax).
    pub schedule: Option<String>,
    /// `postgres`, `files` or `config`.
    #[serde(rename = "type")]
    pub kind: Option<BackupType>,
    /// postgres: the database.
    pub database: Option<String>,
    /// postgres: the OS user pg_dump runs as (default `postgres`); with
    /// `compose_service`, the role (`pg_dump -U`).
    pub db_user: Option<String>,
    /// postgres: run pg_dump inside this compose service.
    pub compose_service: Option<String>,
    /// postgres: the compose file of `compose_service`.
    pub compose_file: Option<String>,
    /// files: the directory to copy.
    pub source: Option<String>,
    /// config: the files and directories to archive.
    #[serde(default)]
    pub paths: Vec<String>,
    /// The directory the backups go to.
    pub destination: Option<String>,
    /// Days to keep (default 7).
    pub retention_days: Option<String>,
    /// A command run after each successful backup.
    pub offsite: Option<String>,
    #[serde(default)]
    pub state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupType {
    Postgres,
    Files,
    Config,
}

impl BackupType {
    fn as_str(self) -> &'static str {
        match self {
            BackupType::Postgres => "postgres",
            BackupType::Files => "files",
            BackupType::Config => "config",
        }
    }
}

/// What is at a path: absent, something that is not what we need, or a
/// file/directory with its `mode:owner:group`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Present {
    #[default]
    Absent,
    /// Not a regular file (script) / not a directory (destination).
    Other,
    Here {
        mode: String,
        owner: String,
        group: String,
    },
}

/// The live state of a backup job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupFact {
    /// Root's crontab.
    pub crontab: CrontabFact,
    pub script: Present,
    /// The installed script's text.
    pub script_text: Option<String>,
    pub dest: Present,
}

const DEFAULT_RETENTION: u32 = 7;

/// Whether a database or role name is sane to pass on a command line.
fn sane_db_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && n.len() <= 63
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.$-".contains(c))
}

/// Whether a backup or compose service name is sane.
fn sane_name(n: &str, max: usize) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && n.len() <= max
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

impl Backup {
    fn script_path(&self) -> String {
        format!("{SCRIPT_DIR}/backup-{}", self.name)
    }

    fn mark(&self) -> String {
        format!("backup/{}", self.name)
    }

    fn tag(&self) -> String {
        format!("keel-backup-{}", self.name)
    }

    fn retention(&self) -> u32 {
        self.retention_days
            .as_deref()
            .and_then(|r| r.trim().parse().ok())
            .unwrap_or(DEFAULT_RETENTION)
    }

    fn kind(&self) -> BackupType {
        self.kind.unwrap_or(BackupType::Files)
    }

    fn destination(&self) -> &str {
        self.destination.as_deref().unwrap_or_default()
    }

    fn db_user(&self) -> &str {
        self.db_user.as_deref().unwrap_or("postgres")
    }

    fn entry(&self) -> Entry {
        let schedule = self.schedule.as_deref().unwrap_or_default();
        Entry {
            schedule: check_schedule(schedule).unwrap_or_else(|_| schedule.trim().to_string()),
            command: self.script_path(),
            env: Vec::new(),
        }
    }

    /// The settings recorded in the script's header, in display order.
    fn settings(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![("type", self.kind().as_str().to_string())];
        match self.kind() {
            BackupType::Postgres => {
                v.push(("database", self.database.clone().unwrap_or_default()));
                v.push(("db_user", self.db_user().to_string()));
                if let Some(s) = &self.compose_service {
                    v.push(("compose_service", s.clone()));
                }
                if let Some(f) = &self.compose_file {
                    v.push(("compose_file", f.clone()));
                }
            }
            BackupType::Files => v.push(("source", self.source.clone().unwrap_or_default())),
            BackupType::Config => v.push(("paths", self.paths.join(", "))),
        }
        v.push(("destination", self.destination().to_string()));
        v.push(("retention_days", self.retention().to_string()));
        if let Some(o) = &self.offsite {
            v.push(("offsite", o.clone()));
        }
        v
    }

    /// The generated script.
    fn script(&self) -> String {
        let name = &self.name;
        let mut s = String::from("#!/bin/sh\n");
        let _ = writeln!(
            s,
            "# Backup `{name}`, installed by keel: do not edit, keel rewrites this file.\n\
             # Run from root's crontab (the entry marked `# keel: backup/{name}`).\n\
             # Logs to syslog (tag keel-backup-{name}) and stderr; exits non-zero on failure."
        );
        for (k, v) in self.settings() {
            let _ = writeln!(s, "# keel: {k}={v}");
        }
        s.push('\n');
        s.push_str(&Script::new(include_str!("backup/env.sh")).render());
        let _ = write!(
            s,
            "NAME={name}
TAG={tag}
DEST={dest}
RETENTION_DAYS={retention}
PART=
OUT=

log() {{
  printf '%s: %s\\n' \"$TAG\" \"$*\" >&2
  logger -t \"$TAG\" -- \"$*\" 2>/dev/null || :
}}
fail() {{
  log \"FAILED: $*\"
  exit 1
}}
# Delete what `find DEST ARGS` prints (artifacts older than the retention).
expire() {{
  find \"$DEST\" -mindepth 1 -maxdepth 1 \"$@\" -mtime +\"$RETENTION_DAYS\" -print | while IFS= read -r old; do
    rm -rf -- \"$old\" && log \"removed $old (older than $RETENTION_DAYS days)\"
  done
}}

WORK=$(mktemp -d) || fail \"cannot create a temporary directory\"
trap 'rm -rf -- \"$WORK\"; [ -z \"$PART\" ] || rm -rf -- \"$PART\"' EXIT
trap 'exit 1' HUP INT TERM
mkdir -p /run/lock
# (a failed redirection of `exec` would end the script before `fail`)
true 9>>\"/run/lock/$TAG.lock\" 2>/dev/null || fail \"cannot open the lock file /run/lock/$TAG.lock\"
exec 9>>\"/run/lock/$TAG.lock\"
flock -n 9 || fail \"the previous run still holds /run/lock/$TAG.lock; not starting another\"
mkdir -p -m 0700 -- \"$DEST\" || fail \"cannot create $DEST\"
STAMP=$(date +%Y%m%d_%H%M%S)
log \"starting: {kind} backup to $DEST\"
",
            name = q(name),
            tag = q(&self.tag()),
            dest = q(self.destination()),
            retention = self.retention(),
            kind = self.kind().as_str(),
        );
        match self.kind() {
            BackupType::Postgres => self.postgres_body(&mut s),
            BackupType::Files => files_body(&mut s, self.source.as_deref().unwrap_or_default()),
            BackupType::Config => config_body(&mut s, &self.paths),
        }
        if let Some(o) = &self.offsite {
            s.push_str("\n# The offsite copy, after a successful backup.\n");
            s.push_str(
                &Script::new(include_str!("backup/offsite.sh"))
                    .set("OFFSITE", o)
                    .render(),
            );
        }
        s.push_str("\nlog \"done: $OUT\"\nexit 0\n");
        s
    }

    fn postgres_body(&self, s: &mut String) {
        let database = q(self.database.as_deref().unwrap_or_default());
        let dump = match (&self.compose_service, &self.compose_file) {
            (Some(service), Some(file)) => {
                s.push('\n');
                s.push_str(&Script::new(include_str!("backup/compose.sh")).render());
                format!(
                    "dc -f {} exec -T {} pg_dump -U {} {database}",
                    q(file),
                    q(service),
                    q(self.db_user())
                )
            }
            _ => format!("runuser -u {} -- pg_dump {database}", q(self.db_user())),
        };
        let _ = write!(
            s,
            "
# A partial dump left by a killed run (the lock is held: none is running).
find \"$DEST\" -mindepth 1 -maxdepth 1 -type f -name \"${{NAME}}_backup_*.sql.gz.partial\" -exec rm -f -- {{}} +
OUT=\"$DEST/${{NAME}}_backup_$STAMP.sql.gz\"
PART=\"$OUT.partial\"
# POSIX sh has no pipefail: pg_dump's status is saved from inside the pipeline.
{{ {dump} 2>\"$WORK/err\"; echo $? >\"$WORK/status\"; }} | gzip >\"$PART\"
"
        );
        s.push_str(&Script::new(include_str!("backup/postgres_done.sh")).render());
    }
}

fn files_body(s: &mut String, source: &str) {
    s.push('\n');
    s.push_str(
        &Script::new(include_str!("backup/files.sh"))
            .set("SOURCE", source)
            .render(),
    );
}

fn config_body(s: &mut String, paths: &[String]) {
    let words: Vec<String> = paths.iter().map(|p| q(p)).collect();
    let _ = write!(
        s,
        "
set --
for p in {words}; do
  if [ -e \"$p\" ] || [ -L \"$p\" ]; then set -- \"$@\" \"${{p#/}}\"; else log \"skipping $p: it does not exist\"; fi
done
",
        words = words.join(" ")
    );
    s.push_str(&Script::new(include_str!("backup/config_done.sh")).render());
}

/// Parse the `# keel: key=value` header of an installed script.
fn header_settings(script: &str) -> Vec<(String, String)> {
    script
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("# keel: "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Parse `mode:owner:group` as printed by `stat -c %a:%U:%G`.
fn parse_present(kind: Option<&str>, stat: Option<&str>, want: &str) -> Result<Present, FactError> {
    match kind.map(str::trim) {
        Some("absent") => Ok(Present::Absent),
        Some("other") => Ok(Present::Other),
        Some(k) if k == want => {
            let stat = stat.unwrap_or_default().trim();
            let mut it = stat.splitn(3, ':');
            let (Some(mode), Some(owner), Some(group)) = (it.next(), it.next(), it.next()) else {
                return Err(FactError::Unexpected(format!(
                    "unexpected stat output `{stat}`"
                )));
            };
            Ok(Present::Here {
                mode: normalize_mode(mode)
                    .map_err(|_| FactError::Unexpected(format!("`{mode}` is not a mode")))?,
                owner: owner.into(),
                group: group.into(),
            })
        }
        Some(k) => Err(FactError::Unexpected(format!(
            "unexpected `{k}` in the backup probe"
        ))),
        None => Err(FactError::Unexpected(
            "the backup probe printed no state".into(),
        )),
    }
}

/// Changes of mode and ownership of a path that must be `0700 root:root`.
fn perm_attrs(label: &str, p: &Present) -> Vec<AttrChange> {
    let mut v = Vec::new();
    if let Present::Here { mode, owner, group } = p {
        if mode != "0700" {
            v.push(AttrChange::new(
                &format!("{label} mode"),
                Some(mode.clone()),
                Some("0700"),
            ));
        }
        if owner != "root" || group != "root" {
            v.push(AttrChange::new(
                &format!("{label} owner"),
                Some(format!("{owner}:{group}")),
                Some("root:root"),
            ));
        }
    }
    v
}

/// A command that fails the apply with `message` (a path in the way).
fn refusal(summary: String, message: &str) -> Cmd {
    Cmd::new(
        summary,
        format!("printf '%s\\n' {} >&2\nexit 1\n", q(message)),
    )
}

impl Backup {
    /// `state: absent`: the crontab entry and the script go, the backups
    /// already made stay.
    fn plan_removal(&self, fact: &BackupFact, what: &str) -> Planned {
        let script_path = self.script_path();
        let Planned {
            mut diff,
            mut commands,
        } = plan_entry("root", &self.mark(), None, &fact.crontab, what);
        if fact.script != Present::Absent {
            if !diff.action().is_change() {
                diff = Diff::with_action(Action::Delete);
            }
            diff.attrs.push(AttrChange::new(
                "script",
                Some(script_path.clone()),
                None::<String>,
            ));
            commands.push(Cmd::new(
                format!("remove {script_path}"),
                format!("rm -f -- {}\n", q(&script_path)),
            ));
        }
        if !diff.action().is_change() {
            return Planned::only(Diff::noop().reason("not installed"));
        }
        diff.reason = Some("the backups already made are kept".into());
        Planned::new(diff, commands)
    }

    /// The destination directory: created, or given mode 0700 and owner
    /// root; a non-directory in its place is refused.
    fn plan_destination(&self, fact: &BackupFact, plan: &mut Planned) {
        let dest = self.destination();
        let before = plan.diff.attrs.len();
        match &fact.dest {
            Present::Absent => plan.diff.attrs.push(AttrChange::new(
                "directory",
                None::<String>,
                Some(format!("{dest} (mode 0700)")),
            )),
            Present::Other => {
                plan.diff.attrs.push(AttrChange::new(
                    "directory",
                    Some("not a directory"),
                    Some(dest),
                ));
                plan.commands.push(refusal(
                    format!("refuse: {dest} is not a directory"),
                    &format!("keel: {dest} exists and is not a directory"),
                ));
                return;
            }
            here => plan.diff.attrs.extend(perm_attrs("directory", here)),
        }
        if plan.diff.attrs.len() > before {
            let d = q(dest);
            plan.commands.push(Cmd::new(
                format!("create {dest} (mode 0700, owner root)"),
                format!("mkdir -p -- {d}\nchown root:root -- {d}\nchmod 0700 -- {d}\n"),
            ));
        }
    }

    /// The script: written when absent, different or with other
    /// permissions; the settings it records show as attributes.
    fn plan_script(&self, fact: &BackupFact, plan: &mut Planned) {
        let script_path = self.script_path();
        let script = self.script();
        let diff = &mut plan.diff;
        let changes = match &fact.script {
            Present::Absent => {
                // The settings read better than a whole new script.
                for (k, v) in self.settings() {
                    diff.attrs.push(AttrChange::new(k, None::<String>, Some(v)));
                }
                diff.attrs.push(AttrChange::new(
                    "script",
                    None::<String>,
                    Some(script_path.as_str()),
                ));
                true
            }
            Present::Other => {
                diff.attrs.push(AttrChange::new(
                    "script",
                    Some("not a regular file"),
                    Some(script_path.as_str()),
                ));
                plan.commands.push(refusal(
                    format!("refuse: {script_path} is not a regular file"),
                    &format!("keel: {script_path} exists and is not a regular file"),
                ));
                false
            }
            here => {
                let have = fact.script_text.as_deref().unwrap_or_default();
                let differs = have != script;
                if differs {
                    self.script_settings_diff(have, diff);
                    diff.content = Some(ContentChange {
                        before: fact.script_text.clone(),
                        after: script.clone(),
                    });
                }
                let perms = perm_attrs("script", here);
                let fix_perms = !perms.is_empty();
                diff.attrs.extend(perms);
                differs || fix_perms
            }
        };
        if changes {
            plan.commands.push(Cmd::new(
                format!(
                    "write {script_path} ({} bytes, mode 0700, owner root)",
                    script.len()
                ),
                install_script(&script_path, &script),
            ));
        }
    }

    /// The settings that differ from those recorded in the installed
    /// script's header; when none does, why the script differs anyway.
    fn script_settings_diff(&self, have: &str, diff: &mut Diff) {
        let old: std::collections::BTreeMap<String, String> =
            header_settings(have).into_iter().collect();
        let before = diff.attrs.len();
        for (k, v) in self.settings() {
            if old.get(k) != Some(&v) {
                diff.attrs
                    .push(AttrChange::new(k, old.get(k).cloned(), Some(v)));
            }
        }
        if diff.attrs.len() == before {
            diff.reason = Some(
                "the installed script differs from the one keel generates (edited by hand, or made by another keel version)".into(),
            );
        }
    }

    /// The crontab entry (its command is the script: only worth showing
    /// when an existing entry runs something else).
    fn plan_entry(&self, fact: &BackupFact, what: &str, plan: &mut Planned) {
        let cron = plan_entry(
            "root",
            &self.mark(),
            Some(&self.entry()),
            &fact.crontab,
            what,
        );
        let diff = &mut plan.diff;
        diff.attrs.extend(
            cron.diff
                .attrs
                .into_iter()
                .filter(|a| a.name != "command" || a.before.is_some()),
        );
        if diff.content.is_none() {
            diff.content = cron.diff.content;
        }
        diff.unknown = cron.diff.unknown;
        if cron.diff.reason.is_some() {
            diff.reason = cron.diff.reason;
        }
        plan.commands.extend(cron.commands);
    }
}

/// Write the script next to its final place, check it parses, then rename.
fn install_script(path: &str, script: &str) -> String {
    let tmp = shell::TempFile::beside("keel_tmp", path);
    let mut s = format!("mkdir -p {}\n", q(SCRIPT_DIR));
    s.push_str(&tmp.create());
    let _ = writeln!(s, "trap '{}' EXIT", tmp.remove());
    s.push_str(&tmp.fill(script.as_bytes()));
    let _ = write!(
        s,
        "if ! keel_err=$(sh -n \"$keel_tmp\" 2>&1); then printf 'keel: the generated backup script does not parse: %s\\n' \"$keel_err\" >&2; exit 1; fi
{}{}trap - EXIT
",
        tmp.set_perms(&shell::Perms {
            owner: Some("root".into()),
            group: Some("root".into()),
            mode: Some("0700".into()),
        }),
        tmp.rename(),
    );
    s
}

impl Backup {
    /// The schedule, destination, retention and offsite command.
    fn check_settings(&self, errs: &mut Vec<Invalid>) {
        match &self.schedule {
            None => {
                errs.push(Invalid::field("name", "a backup needs a `schedule`").help(SCHEDULE_HELP))
            }
            Some(s) => {
                if let Err(e) = check_schedule(s) {
                    errs.push(Invalid::field("schedule", e.to_string()).help(SCHEDULE_HELP));
                }
            }
        }
        match &self.destination {
            None => errs.push(
                Invalid::field("name", "a backup needs a `destination` directory")
                    .help("e.g. destination: /backup/database"),
            ),
            Some(d) => errs.extend(check_host_path("destination", d, false)),
        }
        if let Some(r) = &self.retention_days {
            match r.trim().parse::<u32>() {
                Ok(n) if (1..=36500).contains(&n) => {}
                _ => errs.push(
                    Invalid::field(
                        "retention_days",
                        format!(
                            "`{}` is not a number of days from 1 to 36500",
                            r.escape_debug()
                        ),
                    )
                    .help(
                        "backups older than this many days are deleted after each successful run",
                    ),
                ),
            }
        }
        if let Some(o) = &self.offsite {
            if o.trim().is_empty() {
                errs.push(Invalid::field("offsite", "`offsite` is empty"));
            } else if o.contains(['\n', '\r']) {
                errs.push(
                    Invalid::field("offsite", "`offsite` is one command line")
                        .help("put several commands in a script and name the script"),
                );
            }
        }
    }

    /// Fields that belong to another type of backup.
    fn check_unused_fields(&self, kind: BackupType, errs: &mut Vec<Invalid>) {
        let used: &[&str] = match kind {
            BackupType::Postgres => &["database", "db_user", "compose_service", "compose_file"],
            BackupType::Files => &["source"],
            BackupType::Config => &["paths"],
        };
        for (field, set) in [
            ("database", self.database.is_some()),
            ("db_user", self.db_user.is_some()),
            ("compose_service", self.compose_service.is_some()),
            ("compose_file", self.compose_file.is_some()),
            ("source", self.source.is_some()),
            ("paths", !self.paths.is_empty()),
        ] {
            if set && !used.contains(&field) {
                errs.push(Invalid::field(
                    field,
                    format!("`{field}` is not used by a `{}` backup", kind.as_str()),
                ));
            }
        }
    }

    /// The database, the user and where pg_dump runs.
    fn check_postgres(&self, errs: &mut Vec<Invalid>) {
        match &self.database {
            None => errs.push(Invalid::field("type", "a postgres backup needs a `database`")),
            Some(d) if !sane_db_name(d) => errs.push(
                Invalid::field(
                    "database",
                    format!("`{}` is not a usable database name", d.escape_debug()),
                )
                .help("letters, digits, `_`, `.`, `$` and `-`, at most 63 characters, not starting with `-`"),
            ),
            Some(_) => {}
        }
        match (&self.compose_service, &self.compose_file) {
            (Some(s), Some(f)) => {
                if !sane_name(s, 128) {
                    errs.push(Invalid::field(
                        "compose_service",
                        format!("`{}` is not a compose service name", s.escape_debug()),
                    ));
                }
                errs.extend(check_host_path("compose_file", f, false));
            }
            (Some(_), None) => errs.push(
                Invalid::field("compose_service", "`compose_service` needs `compose_file`")
                    .help("e.g. compose_file: /srv/app/docker-compose.prod.yml"),
            ),
            (None, Some(_)) => errs.push(Invalid::field(
                "compose_file",
                "`compose_file` needs `compose_service` (the service pg_dump runs in)",
            )),
            (None, None) => {}
        }
        if let Some(u) = &self.db_user {
            let ok = if self.compose_service.is_some() {
                sane_db_name(u)
            } else {
                valid_name(u, true)
            };
            if !ok {
                errs.push(Invalid::field(
                    "db_user",
                    format!("`{}` is not a usable user name", u.escape_debug()),
                ));
            }
        }
    }

    /// The source directory, which must not overlap the destination.
    fn check_files(&self, errs: &mut Vec<Invalid>) {
        match &self.source {
            None => errs.push(Invalid::field(
                "type",
                "a files backup needs a `source` directory",
            )),
            Some(src) => {
                let e = check_host_path("source", src, false);
                if e.is_empty()
                    && let Some(d) = &self.destination
                {
                    let inside = |a: &str, b: &str| a == b || a.starts_with(&format!("{b}/"));
                    if inside(d, src) || inside(src, d) {
                        errs.push(
                            Invalid::field(
                                "destination",
                                format!("the destination `{d}` and the source `{src}` overlap"),
                            )
                            .help("back up to a directory outside the source"),
                        );
                    }
                }
                errs.extend(e);
            }
        }
    }
}

impl Kind for Backup {
    const KIND: &'static str = "backup";
    type Fact = BackupFact;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        if !sane_name(&self.name, 64) {
            errs.push(
                Invalid::field(
                    "name",
                    format!("`{}` is not a usable backup name", self.name.escape_debug()),
                )
                .help("letters, digits, `_`, `.` and `-`, starting with a letter or digit (it names the script, the lock and the files)"),
            );
        }
        if self.state == State::Absent {
            let set = [
                ("schedule", self.schedule.is_some()),
                ("type", self.kind.is_some()),
                ("database", self.database.is_some()),
                ("db_user", self.db_user.is_some()),
                ("compose_service", self.compose_service.is_some()),
                ("compose_file", self.compose_file.is_some()),
                ("source", self.source.is_some()),
                ("paths", !self.paths.is_empty()),
                ("destination", self.destination.is_some()),
                ("retention_days", self.retention_days.is_some()),
                ("offsite", self.offsite.is_some()),
            ];
            errs.extend(unused_when_absent(&set));
            return errs;
        }
        self.check_settings(&mut errs);
        let Some(kind) = self.kind else {
            errs.push(
                Invalid::field("name", "a backup needs a `type`")
                    .help("type: postgres, files or config"),
            );
            return errs;
        };
        self.check_unused_fields(kind, &mut errs);
        match kind {
            BackupType::Postgres => self.check_postgres(&mut errs),
            BackupType::Files => self.check_files(&mut errs),
            BackupType::Config => {
                if self.paths.is_empty() {
                    errs.push(Invalid::field("type", "a config backup needs `paths`"));
                }
                for p in &self.paths {
                    errs.extend(check_host_path("paths", p, false));
                }
            }
        }
        errs
    }

    fn links(&self) -> Links {
        let mut needs = vec![Ref::Package("cron".into())];
        if self.state == State::Present {
            if self.kind == Some(BackupType::Files) {
                needs.push(Ref::Package("rsync".into()));
            }
            if let Some(p) = self.destination.as_deref().and_then(parent_dir) {
                needs.push(Ref::Path(p));
            }
            if let Some(f) = &self.compose_file {
                needs.push(Ref::Path(f.clone()));
            }
        }
        Links {
            provides: Vec::new(),
            needs,
        }
    }

    fn probe(&self) -> String {
        let mut s = crontab_probe("root");
        s.push_str(
            &Script::new(include_str!("backup/probe_script.sh"))
                .set("keel_p", self.script_path())
                .render(),
        );
        if self.state == State::Present {
            s.push_str(
                &Script::new(include_str!("backup/probe_dest.sh"))
                    .set("keel_d", self.destination())
                    .render(),
            );
        }
        s
    }

    fn parse(&self, out: &ProbeOutput) -> Result<BackupFact, FactError> {
        let text = &out.stdout;
        let crontab = parse_crontab(out)?;
        let script = parse_present(kv(text, "script"), kv(text, "script_stat"), "file")?;
        let script_text = match &script {
            Present::Here { .. } => {
                let data = shell::unbase64(kv(text, "script_b64").unwrap_or_default())
                    .map_err(|e| format!("script content: {e}"))?;
                Some(String::from_utf8_lossy(&data).into_owned())
            }
            _ => None,
        };
        let dest = if self.state == State::Present {
            parse_present(kv(text, "dest"), kv(text, "dest_stat"), "dir")?
        } else {
            Present::Absent
        };
        Ok(BackupFact {
            crontab,
            script,
            script_text,
            dest,
        })
    }

    fn plan(&self, fact: &BackupFact) -> Planned {
        let what = format!("backup `{}`", self.name);
        if self.state == State::Absent {
            return self.plan_removal(fact, &what);
        }
        let mut plan = Planned::only(Diff::with_action(Action::Update));
        self.plan_destination(fact, &mut plan);
        self.plan_script(fact, &mut plan);
        self.plan_entry(fact, &what, &mut plan);
        if plan.commands.is_empty() {
            return Planned::only(Diff::noop());
        }
        let new = fact.script == Present::Absent
            && find_blocks(
                fact.crontab.text.as_deref().unwrap_or_default(),
                &self.mark(),
            )
            .is_empty();
        if new {
            plan.diff.action = Some(Action::Create);
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::{eval, load, run_local, try_load};
    use std::path::Path;

    const PG: &str = "name: database\nschedule: \"0 2 * * *\"\ntype: postgres\ndatabase: ai_platform\ndestination: /backup/database\nretention_days: 7\n";

    fn crontab_line(text: &str) -> String {
        format!(
            "crontab=present\ncrontab_b64={}\n",
            shell::base64(text.as_bytes()).replace('\n', "")
        )
    }

    fn script_of(yaml: &str) -> String {
        let node = crate::node::Node::parse(yaml).unwrap();
        let b: Backup = node.deserialize().unwrap();
        b.script()
    }

    fn installed(yaml: &str, crontab: &str) -> String {
        let script = script_of(yaml);
        format!(
            "{}script=file\nscript_stat=700:root:root\nscript_b64={}\ndest=dir\ndest_stat=700:root:root\n",
            crontab_line(crontab),
            shell::base64(script.as_bytes()).replace('\n', "")
        )
    }

    const ENTRY: &str = "# keel: backup/database\n0 2 * * * /usr/local/lib/keel/backup-database\n";

    #[test]
    fn fresh_host_creates_everything() {
        let e = eval("backup", PG, "crontab=none\nscript=absent\ndest=absent\n");
        assert_eq!(e.diff.action(), Action::Create);
        let summaries: Vec<&str> = e.commands.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(summaries.len(), 3, "{summaries:?}");
        assert_eq!(
            summaries[0],
            "create /backup/database (mode 0700, owner root)"
        );
        assert!(summaries[1].starts_with("write /usr/local/lib/keel/backup-database ("));
        assert_eq!(
            summaries[2],
            "add backup `database` in root's crontab (0 2 * * *)"
        );
        // Settings instead of a whole new script; the crontab's diff instead.
        assert_eq!(
            e.diff.content,
            Some(ContentChange {
                before: None,
                after: ENTRY.into()
            })
        );
        let attrs: Vec<String> = e
            .diff
            .attrs
            .iter()
            .map(|a| {
                format!(
                    "{}: {:?} → {}",
                    a.name,
                    a.before,
                    a.after.as_deref().unwrap()
                )
            })
            .collect();
        assert_eq!(
            attrs,
            vec![
                "directory: None → /backup/database (mode 0700)",
                "type: None → postgres",
                "database: None → ai_platform",
                "db_user: None → postgres",
                "destination: None → /backup/database",
                "retention_days: None → 7",
                "script: None → /usr/local/lib/keel/backup-database",
                "schedule: None → \"0 2 * * *\"",
            ]
        );
        let script = &e.commands[1].script;
        assert!(script.contains(&shell::base64(script_of(PG).as_bytes())));
        let s = script_of(PG);
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.contains("# keel: retention_days=7\n"));
        assert!(s.contains("runuser -u postgres -- pg_dump ai_platform"));
    }

    #[test]
    fn installed_is_noop() {
        let e = eval(
            "backup",
            PG,
            &installed(PG, &format!("# hand\n1 1 * * * x\n{ENTRY}")),
        );
        assert_eq!(e.diff, Diff::noop(), "{:?}", e.diff);
        assert!(e.commands.is_empty());
    }

    #[test]
    fn changed_settings_show_as_attributes() {
        let old = PG.replace("retention_days: 7", "retention_days: 14");
        let probe = installed(&old, &ENTRY.replace("0 2 * * *", "0 3 * * *"));
        let e = eval("backup", PG, &probe);
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new("retention_days", Some("14"), Some("7")),
                AttrChange::new("schedule", Some("\"0 3 * * *\""), Some("\"0 2 * * *\"")),
            ]
        );
        let c = e.diff.content.unwrap();
        assert!(c.before.unwrap().contains("RETENTION_DAYS=14"));
        assert!(c.after.contains("RETENTION_DAYS=7"));
        let summaries: Vec<&str> = e.commands.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(summaries.len(), 2, "{summaries:?}");
        assert!(summaries[1].starts_with("update backup `database`"));
    }

    #[test]
    fn drifted_modes_are_fixed() {
        let probe = installed(PG, ENTRY)
            .replace("script_stat=700:root:root", "script_stat=755:root:root")
            .replace("dest_stat=700:root:root", "dest_stat=755:app:app");
        let e = eval("backup", PG, &probe);
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new("directory mode", Some("0755"), Some("0700")),
                AttrChange::new("directory owner", Some("app:app"), Some("root:root")),
                AttrChange::new("script mode", Some("0755"), Some("0700")),
            ]
        );
        assert_eq!(e.commands.len(), 2);
        assert!(e.diff.content.is_none());
    }

    #[test]
    fn hand_edited_script_shows_a_diff() {
        let probe = installed(PG, ENTRY);
        let script = script_of(PG).replace("exit 0\n", "echo hacked\nexit 0\n");
        let probe = probe.replace(
            &shell::base64(script_of(PG).as_bytes()).replace('\n', ""),
            &shell::base64(script.as_bytes()).replace('\n', ""),
        );
        let e = eval("backup", PG, &probe);
        assert_eq!(e.diff.action(), Action::Update);
        assert!(e.diff.attrs.is_empty(), "{:?}", e.diff.attrs);
        assert!(
            e.diff
                .reason
                .unwrap()
                .contains("differs from the one keel generates")
        );
        assert!(e.diff.content.unwrap().before.unwrap().contains("hacked"));
    }

    #[test]
    fn refuses_non_directory_destination() {
        let probe = installed(PG, ENTRY).replace("dest=dir\n", "dest=other\n");
        let e = eval("backup", PG, &probe);
        assert_eq!(e.diff.action(), Action::Update);
        assert!(e.commands[0].summary.starts_with("refuse:"));
        let out = run_local(&e.commands[0].script);
        assert_ne!(out.status, 0);
        assert!(out.stderr.contains("not a directory"));
    }

    #[test]
    fn cron_not_installed_yet_is_known_after_apply() {
        let e = eval(
            "backup",
            PG,
            "crontab=uninstalled\nscript=absent\ndest=absent\n",
        );
        assert_eq!(e.diff.action(), Action::Create);
        assert!(
            e.diff
                .unknown
                .unwrap()
                .contains("cron is not installed yet")
        );
    }

    #[test]
    fn removal() {
        let yaml = "name: database\nstate: absent\n";
        let probe = format!(
            "{}script=file\nscript_stat=700:root:root\nscript_b64=eA==\n",
            crontab_line(&format!("# hand\n1 1 * * * x\n{ENTRY}"))
        );
        let e = eval("backup", yaml, &probe);
        assert_eq!(e.diff.action(), Action::Delete);
        assert_eq!(
            e.diff.reason.as_deref(),
            Some("the backups already made are kept")
        );
        assert_eq!(e.diff.content.unwrap().after, "# hand\n1 1 * * * x\n");
        let summaries: Vec<&str> = e.commands.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            summaries,
            vec![
                "remove backup `database` from root's crontab",
                "remove /usr/local/lib/keel/backup-database"
            ]
        );
        let e = eval("backup", yaml, "crontab=none\nscript=absent\n");
        assert_eq!(e.diff, Diff::noop().reason("not installed"));
    }

    #[test]
    fn odd_probe_outputs() {
        let r = load("backup", PG);
        assert!(r.evaluate(&ProbeOutput::ok("")).is_err());
        assert!(
            r.evaluate(&ProbeOutput::ok(
                "crontab=none\nscript=weird\ndest=absent\n"
            ))
            .is_err()
        );
        assert!(
            r.evaluate(&ProbeOutput::ok(
                "crontab=none\nscript=file\nscript_stat=garbage\ndest=absent\n"
            ))
            .is_err()
        );
        // A script that is not UTF-8 is read lossily and rewritten.
        let e = r
            .evaluate(&ProbeOutput::ok(
                "crontab=none\nscript=file\nscript_stat=700:root:root\nscript_b64=/w==\ndest=absent\n",
            ))
            .unwrap();
        assert_eq!(e.diff.action(), Action::Update);
    }

    #[test]
    fn validation_errors() {
        let files = "name: up\nschedule: \"@daily\"\ntype: files\nsource: /srv/up\ndestination: /backup/up\n";
        assert!(try_load("backup", files).is_ok());
        assert!(try_load("backup", PG).is_ok());
        for (yaml, want) in [
            (
                PG.replace("0 2 * * *", "0 25 * * *"),
                "hour 25 is out of range 0–23",
            ),
            (
                PG.replace("name: database", "name: \"../x\""),
                "not a usable backup name",
            ),
            (
                PG.replace("name: database", "name: \"a b\""),
                "not a usable backup name",
            ),
            (
                PG.replace("retention_days: 7", "retention_days: 0"),
                "not a number of days",
            ),
            (
                PG.replace("retention_days: 7", "retention_days: seven"),
                "not a number of days",
            ),
            (
                PG.replace("/backup/database", "backup"),
                "not an absolute path",
            ),
            (PG.replace("/backup/database", "/"), "cannot be managed"),
            (
                PG.replace("database: ai_platform\n", ""),
                "needs a `database`",
            ),
            (
                PG.replace("ai_platform", "\"x; rm -rf /\""),
                "not a usable database name",
            ),
            (
                PG.replace("ai_platform", "-x"),
                "not a usable database name",
            ),
            (
                format!("{PG}source: /x\n"),
                "`source` is not used by a `postgres` backup",
            ),
            (format!("{PG}compose_service: db\n"), "needs `compose_file`"),
            (
                format!("{PG}compose_file: /srv/c.yml\n"),
                "needs `compose_service`",
            ),
            (
                format!("{PG}compose_file: c.yml\ncompose_service: db\n"),
                "not an absolute path",
            ),
            (format!("{PG}db_user: \"a b\"\n"), "not a usable user name"),
            (format!("{PG}offsite: \"a\\nb\"\n"), "one command line"),
            (PG.replace("type: postgres\n", ""), "needs a `type`"),
            (PG.replace("type: postgres", "type: mysql"), "mysql"),
            (
                PG.replace("schedule: \"0 2 * * *\"\n", ""),
                "needs a `schedule`",
            ),
            (
                PG.replace("destination: /backup/database\n", ""),
                "needs a `destination`",
            ),
            (files.replace("source: /srv/up\n", ""), "needs a `source`"),
            (files.replace("/backup/up", "/srv/up/backup"), "overlap"),
            (files.replace("/srv/up", "/backup"), "overlap"),
            (
                "name: c\nschedule: \"@daily\"\ntype: config\ndestination: /b\n".into(),
                "needs `paths`",
            ),
            (
                "name: c\nschedule: \"@daily\"\ntype: config\ndestination: /b\npaths: [rel]\n"
                    .into(),
                "not an absolute path",
            ),
            (
                "name: c\nstate: absent\ndestination: /b\n".into(),
                "no effect with `state: absent`",
            ),
            (format!("{PG}colour: red\n"), "colour"),
        ] {
            let e = try_load("backup", &yaml).unwrap_err();
            assert!(e.contains(want), "{yaml}: {e}");
        }
    }

    #[test]
    fn links() {
        let r = load("backup", PG);
        assert_eq!(
            r.links().needs,
            vec![Ref::Package("cron".into()), Ref::Path("/backup".into())]
        );
        let r = load(
            "backup",
            "name: up\nschedule: \"@daily\"\ntype: files\nsource: /srv/up\ndestination: /backup/up\n",
        );
        assert_eq!(
            r.links().needs,
            vec![
                Ref::Package("cron".into()),
                Ref::Package("rsync".into()),
                Ref::Path("/backup".into())
            ]
        );
    }

    #[test]
    fn scripts_parse_and_quote_everything() {
        let hostile = "/srv/it's $(touch pwned) `x`; a";
        for yaml in [
            PG.to_string(),
            format!(
                "{PG}compose_service: db\ncompose_file: {}\ndb_user: app\noffsite: \"echo it's done; true\"\n",
                serde_json::to_string(hostile).unwrap()
            ),
            format!(
                "name: up\nschedule: \"@daily\"\ntype: files\nsource: {}\ndestination: /b\n",
                serde_json::to_string(hostile).unwrap()
            ),
            format!(
                "name: c\nschedule: \"@daily\"\ntype: config\ndestination: /b\npaths: [{}, /etc/x]\n",
                serde_json::to_string(hostile).unwrap()
            ),
        ] {
            let r = try_load("backup", &yaml).unwrap();
            drop(r);
            let script = script_of(&yaml);
            let out = run_local(&format!("sh -n <<'EOF'\n{script}\nEOF\n"));
            assert_eq!(out.status, 0, "{yaml}: {}\n{script}", out.stderr);
            if yaml.contains("pwned") {
                assert!(script.contains(&q(hostile)), "{script}");
            }
        }
        let s = script_of(&format!(
            "{PG}compose_service: db\ncompose_file: /srv/app/c.yml\n"
        ));
        assert!(
            s.contains("dc -f /srv/app/c.yml exec -T db pg_dump -U postgres ai_platform"),
            "{s}"
        );
    }

    // --- Running the generated scripts locally (as root, in a temp dir).

    fn is_root() -> bool {
        run_local("id -u").stdout.trim() == "0"
    }

    /// Run a script with a fake bin directory first in its PATH.
    fn run_script(script: &str, fake_bin: &Path) -> ProbeOutput {
        let script = script.replacen(
            "PATH=/usr/local/sbin",
            &format!("PATH={}:/usr/local/sbin", fake_bin.display()),
            1,
        );
        run_local(&script)
    }

    fn fake(bin: &Path, name: &str, body: &str) {
        std::fs::create_dir_all(bin).unwrap();
        let p = bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn ls(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|r| {
                r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn postgres_script_runs_checks_status_and_expires() {
        assert!(
            is_root(),
            "this test needs root (/run/lock, chown): run the suite as root, as .ci/run does"
        );
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        let dest = t.path().join("dest it's");
        // runuser: run what follows `--`; pg_dump: print or fail.
        fake(
            &bin,
            "runuser",
            "while [ \"$1\" != -- ]; do shift; done; shift; exec \"$@\"",
        );
        fake(
            &bin,
            "pg_dump",
            "if [ -e \"$FAIL_DUMP\" ]; then echo 'pg_dump: error: connection failed' >&2; echo partial; exit 1; fi; echo \"-- dump of $1\"",
        );
        let name = format!("t{}", std::process::id());
        let yaml = format!(
            "name: {name}\nschedule: \"@daily\"\ntype: postgres\ndatabase: app_db\ndestination: {}\nretention_days: 3\noffsite: \"echo \\\"$KEEL_BACKUP_FILE\\\" > {}/offsite\"\n",
            serde_json::to_string(dest.to_str().unwrap()).unwrap(),
            t.path().display()
        );
        try_load("backup", &yaml).unwrap();
        let script = script_of(&yaml);
        // An old backup and an old unrelated file.
        std::fs::create_dir_all(&dest).unwrap();
        let old = dest.join(format!("{name}_backup_20000101_000000.sql.gz"));
        std::fs::write(&old, "old").unwrap();
        std::fs::write(dest.join("keep-me"), "x").unwrap();
        run_local(&format!(
            "touch -d '10 days ago' {} {}",
            q(old.to_str().unwrap()),
            q(dest.join("keep-me").to_str().unwrap())
        ));
        // A failing dump: no artifact, the old one kept, exit non-zero.
        let flag = t.path().join("fail");
        std::fs::write(&flag, "").unwrap();
        let out = run_script(
            &format!(
                "FAIL_DUMP={}\nexport FAIL_DUMP\n{script}",
                q(flag.to_str().unwrap())
            ),
            &bin,
        );
        assert_eq!(out.status, 1, "{}", out.stderr);
        assert!(
            out.stderr.contains("pg_dump exited with status 1"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("connection failed"), "{}", out.stderr);
        assert_eq!(ls(&dest).len(), 2, "{:?}", ls(&dest));
        assert!(old.exists());
        // A good dump: one artifact, gzip-valid, the old one expired.
        let out = run_script(&script, &bin);
        assert_eq!(out.status, 0, "{}", out.stderr);
        let files = ls(&dest);
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(files.contains(&"keep-me".to_string()));
        let art = files.iter().find(|f| f.ends_with(".sql.gz")).unwrap();
        assert!(art.starts_with(&format!("{name}_backup_")));
        let art = dest.join(art);
        let out2 = run_local(&format!("gzip -dc {}", q(art.to_str().unwrap())));
        assert_eq!(out2.stdout, "-- dump of app_db\n");
        assert!(!old.exists());
        assert!(out.stderr.contains("older than 3 days"), "{}", out.stderr);
        assert_eq!(
            std::fs::read_to_string(t.path().join("offsite")).unwrap(),
            format!("{}\n", art.display())
        );
        // A held lock: the second run refuses.
        let out = run_local(&format!(
            "flock -n /run/lock/keel-backup-{name}.lock sh -c {}",
            q(&format!(
                "PATH={}:$PATH sh -s <<'EOF'\n{script}\nEOF\n",
                bin.display()
            ))
        ));
        assert_eq!(out.status, 1);
        assert!(out.stderr.contains("still holds"), "{}", out.stderr);
        let _ = std::fs::remove_file(format!("/run/lock/keel-backup-{name}.lock"));
    }

    #[test]
    fn config_script_archives_existing_paths() {
        assert!(
            is_root(),
            "this test needs root (/run/lock, chown): run the suite as root, as .ci/run does"
        );
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src $(x)");
        std::fs::create_dir_all(src.join("nginx")).unwrap();
        std::fs::write(src.join("nginx/site.conf"), "server {}\n").unwrap();
        std::fs::write(src.join(".env"), "A=1\n").unwrap();
        let dest = t.path().join("dest");
        let name = format!("c{}", std::process::id());
        let p = |s: &str| serde_json::to_string(src.join(s).to_str().unwrap()).unwrap();
        let yaml = format!(
            "name: {name}\nschedule: \"@daily\"\ntype: config\ndestination: {}\npaths: [{}, {}, {}]\n",
            dest.display(),
            p(".env"),
            p("nginx"),
            p("missing")
        );
        try_load("backup", &yaml).unwrap();
        let out = run_script(&script_of(&yaml), &t.path().join("bin"));
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert!(out.stderr.contains("skipping"), "{}", out.stderr);
        let files = ls(&dest);
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].starts_with("config_") && files[0].ends_with(".tar.gz"));
        let list = run_local(&format!(
            "tar -tzf {}",
            q(dest.join(&files[0]).to_str().unwrap())
        ));
        assert_eq!(list.status, 0);
        let rel = src.to_str().unwrap().trim_start_matches('/');
        assert!(
            list.stdout.contains(&format!("{rel}/.env")),
            "{}",
            list.stdout
        );
        assert!(
            list.stdout.contains(&format!("{rel}/nginx/site.conf")),
            "{}",
            list.stdout
        );
        // None of the paths: fails, nothing written.
        let yaml = format!(
            "name: {name}\nschedule: \"@daily\"\ntype: config\ndestination: {}\npaths: [{}]\n",
            dest.display(),
            p("missing")
        );
        let out = run_script(&script_of(&yaml), &t.path().join("bin"));
        assert_eq!(out.status, 1);
        assert!(
            out.stderr.contains("none of the paths exist"),
            "{}",
            out.stderr
        );
        assert_eq!(ls(&dest).len(), 1);
        let _ = std::fs::remove_file(format!("/run/lock/keel-backup-{name}.lock"));
    }
}

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
//! keeps its position); a new one is appended at the end; `state: absent`
//! removes it. Two blocks with the same marker (a copy made by hand) are
//! merged back into one.
//!
//! Several `cron` resources (and `backup`, which reuses this code) edit the
//! same crontab, so the apply script never writes a crontab computed at
//! plan time: it reads the crontab again (`crontab -l`), replaces only its
//! own block with a small line-by-line `sh` loop, and installs the result
//! through a temporary file with `crontab FILE` — which checks the whole
//! file and refuses a broken one, leaving the installed crontab untouched.
//! The same edit is implemented in Rust ([`edit_crontab`]) to show the
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

use super::file::State;
use super::group::valid_name;
use super::*;
use crate::shell::{self, q};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One keel-owned entry of a user's crontab.
#[derive(Debug, serde::Deserialize)]
#[derive(schemars::JsonSchema)]
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

// ---------------------------------------------------------------------------
// Schedules.

/// The fields of a schedule: name, range, names allowed.
const FIELDS: [(&str, u32, u32, &[&str]); 5] = [
    ("minute", 0, 59, &[]),
    ("hour", 0, 23, &[]),
    ("day of month", 1, 31, &[]),
    (
        "month",
        1,
        12,
        &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
    ),
    (
        "day of week",
        0,
        7,
        &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    ),
];

/// The `@` keywords Debian's cron understands.
const KEYWORDS: [&str; 8] = [
    "@reboot",
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// The help shown with any schedule error.
pub(crate) const SCHEDULE_HELP: &str = "fields: minute hour day-of-month month day-of-week, each `*`, a number, a range `1-5`, a list `1,15` or a step `*/10`; e.g. \"0 2 * * *\" (daily at 02:00) or \"*/15 9-17 * * mon-fri\"; or @hourly, @daily, @weekly, @monthly, @yearly, @reboot";

/// Check a schedule; returns it normalized (fields separated by one space).
pub(crate) fn check_schedule(schedule: &str) -> Result<String, String> {
    let s = schedule.trim();
    if s.is_empty() {
        return Err("the schedule is empty".into());
    }
    if s.starts_with('@') {
        if KEYWORDS.contains(&s) {
            return Ok(s.to_string());
        }
        return Err(format!("`{s}` is not a cron keyword"));
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        let extra = if fields.len() == 6 {
            " (cron has no seconds field, and the command goes in `command:`)"
        } else {
            ""
        };
        return Err(format!(
            "a schedule has 5 fields (minute hour day-of-month month day-of-week), `{s}` has {}{extra}",
            fields.len()
        ));
    }
    for (text, field) in fields.iter().zip(FIELDS) {
        check_field(text, field)?;
    }
    Ok(fields.join(" "))
}

/// Check one field of a schedule.
fn check_field(text: &str, (what, lo, hi, names): (&str, u32, u32, &[&str])) -> Result<(), String> {
    let number = |t: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(t)) {
            // Months count from 1, days of the week from 0.
            return Ok(i as u32 + lo);
        }
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            let allowed = if names.is_empty() {
                format!("a number {lo}–{hi}")
            } else {
                format!(
                    "a number {lo}–{hi} or a name {}–{}",
                    names[0],
                    names[names.len() - 1]
                )
            };
            return Err(format!("{what} `{t}` is not {allowed}"));
        }
        match t.parse::<u32>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(n),
            _ => Err(format!("{what} {t} is out of range {lo}–{hi}")),
        }
    };
    for item in text.split(',') {
        if item.is_empty() {
            return Err(format!(
                "the {what} field `{text}` has an empty item in its list"
            ));
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let ranged = if range == "*" {
            true
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(format!(
                    "the {what} range `{range}` goes backwards (cron does not wrap around: write `{range_a}-{hi},{lo}-{range_b}`)",
                    range_a = range.split_once('-').map_or("", |x| x.0),
                    range_b = range.split_once('-').map_or("", |x| x.1),
                ));
            }
            true
        } else {
            number(range)?;
            false
        };
        if let Some(step) = step {
            if !ranged {
                return Err(format!(
                    "{what} `{item}`: a step applies to `*` or to a range (write `*/{step}` or `{range}-{hi}/{step}`)"
                ));
            }
            match step.parse::<u32>() {
                Ok(n) if n >= 1 && n <= hi.max(1) => {}
                _ => {
                    return Err(format!(
                        "the {what} step `{step}` in `{item}` is not a number 1–{}",
                        hi.max(1)
                    ));
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Names and variables.

/// Check the name of an owned entry (it is written in the marker line).
pub(crate) fn check_entry_name(field: &'static str, name: &str) -> Option<Invalid> {
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

/// Whether `name` is a portable environment variable name.
fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A variable line as cron reads it back: bare when the value is plain,
/// otherwise in the quotes it does not contain. `None` when it cannot be
/// written (newlines, spaces at either end, or both quotes in a value that
/// needs quoting).
fn env_line(name: &str, value: &str) -> Option<String> {
    // Debian's cron trims a value's ends even inside quotes.
    if value.contains(['\n', '\r', '\0']) || value.trim_matches([' ', '\t']) != value {
        return None;
    }
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:@,+-=~%".contains(&b));
    if plain {
        Some(format!("{name}={value}"))
    } else if !value.contains('"') {
        Some(format!("{name}=\"{value}\""))
    } else if !value.contains('\'') {
        Some(format!("{name}='{value}'"))
    } else {
        None
    }
}

/// Parse a crontab line as a variable line: `NAME = value`, quotes removed.
fn parse_env_line(line: &str) -> Option<(String, String)> {
    let (name, value) = line.split_once('=')?;
    let name = name.trim_matches([' ', '\t']);
    if !valid_env_name(name) {
        return None;
    }
    let v = value.trim_matches([' ', '\t']);
    let b = v.as_bytes();
    let v = if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &v[1..v.len() - 1]
    } else {
        v
    };
    Some((name.to_string(), v.to_string()))
}

// ---------------------------------------------------------------------------
// Crontab blocks (shared with `backup`).

/// An entry as keel writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Normalized schedule.
    pub schedule: String,
    pub command: String,
    pub env: Vec<(String, String)>,
}

impl Entry {
    /// The block's lines, marker first, each ending with a newline.
    pub(crate) fn block(&self, mark: &str) -> String {
        let mut s = format!("{}\n", marker(mark));
        for (k, v) in &self.env {
            // Unwritable values are rejected by `check()`.
            if let Some(l) = env_line(k, v) {
                let _ = writeln!(s, "{l}");
            }
        }
        let _ = writeln!(s, "{} {}", self.schedule, self.command.trim());
        s
    }
}

/// The marker line of an owned entry.
pub(crate) fn marker(mark: &str) -> String {
    format!("# keel: {mark}")
}

/// An owned block found in a crontab.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Found {
    pub env: Vec<(String, String)>,
    /// The job line split into schedule and command (`None`: the marker is
    /// not followed by a job line).
    pub job: Option<(String, String)>,
}

/// What a crontab line is, as both the Rust and the shell editors see it.
#[derive(Debug, PartialEq, Eq)]
enum LineKind {
    Marker,
    Env,
    /// Blank or a comment.
    Other,
    Job,
}

fn classify(line: &str, mark_line: &str) -> LineKind {
    if line == mark_line {
        return LineKind::Marker;
    }
    let t = line.trim_start_matches([' ', '\t']);
    if t.is_empty() || t.starts_with('#') {
        return LineKind::Other;
    }
    if parse_env_line(line).is_some() {
        return LineKind::Env;
    }
    LineKind::Job
}

/// The lines of a text as `read` sees them (a last line without newline
/// counts; no `\r` stripping).
fn lines_of(text: &str) -> Vec<&str> {
    let mut v: Vec<&str> = text.split('\n').collect();
    if text.is_empty() || text.ends_with('\n') {
        v.pop();
    }
    v
}

/// Split a job line into its schedule (normalized) and command.
fn split_job(line: &str) -> (String, String) {
    let t = line.trim_matches([' ', '\t']);
    let n = if t.starts_with('@') { 1 } else { 5 };
    let mut rest = t;
    let mut fields = Vec::new();
    for _ in 0..n {
        rest = rest.trim_start_matches([' ', '\t']);
        let end = rest.find([' ', '\t']).unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        fields.push(&rest[..end]);
        rest = &rest[end..];
    }
    (fields.join(" "), rest.trim_matches([' ', '\t']).to_string())
}

/// Every block marked `# keel: MARK` in a crontab.
pub(crate) fn find_blocks(text: &str, mark: &str) -> Vec<Found> {
    let mark_line = marker(mark);
    let mut found: Vec<Found> = Vec::new();
    let mut inside = false;
    for line in lines_of(text) {
        match classify(line, &mark_line) {
            LineKind::Marker => {
                found.push(Found::default());
                inside = true;
            }
            LineKind::Env if inside => {
                if let (Some(f), Some(kv)) = (found.last_mut(), parse_env_line(line)) {
                    f.env.push(kv);
                }
            }
            LineKind::Job if inside => {
                if let Some(f) = found.last_mut() {
                    f.job = Some(split_job(line));
                }
                inside = false;
            }
            _ => inside = false,
        }
    }
    found
}

/// The crontab after replacing every block marked `MARK` by `block` (at the
/// first block's place, or appended), or removing them (`None`). Mirrors
/// the shell loop of [`edit_script`].
pub(crate) fn edit_crontab(text: &str, mark: &str, block: Option<&str>) -> String {
    let mark_line = marker(mark);
    let mut out = String::new();
    let mut inside = false;
    let mut placed = false;
    for line in lines_of(text) {
        let kind = classify(line, &mark_line);
        if kind == LineKind::Marker {
            if !placed && let Some(b) = block {
                out.push_str(b);
            }
            placed = true;
            inside = true;
            continue;
        }
        if inside {
            match kind {
                LineKind::Env => continue,
                LineKind::Job => {
                    inside = false;
                    continue;
                }
                _ => inside = false,
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    if !placed && let Some(b) = block {
        out.push_str(b);
    }
    out
}

/// The live state of a user's crontab.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrontabFact {
    /// `crontab` is not installed (yet).
    pub cron_missing: bool,
    /// The user does not exist (yet).
    pub user_missing: bool,
    /// The crontab as `crontab -l` prints it; `None` when the user has none.
    pub text: Option<String>,
}

/// Shell defining `keel_ct`: `crontab` for `user` (without `-u` when the
/// script already runs as that user, which non-root users need).
fn crontab_fn(user: &str) -> String {
    format!(
        "keel_u={}\nif [ \"$(id -un)\" = \"$keel_u\" ]; then keel_ct() {{ crontab \"$@\"; }}; else keel_ct() {{ crontab -u \"$keel_u\" \"$@\"; }}; fi\n",
        q(user)
    )
}

/// A read-only probe printing `crontab=uninstalled|nouser|none|present|error`
/// and, when present, `crontab_b64=` with the crontab on one line.
pub(crate) fn crontab_probe(user: &str) -> String {
    let mut s = crontab_fn(user);
    s.push_str(
        r#"if ! command -v crontab >/dev/null 2>&1; then
  echo crontab=uninstalled
elif ! id -u "$keel_u" >/dev/null 2>&1; then
  echo crontab=nouser
elif keel_ct -l >/dev/null 2>&1; then
  echo crontab=present
  printf 'crontab_b64='
  keel_ct -l | base64 -w 0
  echo
else
  keel_err=$(keel_ct -l 2>&1 >/dev/null)
  case $keel_err in
    "no crontab for "*) echo crontab=none ;;
    *) echo crontab=error; printf '%s\n' "$keel_err" >&2 ;;
  esac
fi
"#,
    );
    s
}

/// Parse what [`crontab_probe`] printed.
pub(crate) fn parse_crontab(out: &ProbeOutput) -> Result<CrontabFact, String> {
    let text = &out.stdout;
    match kv(text, "crontab").map(str::trim) {
        Some("uninstalled") => Ok(CrontabFact {
            cron_missing: true,
            ..CrontabFact::default()
        }),
        Some("nouser") => Ok(CrontabFact {
            user_missing: true,
            ..CrontabFact::default()
        }),
        Some("none") => Ok(CrontabFact::default()),
        Some("present") => {
            let b64 = kv(text, "crontab_b64").unwrap_or_default();
            let data = shell::unbase64(b64).map_err(|e| format!("crontab content: {e}"))?;
            let text = String::from_utf8(data)
                .map_err(|_| "the crontab is not valid UTF-8 text".to_string())?;
            Ok(CrontabFact {
                text: Some(text),
                ..CrontabFact::default()
            })
        }
        Some("error") => Err(format!(
            "cannot read the crontab: {}",
            out.stderr
                .trim()
                .lines()
                .last()
                .unwrap_or("crontab -l failed")
        )),
        Some(v) => Err(format!("unexpected `crontab={v}` in the probe")),
        None => Err(super::group::probe_failure("crontab", out)),
    }
}

/// The apply script: read the crontab again, replace (or remove) the block
/// marked `MARK` with a line-by-line loop, and install the result through a
/// temporary file when it changed. Never writes plan-time content.
pub(crate) fn edit_script(user: &str, mark: &str, block: Option<&str>) -> String {
    let mut s = crontab_fn(user);
    s.push_str(&shell::private_dir("keel_d"));
    s.push_str(
        r#"trap 'rm -rf "$keel_d"' EXIT
if ! keel_ct -l > "$keel_d/old" 2> "$keel_d/err"; then
  if grep -q '^no crontab for ' "$keel_d/err"; then : > "$keel_d/old"; else cat "$keel_d/err" >&2; exit 1; fi
fi
"#,
    );
    match block {
        Some(b) => s.push_str(&shell::write_data("\"$keel_d/block\"", b.as_bytes())),
        None => s.push_str(": > \"$keel_d/block\"\n"),
    }
    let _ = writeln!(s, "keel_mark={}", q(&marker(mark)));
    s.push_str(
        r#"keel_in=0
keel_placed=0
while IFS= read -r keel_l || [ -n "$keel_l" ]; do
  if [ "$keel_l" = "$keel_mark" ]; then
    [ "$keel_placed" = 1 ] || cat "$keel_d/block"
    keel_placed=1
    keel_in=1
    continue
  fi
  keel_t=${keel_l#"${keel_l%%[!	 ]*}"}
  case $keel_t in
    ''|'#'*) keel_kind=other ;;
    *=*)
      keel_n=${keel_l%%=*}
      keel_n=${keel_n#"${keel_n%%[!	 ]*}"}
      keel_n=${keel_n%"${keel_n##*[!	 ]}"}
      case $keel_n in
        [A-Za-z_]*) case $keel_n in *[!A-Za-z0-9_]*) keel_kind=job ;; *) keel_kind=env ;; esac ;;
        *) keel_kind=job ;;
      esac ;;
    *) keel_kind=job ;;
  esac
  if [ "$keel_in" = 1 ]; then
    keel_in=0
    case $keel_kind in
      env) keel_in=1; continue ;;
      job) continue ;;
    esac
  fi
  printf '%s\n' "$keel_l"
done < "$keel_d/old" > "$keel_d/new"
[ "$keel_placed" = 1 ] || cat "$keel_d/block" >> "$keel_d/new"
if ! cmp -s "$keel_d/old" "$keel_d/new"; then
  keel_ct "$keel_d/new"
fi
rm -rf "$keel_d"
trap - EXIT
"#,
    );
    s
}

/// The plan for one owned entry of a crontab: diff and commands together,
/// so they always agree. `desired` is `None` for removal. `what` names the
/// entry in summaries ("cron entry `x`").
pub(crate) fn plan_entry(
    user: &str,
    mark: &str,
    desired: Option<&Entry>,
    fact: &CrontabFact,
    what: &str,
) -> (Diff, Vec<Cmd>) {
    let Some(want) = desired else {
        if fact.cron_missing {
            return (Diff::noop().reason("cron is not installed"), vec![]);
        }
        if fact.user_missing {
            return (
                Diff::noop().reason(format!("user `{user}` does not exist")),
                vec![],
            );
        }
        let text = fact.text.as_deref().unwrap_or_default();
        let found = find_blocks(text, mark);
        if found.is_empty() {
            return (
                Diff::noop().reason(format!("no entry marked `{}`", marker(mark))),
                vec![],
            );
        }
        let mut diff = Diff::with_action(Action::Delete);
        if let Some(f) = found.first() {
            diff.attrs.extend(entry_attrs(Some(f), None));
        }
        diff.content = Some(ContentChange {
            before: Some(text.to_string()),
            after: edit_crontab(text, mark, None),
        });
        let cmd = Cmd::new(
            format!("remove {what} from {user}'s crontab"),
            edit_script(user, mark, None),
        );
        return (diff, vec![cmd]);
    };
    let block = want.block(mark);
    let cmd = |verb: &str| {
        Cmd::new(
            format!("{verb} {what} in {user}'s crontab ({})", want.schedule),
            edit_script(user, mark, Some(&block)),
        )
    };
    if fact.cron_missing || fact.user_missing {
        let mut diff = Diff::with_action(Action::Create);
        diff.attrs.extend(entry_attrs(None, Some(want)));
        diff.content = Some(ContentChange {
            before: None,
            after: block.clone(),
        });
        diff.unknown = Some(if fact.cron_missing {
            "cron is not installed yet (no `crontab` command): the crontab cannot be read".into()
        } else {
            format!("user `{user}` does not exist yet: the crontab cannot be read")
        });
        return (diff, vec![cmd("add")]);
    }
    let text = fact.text.as_deref().unwrap_or_default();
    let found = find_blocks(text, mark);
    let after = edit_crontab(text, mark, Some(&block));
    let content = ContentChange {
        before: fact.text.clone(),
        after: after.clone(),
    };
    let env_note = (!want.env.is_empty()).then(|| {
        "cron applies the variable lines to every line below them in the crontab".to_string()
    });
    let Some(first) = found.first() else {
        let mut diff = Diff::with_action(Action::Create);
        diff.attrs.extend(entry_attrs(None, Some(want)));
        diff.content = Some(content);
        diff.reason = env_note;
        return (diff, vec![cmd("add")]);
    };
    let attrs = entry_attrs(Some(first), Some(want));
    if found.len() == 1 && attrs.is_empty() && after == text {
        return (Diff::noop(), vec![]);
    }
    let mut diff = Diff::with_action(Action::Update);
    diff.attrs = attrs;
    if found.len() > 1 {
        diff.reason = Some(format!(
            "{} entries are marked `{}`; keel keeps one",
            found.len(),
            marker(mark)
        ));
    } else if first.job.is_none() {
        diff.reason = Some(format!(
            "the marker `{}` is not followed by a job line",
            marker(mark)
        ));
    } else if diff.attrs.iter().any(|a| a.name.starts_with("env ")) {
        diff.reason = env_note;
    }
    diff.content = Some(content);
    (diff, vec![cmd("update")])
}

/// Attribute changes between a found block and the desired entry.
fn entry_attrs(have: Option<&Found>, want: Option<&Entry>) -> Vec<AttrChange> {
    let quoted = |s: &str| format!("\"{s}\"");
    let mut v = Vec::new();
    let (hs, hc) = match have.and_then(|f| f.job.as_ref()) {
        Some((s, c)) => (Some(s.as_str()), Some(c.as_str())),
        None => (None, None),
    };
    let ws = want.map(|w| w.schedule.as_str());
    let wc = want.map(|w| w.command.trim());
    if hs != ws {
        v.push(AttrChange::new("schedule", hs.map(quoted), ws.map(quoted)));
    }
    if hc != wc {
        v.push(AttrChange::new("command", hc, wc));
    }
    let henv: BTreeMap<&str, &str> = have
        .map(|f| {
            f.env
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let wenv: BTreeMap<&str, &str> = want
        .map(|w| {
            w.env
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let keys: std::collections::BTreeSet<&str> = henv.keys().chain(wenv.keys()).copied().collect();
    for k in keys {
        let (h, w) = (henv.get(k), wenv.get(k));
        if h != w {
            v.push(AttrChange::new(
                &format!("env {k}"),
                h.map(|s| quoted(s)),
                w.map(|s| quoted(s)),
            ));
        }
    }
    v
}

// ---------------------------------------------------------------------------
// The kind.

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

    fn plan(&self, fact: &CrontabFact) -> (Diff, Vec<Cmd>) {
        plan_entry(
            &self.user,
            &self.name,
            self.entry().as_ref(),
            fact,
            &format!("cron entry `{}`", self.name),
        )
    }
}

/// Check a command for a crontab line.
pub(crate) fn check_command(field: &'static str, command: &str) -> Option<Invalid> {
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
                    errs.push(Invalid::field("schedule", e).help(SCHEDULE_HELP));
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

    fn parse(&self, out: &ProbeOutput) -> Result<CrontabFact, String> {
        parse_crontab(out)
    }

    fn diff(&self, fact: &CrontabFact) -> Diff {
        self.plan(fact).0
    }

    fn commands(&self, fact: &CrontabFact, _diff: &Diff) -> Vec<Cmd> {
        self.plan(fact).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::{eval, load, run_local, try_load};
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
    fn schedules_accepted() {
        for s in [
            "0 2 * * *",
            "*/5 * * * *",
            "0-30/10 8-18 * * mon-fri",
            "0 0 1,15 * *",
            "0 0 * JAN,jul sun",
            "59 23 31 12 7",
            "  0   2 * *   * ",
            "@daily",
            "@reboot",
            "0 0 * * 0-7/2",
            "1-1 * * * *",
        ] {
            assert!(check_schedule(s).is_ok(), "{s}: {:?}", check_schedule(s));
        }
        assert_eq!(check_schedule("  0   2 * *   * ").unwrap(), "0 2 * * *");
    }

    #[test]
    fn schedule_errors_name_the_field() {
        for (s, want) in [
            ("0 25 * * *", "hour 25 is out of range 0–23"),
            ("60 * * * *", "minute 60 is out of range 0–59"),
            ("0 0 0 * *", "day of month 0 is out of range 1–31"),
            ("0 0 * 13 *", "month 13 is out of range 1–12"),
            ("0 0 * * 8", "day of week 8 is out of range 0–7"),
            (
                "0 0 * foo *",
                "month `foo` is not a number 1–12 or a name jan–dec",
            ),
            (
                "0 0 * * funday",
                "day of week `funday` is not a number 0–7 or a name sun–sat",
            ),
            ("x * * * *", "minute `x` is not a number 0–59"),
            ("0 2 * *", "has 4"),
            ("0 0 2 * * *", "no seconds field"),
            ("@dayly", "`@dayly` is not a cron keyword"),
            ("5/15 * * * *", "a step applies to `*` or to a range"),
            ("*/0 * * * *", "step `0`"),
            ("*/x * * * *", "step `x`"),
            ("0 22-2 * * *", "goes backwards"),
            ("1,,2 * * * *", "empty item"),
            ("0 -1 * * *", "hour `` is not"),
            ("", "empty"),
        ] {
            let e = check_schedule(s).unwrap_err();
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn invalid_schedule_points_at_schedule() {
        let node =
            crate::config::node::Node::parse("name: x\nschedule: \"0 25 * * *\"\ncommand: y\n")
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

    #[test]
    fn env_lines_round_trip() {
        for v in ["", "plain", "a b", "x\"y", "it's", "%$`;", "\"q\""] {
            let l = env_line("V", v).unwrap();
            assert_eq!(parse_env_line(&l), Some(("V".into(), v.into())), "{l}");
        }
        assert_eq!(env_line("V", "'\" x"), None);
        assert_eq!(env_line("V", " lead"), None);
        assert_eq!(env_line("V", "trail\t"), None);
        assert_eq!(parse_env_line("0 2 * * * A=b cmd"), None);
        assert_eq!(parse_env_line("@daily x=1"), None);
    }

    // --- Local runs: a fake `crontab` that stores files in a directory.

    const HOSTILE: &str = "it's \"$(touch pwned)\" `touch pwned2`; rm -rf / \\ $HOME";

    fn fake_crontab(dir: &Path) -> String {
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let store = dir.join("store");
        std::fs::create_dir_all(&store).unwrap();
        let script = format!(
            r#"#!/bin/sh
store={store}
user=$(id -un)
if [ "$1" = -u ]; then user=$2; shift 2; fi
if [ "$1" = -l ]; then
  if [ -f "$store/$user" ]; then cat "$store/$user"; else echo "no crontab for $user" >&2; exit 1; fi
else
  if grep -q 'bad' "$1"; then echo 'errors in crontab file, cannot install.' >&2; exit 1; fi
  cp "$1" "$store/$user"
fi
"#,
            store = q(store.to_str().unwrap())
        );
        let p = bin.join("crontab");
        std::fs::write(&p, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        format!("PATH={}:\"$PATH\"\nexport PATH\n", q(bin.to_str().unwrap()))
    }

    fn me() -> String {
        run_local("id -un").stdout.trim().to_string()
    }

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

    fn stored(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("store").join(me())).unwrap_or_default()
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
    fn shell_edit_matches_rust_edit() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let env = fake_crontab(d);
        let user = me();
        let block = "# keel: m\nA=\"x y\"\n0 2 * * * cmd\n";
        let cases = [
            "",
            "1 1 * * * x\n",
            "1 1 * * * x",
            "# keel: m\n0 3 * * * old\n",
            "# keel: m\n  B = 2\n\tA=1\n 0 3 * * * old\nrest\n",
            "top\n# keel: m\n# keel: m\n0 1 * * * a\n# keel: m\nX=1\n",
            "# keel: m\n\n# keel: mm\n0 0 * * * other\n",
            "# keel: m\nbad-name=1 x\n9 9 * * * y\n",
            "a\\b\n  spaced  \n\t\n# keel: m \n* * * * * $(x) 'q' \"d\"\r\n",
            "# keel: m\n",
        ];
        for text in cases {
            for b in [Some(block), None] {
                std::fs::write(d.join("store").join(&user), text).unwrap();
                let out = run_local(&format!("set -e\n{env}{}", edit_script(&user, "m", b)));
                assert_eq!(out.status, 0, "{text:?}: {}", out.stderr);
                let want = edit_crontab(text, "m", b);
                let got = stored(d);
                // The shell leaves the crontab alone when nothing changed.
                if got != want {
                    assert_eq!(got, text, "{text:?} {b:?}: rust {want:?}");
                    assert_eq!(
                        want.trim_end_matches('\n'),
                        text.trim_end_matches('\n'),
                        "{text:?}"
                    );
                }
            }
        }
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

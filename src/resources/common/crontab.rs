//! Crontab blocks owned by keel: schedules, the marked block of one entry,
//! the probe of a user's crontab and the script that edits it (shared by
//! `cron` and `backup`).

use super::super::*;
use super::script::valid_env_name;
use crate::shell::{self, Script};
use std::collections::BTreeMap;
use std::fmt::Write as _;

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

/// Why a schedule is not one cron accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadSchedule(String);

impl From<String> for BadSchedule {
    fn from(message: String) -> Self {
        BadSchedule(message)
    }
}

/// Check a schedule; returns it normalized (fields separated by one space).
pub(crate) fn check_schedule(schedule: &str) -> Result<String, BadSchedule> {
    let s = schedule.trim();
    if s.is_empty() {
        return Err(BadSchedule("the schedule is empty".into()));
    }
    if s.starts_with('@') {
        if KEYWORDS.contains(&s) {
            return Ok(s.to_string());
        }
        return Err(BadSchedule(format!("`{s}` is not a cron keyword")));
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        let extra = if fields.len() == 6 {
            " (cron has no seconds field, and the command goes in `command:`)"
        } else {
            ""
        };
        return Err(BadSchedule(format!(
            "a schedule has 5 fields (minute hour day-of-month month day-of-week), `{s}` has {}{extra}",
            fields.len()
        )));
    }
    for (text, field) in fields.iter().zip(FIELDS) {
        check_field(text, field)?;
    }
    Ok(fields.join(" "))
}

/// Check one field of a schedule.
fn check_field(
    text: &str,
    (what, lo, hi, names): (&str, u32, u32, &[&str]),
) -> Result<(), BadSchedule> {
    let number = |t: &str| -> Result<u32, BadSchedule> {
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
            return Err(BadSchedule(format!("{what} `{t}` is not {allowed}")));
        }
        match t.parse::<u32>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(n),
            _ => Err(BadSchedule(format!("{what} {t} is out of range {lo}–{hi}"))),
        }
    };
    for item in text.split(',') {
        if item.is_empty() {
            return Err(BadSchedule(format!(
                "the {what} field `{text}` has an empty item in its list"
            )));
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
                return Err(BadSchedule(format!(
                    "the {what} range `{range}` goes backwards (cron does not wrap around: write `{range_a}-{hi},{lo}-{range_b}`)",
                    range_a = range.split_once('-').map_or("", |x| x.0),
                    range_b = range.split_once('-').map_or("", |x| x.1),
                )));
            }
            true
        } else {
            number(range)?;
            false
        };
        if let Some(step) = step {
            if !ranged {
                return Err(BadSchedule(format!(
                    "{what} `{item}`: a step applies to `*` or to a range (write `*/{step}` or `{range}-{hi}/{step}`)"
                )));
            }
            match step.parse::<u32>() {
                Ok(n) if n >= 1 && n <= hi.max(1) => {}
                _ => {
                    return Err(BadSchedule(format!(
                        "the {what} step `{step}` in `{item}` is not a number 1–{}",
                        hi.max(1)
                    )));
                }
            }
        }
    }
    Ok(())
}

/// A variable line as cron reads it back: bare when the value is plain,
/// otherwise in the quotes it does not contain. `None` when it cannot be
/// written (newlines, spaces at either end, or both quotes in a value that
/// needs quoting).
pub(crate) fn env_line(name: &str, value: &str) -> Option<String> {
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
pub(crate) fn parse_env_line(line: &str) -> Option<(String, String)> {
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
    edit_crontab_adopting(text, mark, block, None)
}

/// [`edit_crontab`], where `adopt` (a job line written by hand with the
/// entry's schedule and command, see [`adoptable`]) is replaced by `block`
/// when no marked block comes before it, instead of `block` being appended.
pub(crate) fn edit_crontab_adopting(
    text: &str,
    mark: &str,
    block: Option<&str>,
    adopt: Option<&str>,
) -> String {
    let mark_line = marker(mark);
    let mut out = String::new();
    let mut inside = false;
    let mut placed = false;
    let mut other = false;
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
        if other {
            other = kind == LineKind::Env;
        } else if kind == LineKind::Job
            && !placed
            && let (Some(b), Some(a)) = (block, adopt)
            && !a.is_empty()
            && line == a
        {
            out.push_str(b);
            placed = true;
            continue;
        }
        other |= line.starts_with(OTHER_MARKER);
        out.push_str(line);
        out.push('\n');
    }
    if !placed && let Some(b) = block {
        out.push_str(b);
    }
    out
}

/// How every marker line of keel starts (any entry's).
const OTHER_MARKER: &str = "# keel: ";

/// The first job line of `text`, outside any keel block, that runs `want`
/// (same schedule and command) and that keel can mark in place: `(line
/// number, line)`. Only for an entry without variable lines (cron applies
/// them to every line below, so those are appended at the end instead).
pub(crate) fn adoptable(text: &str, want: &Entry) -> Option<(usize, String)> {
    if !want.env.is_empty() {
        return None;
    }
    let mut other = false;
    for (i, line) in lines_of(text).into_iter().enumerate() {
        // No line is "\n": nothing is taken for a marker of this entry.
        let kind = classify(line, "\n");
        if other {
            other = kind == LineKind::Env;
        } else if kind == LineKind::Job
            && split_job(line) == (want.schedule.clone(), want.command.clone())
        {
            return Some((i + 1, line.to_string()));
        }
        other |= line.starts_with(OTHER_MARKER);
    }
    None
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

/// A read-only probe printing `crontab=uninstalled|nouser|none|present|error`
/// and, when present, `crontab_b64=` with the crontab on one line.
pub(crate) fn crontab_probe(user: &str) -> String {
    Script::new(include_str!("crontab/probe.sh"))
        .set("keel_u", user)
        .render()
}

/// Parse what [`crontab_probe`] printed.
pub(crate) fn parse_crontab(out: &ProbeOutput) -> Result<CrontabFact, FactError> {
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
        Some("error") => Err(FactError::Unexpected(format!(
            "cannot read the crontab: {}",
            out.stderr
                .trim()
                .lines()
                .last()
                .unwrap_or("crontab -l failed")
        ))),
        Some(v) => Err(FactError::Unexpected(format!(
            "unexpected `crontab={v}` in the probe"
        ))),
        None => Err(super::accounts::probe_failure("crontab", out)),
    }
}

/// The apply script: read the crontab again, replace (or remove) the block
/// marked `MARK` with a line-by-line loop, and install the result through a
/// temporary file when it changed. Never writes plan-time content.
pub(crate) fn edit_script(user: &str, mark: &str, block: Option<&str>) -> String {
    edit_script_adopting(user, mark, block, None)
}

/// [`edit_script`], marking the line `adopt` in place (see
/// [`edit_crontab_adopting`]).
pub(crate) fn edit_script_adopting(
    user: &str,
    mark: &str,
    block: Option<&str>,
    adopt: Option<&str>,
) -> String {
    Script::new(include_str!("crontab/edit.sh"))
        .set("keel_u", user)
        .set("keel_mark", marker(mark))
        .set("keel_block", block.unwrap_or_default())
        .set("keel_adopt", adopt.unwrap_or_default())
        .render()
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
) -> Planned {
    let Some(want) = desired else {
        return plan_removal(user, mark, fact, what);
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
        return Planned::new(diff, vec![cmd("add")]);
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
        if let Some(adopted) = plan_adoption(user, mark, want, text, what) {
            return adopted;
        }
        let mut diff = Diff::with_action(Action::Create);
        diff.attrs.extend(entry_attrs(None, Some(want)));
        diff.content = Some(content);
        diff.reason = env_note;
        return Planned::new(diff, vec![cmd("add")]);
    };
    let attrs = entry_attrs(Some(first), Some(want));
    if found.len() == 1 && attrs.is_empty() && after == text {
        return Planned::only(Diff::noop());
    }
    let mut diff = Diff::with_action(Action::Update);
    diff.attrs = attrs;
    diff.reason = if found.len() > 1 {
        Some(format!(
            "{} entries are marked `{}`; keel keeps one",
            found.len(),
            marker(mark)
        ))
    } else if first.job.is_none() {
        Some(format!(
            "the marker `{}` is not followed by a job line",
            marker(mark)
        ))
    } else if env_map(&first.env) != env_map(&want.env) {
        env_note
    } else {
        None
    };
    diff.content = Some(content);
    Planned::new(diff, vec![cmd("update")])
}

/// No block is marked yet but a line written by hand already runs the
/// entry: keel marks that line in place rather than add a second copy (the
/// job would run twice). An update: the entry was there before keel.
fn plan_adoption(user: &str, mark: &str, want: &Entry, text: &str, what: &str) -> Option<Planned> {
    let (n, line) = adoptable(text, want)?;
    let block = want.block(mark);
    let mut diff = Diff::with_action(Action::Update);
    diff.reason = Some(format!(
        "line {n} of {user}'s crontab, written by hand, already runs this schedule and command: \
         keel marks it `{}` in place instead of adding a second copy",
        marker(mark)
    ));
    diff.content = Some(ContentChange {
        before: Some(text.to_string()),
        after: edit_crontab_adopting(text, mark, Some(&block), Some(&line)),
    });
    let cmd = Cmd::new(
        format!("mark {what} (line {n} of {user}'s crontab) as keel's"),
        edit_script_adopting(user, mark, Some(&block), Some(&line)),
    );
    Some(Planned::new(diff, vec![cmd]))
}

/// The plan that removes an owned entry (a no-op when there is none).
fn plan_removal(user: &str, mark: &str, fact: &CrontabFact, what: &str) -> Planned {
    if fact.cron_missing {
        return Planned::only(Diff::noop().reason("cron is not installed"));
    }
    if fact.user_missing {
        return Planned::only(Diff::noop().reason(format!("user `{user}` does not exist")));
    }
    let text = fact.text.as_deref().unwrap_or_default();
    let found = find_blocks(text, mark);
    let Some(first) = found.first() else {
        return Planned::only(Diff::noop().reason(format!("no entry marked `{}`", marker(mark))));
    };
    let mut diff = Diff::with_action(Action::Delete);
    diff.attrs.extend(entry_attrs(Some(first), None));
    diff.content = Some(ContentChange {
        before: Some(text.to_string()),
        after: edit_crontab(text, mark, None),
    });
    let cmd = Cmd::new(
        format!("remove {what} from {user}'s crontab"),
        edit_script(user, mark, None),
    );
    Planned::new(diff, vec![cmd])
}

/// Variable lines as a map (the last of a name wins, as in cron).
fn env_map(env: &[(String, String)]) -> BTreeMap<&str, &str> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
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
    let henv = have.map(|f| env_map(&f.env)).unwrap_or_default();
    let wenv = want.map(|w| env_map(&w.env)).unwrap_or_default();
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

/// A fake `crontab` for local runs: it keeps each user's crontab as a file
/// in a directory, and refuses to install a crontab containing `bad`.
#[cfg(test)]
pub(crate) mod fake {
    use crate::resources::testing::run_local;
    use crate::shell::q;
    use std::path::Path;

    /// Install the fake under `dir`; returns the shell lines that put it
    /// first on the `PATH`.
    pub(crate) fn fake_crontab(dir: &Path) -> String {
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

    /// The user the tests run as.
    pub(crate) fn me() -> String {
        run_local("id -un").stdout.trim().to_string()
    }

    /// The crontab the fake holds for [`me`].
    pub(crate) fn stored(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("store").join(me())).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{fake_crontab, me, stored};
    use super::*;
    use crate::resources::testing::run_local;

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
            let e = check_schedule(s).unwrap_err().to_string();
            assert!(e.contains(want), "{s}: {e}");
        }
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
    fn shell_adoption_matches_rust_adoption() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let env = fake_crontab(d);
        let user = me();
        let block = "# keel: m\n0 2 * * * /bin/job\n";
        let adopt = "0  2 * * * /bin/job";
        let cases = [
            "top\n0  2 * * * /bin/job\nafter\n",
            "# keel: o\n0  2 * * * /bin/job\n0  2 * * * /bin/job\n",
            "# keel: o\nA=1\n0  2 * * * /bin/job\nx\n",
            "# keel: m\n0 1 * * * old\n0  2 * * * /bin/job\n",
            "0  2 * * * /bin/job\n0  2 * * * /bin/job\n",
            "unrelated\n",
        ];
        for text in cases {
            std::fs::write(d.join("store").join(&user), text).unwrap();
            let script = edit_script_adopting(&user, "m", Some(block), Some(adopt));
            let out = run_local(&format!("set -e\n{env}{script}"));
            assert_eq!(out.status, 0, "{text:?}: {}", out.stderr);
            let want = edit_crontab_adopting(text, "m", Some(block), Some(adopt));
            assert_eq!(stored(d), want, "{text:?}");
        }
        // The line is marked where it is; one in another keel block is not.
        assert_eq!(
            edit_crontab_adopting(cases[0], "m", Some(block), Some(adopt)),
            "top\n# keel: m\n0 2 * * * /bin/job\nafter\n"
        );
        assert_eq!(
            edit_crontab_adopting(cases[1], "m", Some(block), Some(adopt)),
            "# keel: o\n0  2 * * * /bin/job\n# keel: m\n0 2 * * * /bin/job\n"
        );
    }

    #[test]
    fn a_hand_written_copy_of_the_entry_is_marked_not_duplicated() {
        let want = Entry {
            schedule: "0 2 * * *".into(),
            command: "/usr/local/bin/backup-db.sh".into(),
            env: Vec::new(),
        };
        let text = "0 2 * * * /usr/local/bin/backup-db.sh\n30 3 * * * find /backup -delete\n";
        let fact = CrontabFact {
            text: Some(text.into()),
            ..CrontabFact::default()
        };
        let p = plan_entry(
            "root",
            "db-backup",
            Some(&want),
            &fact,
            "cron entry `db-backup`",
        );
        assert_eq!(p.diff.action(), Action::Update);
        assert!(
            p.diff
                .reason
                .as_deref()
                .unwrap()
                .contains("line 1 of root's crontab"),
            "{:?}",
            p.diff.reason
        );
        assert_eq!(
            p.diff.content.unwrap().after,
            "# keel: db-backup\n0 2 * * * /usr/local/bin/backup-db.sh\n30 3 * * * find /backup -delete\n"
        );
        // With variable lines (which reach every line below), or another
        // schedule, the entry is added at the end as before.
        for other in [
            Entry {
                env: vec![("MAILTO".into(), String::new())],
                ..want.clone()
            },
            Entry {
                schedule: "0 3 * * *".into(),
                ..want.clone()
            },
        ] {
            let p = plan_entry("root", "db-backup", Some(&other), &fact, "e");
            assert_eq!(p.diff.action(), Action::Create);
        }
    }
}

//! Crontab blocks owned by keel: schedules, the marked block of one entry,
//! the probe of a user's crontab and the script that edits it (shared by
//! `cron` and `backup`).

use super::super::*;
use super::script::valid_env_name;
use crate::shell::{self, q};
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

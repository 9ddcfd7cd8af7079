//! The `line` kind: one line in a text file (like Ansible's `lineinfile`).
//!
//! ```yaml
//! - line:
//!     path: /etc/ssh/sshd_config
//!     match: '^#?PermitRootLogin'     # POSIX ERE, as `grep -E` understands it
//!     line: PermitRootLogin no
//! ```
//!
//! With `state: present` (the default):
//! 1. if `match` is given and some line matches it, the FIRST matching line
//!    is replaced by `line` (nothing happens when it already equals `line`);
//!    other matching lines are left alone;
//! 2. otherwise, if no line equals `line`, `line` is appended (after a
//!    newline if the file does not end with one).
//!
//! `line` itself must match `match`, or the line keel writes would not be
//! found on the next run and a different line would be replaced every time:
//! the probe checks it with grep and the plan refuses otherwise.
//!
//! With `state: absent`, every line matching `match` (if given), or else
//! every line equal to `line`, is removed.
//!
//! A file with CRLF line ends (edited on Windows) stays so: a line equals
//! `line` also with a `\r` before its newline, a replacing line keeps the
//! line end of the line it replaces, and an added line ends in CRLF when
//! the file's first line does.
//!
//! A missing file is an error unless `create: true` (then it is created
//! with mode 0644 and just that line). The plan marks a missing file as
//! "known after apply", since a package installed earlier in the same run
//! may create it.
//!
//! Matching is grep's, not Rust's: the probe prints the numbers of the
//! matching lines (`grep -nE`) and the content (base64, files up to 1 MiB);
//! the plan's new content is computed here from them. The apply script
//! performs the same edit on the host with grep, head and tail at apply
//! time (not a content computed at plan time), so several `line`
//! resources on one file compose: each edits the file as the previous one
//! left it. The edit is atomic (a temporary file in the same directory,
//! with the mode and owner of the original, renamed over it). Symbolic
//! links are refused rather than replaced by a regular file. An edit that
//! would fail is a plan error too ([`probe_obstacle`]): a file where a
//! directory of `path` should be, and, as root, a file or directory on a
//! read-only mount or with `chattr +i`.
//!
//! `mode`, `owner` and `group` (optional) are the file's permissions: given
//! to a created file (default 0644, root), to the edited file, and enforced
//! on an unchanged file (a change of permissions alone is an update).
//!
//! `line` and `match` may hold secrets (`PASSWORD={{secrets.db}}`): they
//! never reach a command line. Both reach grep on its standard input
//! (`grep -f -`), never as arguments, since every process's arguments are
//! readable by every user of the host.

use super::common::State;
use super::common::content::split_content;
use super::common::paths::{
    Accounts, Obstacle, PathType, Stat, Wanted, check_host_path, check_perms, probe_accounts,
    probe_obstacle, refusal,
};
use super::*;
use crate::shell::{self, Perms, Script};
use std::fmt::Write as _;

/// Largest file the `line` kind edits.
pub const EDIT_LIMIT: u64 = 1024 * 1024;

/// A line in a text file.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// Absolute path of the file.
    pub path: String,
    /// The whole line wanted (without newline).
    pub line: Option<String>,
    /// A POSIX extended regular expression selecting the line to replace
    /// (present) or the lines to remove (absent).
    #[serde(rename = "match")]
    pub pattern: Option<String>,
    #[serde(default)]
    pub state: State,
    /// Create the file when it does not exist.
    #[serde(default)]
    pub create: bool,
    /// Octal mode of the file, e.g. "0600".
    pub mode: Option<String>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

/// What grep said about `match` applied to `line`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RegexCheck {
    /// No `match` declared.
    #[default]
    NotProbed,
    /// `line` matches `match`.
    Matches,
    /// `line` does not match `match`.
    NoMatch,
    /// grep rejected the expression (its message).
    Invalid(String),
}

/// The live state of the file a `line` edits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineFact {
    pub path: PathType,
    pub regex: RegexCheck,
    pub unreadable: bool,
    pub too_large: bool,
    /// Content of a regular, readable file up to [`EDIT_LIMIT`].
    pub content: Option<Vec<u8>>,
    /// 1-based numbers of the lines matching `match`, in order.
    pub matches: Vec<usize>,
    /// Mode and ownership of a regular file.
    pub stat: Option<Stat>,
    pub accounts: Accounts,
    /// What would make the edit fail (a file where a parent directory
    /// should be, a read-only mount, `chattr +i`).
    pub obstacle: Obstacle,
}

/// The lines of `data`, each with its `\n` (the last one may lack it).
fn split_lines(data: &[u8]) -> Vec<&[u8]> {
    data.split_inclusive(|&b| b == b'\n').collect()
}

fn body(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// Whether a line of the file is `want`: as written, or with the `\r` of
/// a CRLF line end (a file edited on Windows) after it.
fn is_line(line: &[u8], want: &[u8]) -> bool {
    let b = body(line);
    b == want || b.strip_suffix(b"\r") == Some(want)
}

/// The line end to write after a line that takes the place of `line`, or
/// that is added to a file whose first line is `line`: CRLF when it has
/// one, so a CRLF file stays CRLF.
fn eol_like(line: Option<&&[u8]>) -> &'static [u8] {
    match line {
        Some(l) if body(l).ends_with(b"\r") => b"\r\n",
        _ => b"\n",
    }
}

/// An edit to make, with the new content.
struct Edit {
    new: Vec<u8>,
    summary: String,
}

/// Why the content needs no edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum NoEdit {
    #[error("no line matches")]
    NoneMatches,
    #[error("the line is not there")]
    NotThere,
    #[error("line {0} is as wanted")]
    AsWanted(usize),
    #[error("already present (line {0})")]
    AlreadyPresent(usize),
}

impl Line {
    fn wanted(&self) -> &str {
        self.line.as_deref().unwrap_or_default()
    }

    fn perms_wanted(&self) -> Wanted<'_> {
        Wanted {
            mode: self.mode.as_deref().and_then(|m| normalize_mode(m).ok()),
            owner: self.owner.as_deref(),
            group: self.group.as_deref(),
        }
    }

    fn perms(&self) -> Perms {
        self.perms_wanted().perms(false)
    }

    /// The edit the rules call for on `content`, or why none is needed.
    /// Mirrors [`Line::apply_script`] exactly.
    fn edit(&self, content: &[u8], matches: &[usize]) -> Result<Edit, NoEdit> {
        let lines = split_lines(content);
        let path = &self.path;
        let want = self.wanted().as_bytes();
        // A set: the host may report every line as matching.
        let matching: std::collections::BTreeSet<usize> = matches
            .iter()
            .copied()
            .filter(|&n| n >= 1 && n <= lines.len())
            .collect();
        if self.state == State::Absent {
            let remove = |i: usize, l: &[u8]| match &self.pattern {
                Some(_) => matching.contains(&(i + 1)),
                None => is_line(l, want),
            };
            let mut new = Vec::with_capacity(content.len());
            let mut removed = 0;
            for (i, l) in lines.iter().enumerate() {
                if remove(i, l) {
                    removed += 1;
                } else {
                    new.extend_from_slice(body(l));
                    new.push(b'\n');
                }
            }
            if removed == 0 {
                return Err(match &self.pattern {
                    Some(_) => NoEdit::NoneMatches,
                    None => NoEdit::NotThere,
                });
            }
            let s = if removed == 1 { "" } else { "s" };
            return Ok(Edit {
                new,
                summary: format!("remove {removed} line{s} from {path}"),
            });
        }
        if self.pattern.is_some()
            && let Some(&n) = matching.first()
        {
            if is_line(lines[n - 1], want) {
                return Err(NoEdit::AsWanted(n));
            }
            let mut new = lines[..n - 1].concat();
            new.extend_from_slice(want);
            new.extend_from_slice(eol_like(lines.get(n - 1)));
            new.extend_from_slice(&lines[n..].concat());
            return Ok(Edit {
                new,
                summary: format!("replace line {n} of {path}"),
            });
        }
        if let Some(i) = lines.iter().position(|l| is_line(l, want)) {
            return Err(NoEdit::AlreadyPresent(i + 1));
        }
        let mut new = content.to_vec();
        if new.last().is_some_and(|&b| b != b'\n') {
            new.push(b'\n');
        }
        new.extend_from_slice(want);
        new.extend_from_slice(eol_like(lines.first()));
        Ok(Edit {
            new,
            summary: format!("add a line to {path}"),
        })
    }

    /// The apply-time script: the same edit as [`Line::edit`], done on the
    /// host with grep/head/tail against the file as it is then
    /// (`line/apply.sh`, after the functions that write the file).
    fn apply_script(&self) -> String {
        let perms = self.perms();
        let mut s = atomic_edit_fn(&self.path, &perms);
        if self.create {
            s.push_str("keel_create() {\n");
            s.push_str(&shell::write_file_atomic(
                &self.path,
                format!("{}\n", self.wanted()).as_bytes(),
                &perms,
            ));
            s.push_str("}\n");
        }
        // Unchanged content still gets the declared permissions.
        let _ = writeln!(s, "keel_set_perms() {{\n{}:\n}}", perms.apply_to("\"$p\""));
        s.push_str(
            &Script::new(include_str!("line/apply.sh"))
                .set("p", &self.path)
                .set("line", self.wanted())
                .set("re", self.pattern.as_deref().unwrap_or_default())
                .flag("has_re", self.pattern.is_some())
                .flag("absent", self.state == State::Absent)
                .flag("create", self.create)
                .render(),
        );
        s
    }

    /// Errors, not updates: the plan must fail (exit 1), not count them as
    /// changes (exit 0, or 2 with --detailed-exitcode).
    fn regex_error(&self, fact: &LineFact) -> Option<Planned> {
        let path = self.path.as_str();
        match &fact.regex {
            RegexCheck::Invalid(msg) => Some(plan_error(
                path,
                &format!(
                    "cannot be edited: `match` is not a valid extended regular expression ({msg})"
                ),
            )),
            RegexCheck::NoMatch if self.state == State::Present => Some(plan_error(
                path,
                "cannot be edited: `line` does not match `match`, so the next run would not find the line and would change the file again",
            )),
            _ => None,
        }
    }

    /// A diff with the permission changes against `stat` and what is not
    /// known yet about the declared accounts.
    fn with_perms(&self, mut d: Diff, fact: &LineFact) -> Diff {
        let wanted = self.perms_wanted();
        d.attrs.extend(wanted.changes(fact.stat.as_ref()));
        if d.unknown.is_none() {
            d.unknown = fact.accounts.unknown(&wanted);
        }
        d
    }

    /// A missing file: created with the line (`create: true`), or an edit
    /// that fails unless something earlier in the run creates the file.
    fn plan_missing(&self, fact: &LineFact) -> Planned {
        let path = self.path.as_str();
        if self.state == State::Absent {
            return Planned::only(Diff::noop().reason("the file does not exist"));
        }
        if self.create {
            let mut diff = self.with_perms(Diff::with_action(Action::Create), fact);
            diff.content = Some(ContentChange {
                before: None,
                after: format!("{}\n", self.wanted()),
            });
            let cmd = Cmd::new(format!("create {path} with the line"), self.apply_script());
            return Planned::new(diff, vec![cmd]);
        }
        let mut diff = Diff::with_action(Action::Update).reason(
            "the file does not exist: apply fails unless an earlier resource creates it (set `create: true` to create it)",
        );
        diff.unknown = Some(format!("{path} does not exist yet"));
        Planned::new(
            diff,
            vec![Cmd::new(format!("edit {path}"), self.apply_script())],
        )
    }

    /// A regular file that was read: the edit the rules call for, or only
    /// its permissions, or nothing.
    fn plan_edit(&self, fact: &LineFact) -> Planned {
        let path = self.path.as_str();
        let old = fact.content.as_deref().unwrap_or_default();
        let wanted = self.perms_wanted();
        match self.edit(old, &fact.matches) {
            Err(why)
                if wanted.changes(fact.stat.as_ref()).is_empty()
                    && fact.accounts.unknown(&wanted).is_none() =>
            {
                Planned::only(Diff::noop().reason(why.to_string()))
            }
            Err(why) => Planned::new(
                self.with_perms(
                    Diff::with_action(Action::Update).reason(why.to_string()),
                    fact,
                ),
                vec![Cmd::new(
                    format!("set the permissions of {path}"),
                    self.apply_script(),
                )],
            ),
            Ok(edit) => {
                let mut diff = self.with_perms(Diff::with_action(Action::Update), fact);
                diff.content = Some(ContentChange {
                    before: Some(String::from_utf8_lossy(old).into_owned()),
                    after: String::from_utf8_lossy(&edit.new).into_owned(),
                });
                Planned::new(diff, vec![Cmd::new(edit.summary, self.apply_script())])
            }
        }
    }
}

/// A resource that cannot be brought to the desired state: the plan shows
/// the error and fails; apply runs nothing for it.
fn plan_error(path: &str, why: &str) -> Planned {
    let mut d = Diff::with_action(Action::Update);
    d.error = Some(format!("{path} {why}"));
    d.reason = Some(why.to_string());
    Planned::only(d)
}

/// Why GNU `grep -E` would reject `re`, for the mistakes it reports (an
/// unclosed `(` or `[`, an unknown `[:class:]`, a reversed range, a
/// trailing `\\`, a back reference to a group not closed yet, a bad
/// `{m,n}`). Conservative: what this accepts, the probe still checks on
/// the host with grep itself.
pub fn ere_error(re: &str) -> Option<&'static str> {
    let c: Vec<char> = re.chars().collect();
    // Position, groups open now, groups closed so far.
    let (mut i, mut open, mut closed) = (0, 0usize, 0usize);
    while i < c.len() {
        match c[i] {
            '\\' => {
                let Some(&n) = c.get(i + 1) else {
                    return Some("it ends with a lone `\\`");
                };
                if let Some(d) = n.to_digit(10)
                    && d >= 1
                    && d as usize > closed
                {
                    return Some(
                        "a back reference (`\\N`) names a group that is not closed before it",
                    );
                }
                i += 2;
                continue;
            }
            '(' => open += 1,
            // An unmatched `)` is an ordinary character to grep -E.
            ')' if open > 0 => {
                open -= 1;
                closed += 1;
            }
            '[' => {
                i = match bracket_end(&c, i) {
                    Ok(next) => next,
                    Err(why) => return Some(why),
                };
                continue;
            }
            '{' => {
                if let Some(why) = repeat_error(&c, i) {
                    return Some(why);
                }
            }
            _ => {}
        }
        i += 1;
    }
    (open > 0).then_some("a `(` is not closed with `)`")
}

/// The position after the bracket expression that opens at `c[i]` (`[`),
/// or why grep would reject it.
fn bracket_end(c: &[char], i: usize) -> Result<usize, &'static str> {
    const CLASSES: &[&str] = &[
        "alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space",
        "upper", "xdigit",
    ];
    let mut j = i + 1;
    if c.get(j) == Some(&'^') {
        j += 1;
    }
    if c.get(j) == Some(&']') {
        j += 1;
    }
    let mut prev: Option<char> = None;
    loop {
        let Some(&ch) = c.get(j) else {
            return Err("a `[` is not closed with `]`");
        };
        if ch == ']' {
            break;
        }
        if ch == '[' && matches!(c.get(j + 1), Some(':' | '.' | '=')) {
            let delim = c[j + 1];
            let start = j + 2;
            let end =
                (start..c.len().saturating_sub(1)).find(|&k| c[k] == delim && c[k + 1] == ']');
            let Some(end) = end else {
                return Err("a `[` is not closed with `]`");
            };
            if delim == ':' {
                let name: String = c[start..end].iter().collect();
                if !CLASSES.contains(&name.as_str()) {
                    return Err("an unknown character class `[:name:]`");
                }
            }
            prev = None;
            j = end + 2;
            continue;
        }
        if ch == '-'
            && let Some(lo) = prev
            && let Some(&hi) = c.get(j + 1)
            && hi != ']'
            && hi != '['
        {
            if lo.is_ascii() && hi.is_ascii() && lo > hi {
                return Err("a range in `[...]` ends before it starts");
            }
            prev = None;
            j += 2;
            continue;
        }
        prev = Some(ch);
        j += 1;
    }
    Ok(j + 1)
}

/// Why grep would reject the repeat count that opens at `c[i]` (`{`).
fn repeat_error(c: &[char], i: usize) -> Option<&'static str> {
    // Only a well-formed `{m}`, `{m,}`, `{,n}` or `{m,n}` is checked.
    let end = c[i + 1..]
        .iter()
        .position(|&x| x == '}')
        .map(|k| i + 1 + k)?;
    let inner: String = c[i + 1..end].iter().collect();
    let parts: Vec<&str> = inner.split(',').collect();
    let well_formed = !inner.is_empty()
        && parts.len() <= 2
        && parts.iter().all(|p| p.chars().all(|x| x.is_ascii_digit()));
    if !well_formed {
        return None;
    }
    let num = |t: &str| t.parse::<u64>().ok();
    let lo = num(parts[0]);
    let hi = parts.get(1).and_then(|p| num(p));
    if lo.into_iter().chain(hi).any(|n| n > 32767) {
        return Some("a repeat count `{m,n}` is larger than 32767");
    }
    match (lo, hi) {
        (Some(lo), Some(hi)) if lo > hi => Some("a repeat count `{m,n}` has m larger than n"),
        _ => None,
    }
}

/// `keel_replace FN`: replace the file at `path` atomically with what the
/// shell function FN prints, through a private temporary file
/// ([`shell::TempFile`]) in the same directory that gets the declared
/// owner, group and mode (the original's where not declared), then is
/// renamed over it.
fn atomic_edit_fn(path: &str, perms: &Perms) -> String {
    let tmp = shell::TempFile::beside("keel_tmp", path);
    format!(
        "keel_replace() {{\n{create}trap '{remove}' EXIT\n{fill_cmd}{perms}{rename}trap - EXIT\n}}\n",
        create = tmp.create(),
        remove = tmp.remove(),
        fill_cmd = tmp.fill_from("\"$1\""),
        perms = tmp.set_perms(perms),
        rename = tmp.rename(),
    )
}

impl Kind for Line {
    const KIND: &'static str = "line";
    type Fact = LineFact;

    fn name(&self) -> String {
        match (&self.line, &self.pattern) {
            (Some(l), _) => format!("{}: {l}", self.path),
            (None, Some(m)) => format!("{}: /{m}/", self.path),
            (None, None) => self.path.clone(),
        }
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = check_host_path("path", &self.path, false);
        match &self.line {
            Some(l) if l.contains('\n') => errs.push(
                Invalid::field("line", "`line` contains a newline")
                    .help("declare one `line` resource per line, or use a `file` resource"),
            ),
            Some(l) if l.is_empty() => errs.push(Invalid::field("line", "`line` is empty")),
            Some(_) => {}
            None if self.state == State::Present => errs.push(
                Invalid::field("line", "missing required key `line`")
                    .help("the whole line wanted in the file, e.g. `line: PermitRootLogin no`"),
            ),
            None if self.pattern.is_none() => errs.push(
                Invalid::field("line", "`state: absent` needs `line` or `match`")
                    .help("`line` removes lines equal to it, `match` removes lines matching it"),
            ),
            None => {}
        }
        if let Some(m) = &self.pattern {
            if m.is_empty() {
                errs.push(
                    Invalid::field("match", "`match` is empty")
                        .help("an extended regular expression, e.g. '^#?PermitRootLogin'"),
                );
            } else if m.contains('\n') {
                errs.push(Invalid::field("match", "`match` contains a newline"));
            } else if let Some(why) = ere_error(m) {
                errs.push(
                    Invalid::field(
                        "match",
                        format!("`match` is not a valid extended regular expression: {why}"),
                    )
                    .help("POSIX ERE as `grep -E` reads it; escape a literal `(`, `[` or `{` with `\\`"),
                );
            }
        }
        errs.extend(check_perms(
            self.mode.as_deref(),
            self.owner.as_deref(),
            self.group.as_deref(),
        ));
        if self.state == State::Absent {
            errs.extend(unused_when_absent(&[
                ("mode", self.mode.is_some()),
                ("owner", self.owner.is_some()),
                ("group", self.group.is_some()),
            ]));
        }
        if self.create && self.state == State::Absent {
            errs.push(
                Invalid::field("create", "`create` has no effect with `state: absent`")
                    .help("remove it, or remove `state: absent`"),
            );
        }
        errs
    }

    fn touches(&self) -> Touches {
        let written = match (&self.line, self.state) {
            (Some(l), State::Present) => Written::Line(l.clone()),
            _ => Written::Unknown,
        };
        Touches::default().write(&self.path, written)
    }

    fn links(&self) -> Links {
        Links {
            provides: vec![],
            needs: vec![Ref::Path(self.path.clone())],
        }
    }

    fn probe(&self) -> String {
        let mut s = probe_accounts(self.owner.as_deref(), self.group.as_deref());
        // Before the file's probe, which ends with the content.
        s.push_str(&probe_obstacle(&self.path, true));
        s.push_str(
            &Script::new(include_str!("line/probe.sh"))
                .set("p", &self.path)
                .set("re", self.pattern.as_deref().unwrap_or_default())
                .set("line", self.wanted())
                .flag("has_re", self.pattern.is_some())
                .set("limit", EDIT_LIMIT.to_string())
                .render(),
        );
        s
    }

    fn parse(&self, out: &ProbeOutput) -> Result<LineFact, FactError> {
        let (header, content) = split_content(&out.stdout);
        let path = PathType::parse(header)?;
        let regex = match kv(header, "regex") {
            Some("match") => RegexCheck::Matches,
            Some("nomatch") => RegexCheck::NoMatch,
            Some("invalid") => RegexCheck::Invalid(
                kv(header, "regex_error")
                    .map(|e| e.trim_start_matches("grep: ").to_string())
                    .unwrap_or_else(|| "grep rejected it".into()),
            ),
            Some(other) => {
                return Err(FactError::Unexpected(format!(
                    "unknown regex check `{other}`"
                )));
            }
            None if self.pattern.is_some() => {
                return Err("the probe printed no `regex=` line".into());
            }
            None => RegexCheck::NotProbed,
        };
        let mut fact = LineFact {
            regex,
            unreadable: kv(header, "readable") == Some("no"),
            too_large: kv(header, "too_large") == Some("yes"),
            accounts: Accounts::parse(header),
            obstacle: Obstacle::parse(header),
            ..LineFact::default()
        };
        if path == PathType::File {
            fact.stat = Some(Stat::parse(header)?);
        }
        if path == PathType::File && !fact.unreadable && !fact.too_large {
            let b64 = content.ok_or("the probe printed no content for a regular file")?;
            fact.content = Some(shell::unbase64(b64).map_err(|e| format!("file content: {e}"))?);
            fact.matches = kv_lines(header)
                .into_iter()
                .filter(|(k, _)| *k == "match")
                .map(|(_, v)| {
                    v.trim()
                        .parse()
                        .map_err(|_| format!("`{v}` is not a line number"))
                })
                .collect::<Result<_, _>>()?;
        }
        fact.path = path;
        Ok(fact)
    }

    fn plan(&self, fact: &LineFact) -> Planned {
        let planned = self.plan_path(fact);
        fact.obstacle.refuse(&self.path, planned)
    }
}

impl Line {
    /// The edit the file calls for, before what stands in its way.
    fn plan_path(&self, fact: &LineFact) -> Planned {
        if let Some(error) = self.regex_error(fact) {
            return error;
        }
        let path = self.path.as_str();
        match &fact.path {
            PathType::Link(t) => refusal(
                Action::Update,
                path,
                &format!("is a symbolic link to `{t}`; point `path` at the file it links to"),
            ),
            PathType::Dir => refusal(Action::Update, path, "is a directory, not a text file"),
            PathType::Other => refusal(Action::Update, path, "is not a regular file"),
            PathType::Absent => self.plan_missing(fact),
            PathType::File if fact.unreadable => refusal(Action::Update, path, "cannot be read"),
            PathType::File if fact.too_large => refusal(
                Action::Update,
                path,
                &format!(
                    "is larger than {} KiB, the most the `line` kind edits",
                    EDIT_LIMIT / 1024
                ),
            ),
            PathType::File => self.plan_edit(fact),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::{converge_locally, eval, load, run_local, try_load};

    fn probe_of(content: &str, regex: Option<&str>, matches: &[usize]) -> String {
        let mut s = String::new();
        if let Some(r) = regex {
            s.push_str(&format!("regex={r}\n"));
        }
        s.push_str("type=file\n");
        for m in matches {
            s.push_str(&format!("match={m}\n"));
        }
        s.push_str(&format!(
            "content:\n{}\n",
            shell::base64(content.as_bytes())
        ));
        s
    }

    const SSHD: &str = "Port 22\n#PermitRootLogin yes\nPasswordAuthentication no\n";

    #[test]
    fn first_match_is_replaced() {
        let e = eval(
            "line",
            "path: /etc/ssh/sshd_config\nmatch: '^#?PermitRootLogin'\nline: PermitRootLogin no\n",
            &probe_of(SSHD, Some("match"), &[2]),
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.content,
            Some(ContentChange {
                before: Some(SSHD.into()),
                after: "Port 22\nPermitRootLogin no\nPasswordAuthentication no\n".into(),
            })
        );
        assert_eq!(
            e.commands[0].summary,
            "replace line 2 of /etc/ssh/sshd_config"
        );
    }

    #[test]
    fn present_line_is_noop_and_missing_line_is_appended() {
        let y = "path: /etc/hosts.allow\nline: 'sshd: ALL'\n";
        let e = eval("line", y, &probe_of("a\nsshd: ALL\n", None, &[]));
        assert_eq!(e.diff.action(), Action::NoOp);
        assert_eq!(e.diff.reason.as_deref(), Some("already present (line 2)"));
        let e = eval("line", y, &probe_of("a\nb", None, &[]));
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(e.diff.content.unwrap().after, "a\nb\nsshd: ALL\n");
        assert_eq!(e.commands[0].summary, "add a line to /etc/hosts.allow");
        let e = eval("line", y, &probe_of("", None, &[]));
        assert_eq!(e.diff.content.unwrap().after, "sshd: ALL\n");
        // With `match` but no matching line: appended too.
        let e = eval(
            "line",
            "path: /etc/x\nmatch: '^k='\nline: k=1\n",
            &probe_of("a=1\n", Some("match"), &[]),
        );
        assert_eq!(e.diff.content.unwrap().after, "a=1\nk=1\n");
        // First matching line already as wanted.
        let e = eval(
            "line",
            "path: /etc/x\nmatch: '^k='\nline: k=1\n",
            &probe_of("k=1\nk=2\n", Some("match"), &[1, 2]),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn absent_removes_equal_or_matching_lines() {
        let e = eval(
            "line",
            "path: /etc/x\nline: bad\nstate: absent\n",
            &probe_of("bad\nok\nbad\nbad x", None, &[]),
        );
        assert_eq!(e.diff.content.unwrap().after, "ok\nbad x\n");
        assert_eq!(e.commands[0].summary, "remove 2 lines from /etc/x");
        let e = eval(
            "line",
            "path: /etc/x\nmatch: '^bad'\nstate: absent\n",
            &probe_of("bad\nok\nbad x", Some("nomatch"), &[1, 3]),
        );
        assert_eq!(e.diff.content.unwrap().after, "ok\n");
        let e = eval(
            "line",
            "path: /etc/x\nline: bad\nstate: absent\n",
            &probe_of("ok\n", None, &[]),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        let e = eval(
            "line",
            "path: /etc/x\nline: bad\nstate: absent\n",
            "type=absent\n",
        );
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn missing_file() {
        let e = eval("line", "path: /etc/x\nline: a\n", "type=absent\n");
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(e.diff.unknown.as_deref(), Some("/etc/x does not exist yet"));
        assert!(e.diff.reason.unwrap().contains("create: true"));
        let e = eval(
            "line",
            "path: /etc/x\nline: a\ncreate: true\n",
            "type=absent\n",
        );
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(e.diff.content.unwrap().after, "a\n");
    }

    #[test]
    fn invalid_expressions_are_load_errors_as_grep_says() {
        let bad = [
            "(a",
            "[a",
            "[[:foo:]]",
            "[z-a]",
            "a\\",
            "\\1",
            "(a)\\2",
            "(a\\1)",
            "a{2,1}",
            "a{1,99999}",
            "[[:alpha:]",
            "[[.",
            "(",
            "^a(",
        ];
        let good = [
            "a)",
            "a{",
            "a{x}",
            "a{1",
            "(a)\\1",
            "*a",
            "[]a]",
            "[^]a]",
            "[[.a.]]",
            "[a-]",
            "()",
            "a||b",
            "a{,2}",
            "[\\]",
            "\\(",
            "a{32767}",
            "^#?PermitRootLogin",
            "[--z]",
            ")",
        ];
        for (list, want) in [(&bad[..], true), (&good[..], false)] {
            for re in list {
                assert_eq!(ere_error(re).is_some(), want, "{re}: {:?}", ere_error(re));
                // The host's grep agrees.
                let st = std::process::Command::new("grep")
                    .args(["-E", "-e", re])
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .expect("grep runs");
                assert_eq!(st.code() == Some(2), want, "grep -E -e {re}");
            }
        }
        let e = try_load("line", "path: /etc/x\nmatch: '^a('\nline: a\n").unwrap_err();
        assert!(e.contains("`(` is not closed"), "{e}");
    }

    #[test]
    fn refusals() {
        // An expression only grep itself rejects (the load-time check is
        // conservative) is a plan error, not an update: the plan fails.
        let y = "path: /etc/x\nmatch: '[[:alpha:]-z]'\nline: a\n";
        let e = eval(
            "line",
            y,
            "regex=invalid\nregex_error=grep: Invalid range end\ntype=absent\n",
        );
        assert!(
            e.diff
                .error
                .unwrap()
                .contains("not a valid extended regular expression (Invalid range end)")
        );
        assert!(e.commands.is_empty());
        let y = "path: /etc/x\nmatch: '^b'\nline: a\n";
        let e = eval("line", y, &probe_of("b\n", Some("nomatch"), &[1]));
        assert!(
            e.diff
                .error
                .unwrap()
                .contains("`line` does not match `match`")
        );
        assert!(e.commands.is_empty());
        let e = eval(
            "line",
            "path: /etc/resolv.conf\nline: a\n",
            "type=link\ntarget=/run/x\n",
        );
        assert!(e.diff.reason.unwrap().contains("symbolic link to `/run/x`"));
        let e = eval(
            "line",
            "path: /etc/x\nline: a\n",
            "type=file\ntoo_large=yes\n",
        );
        assert!(e.diff.reason.unwrap().contains("1024 KiB"));
        let e = eval("line", "path: /etc/x\nline: a\n", "type=dir\n");
        assert_eq!(e.diff.action(), Action::Update);
        assert!(e.diff.error.is_some() && e.commands.is_empty());
    }

    #[test]
    fn odd_probe_output() {
        let r = load("line", "path: /etc/x\nmatch: a\nline: a\n");
        assert!(
            r.evaluate(&ProbeOutput::ok("type=file\n")).is_err(),
            "no regex line"
        );
        let r = load("line", "path: /etc/x\nline: a\n");
        assert!(
            r.evaluate(&ProbeOutput::ok("type=file\n")).is_err(),
            "no content"
        );
        assert!(
            r.evaluate(&ProbeOutput::ok("type=file\nmatch=x\ncontent:\n"))
                .is_err()
        );
        assert!(
            r.evaluate(&ProbeOutput::ok("type=file\ncontent:\n"))
                .is_ok()
        );
        // Out of range match numbers are ignored.
        let r = load("line", "path: /etc/x\nmatch: a\nline: a\n");
        let e = r
            .evaluate(&ProbeOutput::ok(probe_of("b\n", Some("match"), &[7])))
            .unwrap();
        assert_eq!(e.diff.content.unwrap().after, "b\na\n");
    }

    #[test]
    fn validation_errors() {
        let err = |y: &str| try_load("line", y).unwrap_err();
        assert!(err("path: /x\nline: \"a\\nb\"\n").contains("newline"));
        assert!(err("path: /x\nline: ''\n").contains("empty"));
        assert!(err("path: /x\nline: a\nmatch: ''\n").contains("`match` is empty"));
        assert!(err("path: /x\nline: a\nmatch: \"a\\nb\"\n").contains("newline"));
        assert!(err("path: /x\n").contains("missing required key `line`"));
        assert!(err("path: /x\nstate: absent\n").contains("needs `line` or `match`"));
        assert!(err("path: /x\nline: a\nstate: absent\ncreate: true\n").contains("no effect"));
        assert!(err("path: x\nline: a\n").contains("absolute"));
        assert!(err("path: /x\nline: a\nregexp: b\n").contains("unknown key"));
        assert!(try_load("line", "path: /x\nmatch: a\nstate: absent\n").is_ok());
    }

    #[test]
    fn mode_owner_group_on_create_edit_and_unchanged_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.env");
        let me = run_local("id -un").stdout.trim().to_string();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // Created with the declared mode.
        let y = format!(
            "path: {}\nline: TOKEN=abc\ncreate: true\nmode: \"0600\"\nowner: {me}\n",
            path.display()
        );
        let (before, _) = converge(&y, &path);
        assert!(
            before.diff.attrs.iter().any(|a| a.name == "mode"),
            "{:?}",
            before.diff
        );
        assert_eq!(mode(&path), 0o600);
        // An edit keeps the declared mode, even when the file drifted.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let y2 = y
            .replace("TOKEN=abc", "TOKEN=def")
            .replace("line:", "match: ^TOKEN=\nline:");
        converge(&y2, &path);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "TOKEN=def\n");
        // Permissions alone are an update.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664)).unwrap();
        let (before, _) = converge(&y2, &path);
        assert_eq!(before.diff.action(), Action::Update);
        assert!(before.diff.content.is_none());
        assert_eq!(mode(&path), 0o600);
        let err = |y: &str| try_load("line", y).unwrap_err();
        assert!(err("path: /x\nline: a\nmode: \"999\"\n").contains("mode"));
        assert!(err("path: /x\nline: a\nstate: absent\nmode: \"0600\"\n").contains("no effect"));
    }

    #[test]
    fn line_and_match_never_reach_argv() {
        // Every command of the probe and the scripts: the values are only in
        // shell assignments (stdin of `sh -s`), never in a command's words.
        let y =
            "path: /etc/app.env\nmatch: '^PASS=s3cr3t-re'\nline: PASS=s3cr3t-line\ncreate: true\n";
        let r = load("line", y);
        let mut scripts = vec![r.probe()];
        for out in [
            "regex=match\ntype=absent\n".to_string(),
            probe_of("PASS=old\n", Some("match"), &[1]),
            probe_of("x\n", Some("match"), &[]),
        ] {
            scripts.extend(
                r.evaluate(&ProbeOutput::ok(out))
                    .unwrap()
                    .commands
                    .into_iter()
                    .map(|c| c.script),
            );
        }
        let absent = load(
            "line",
            "path: /etc/app.env\nline: PASS=s3cr3t-line\nstate: absent\n",
        );
        scripts.extend(
            absent
                .evaluate(&ProbeOutput::ok(probe_of("PASS=s3cr3t-line\n", None, &[])))
                .unwrap()
                .commands
                .into_iter()
                .map(|c| c.script),
        );
        for s in &scripts {
            for l in s.lines() {
                if l.contains("s3cr3t") {
                    assert!(
                        l.starts_with("line=") || l.starts_with("re=") || l.contains("base64 -d"),
                        "a secret outside an assignment:\n{l}"
                    );
                }
            }
            assert!(
                !s.contains("-e \"$line\"") && !s.contains("-e \"$re\""),
                "{s}"
            );
        }
    }

    #[test]
    fn name_and_links() {
        let r = load("line", "path: /etc/x\nline: a=1\n");
        assert_eq!(r.name(), "/etc/x: a=1");
        assert_eq!(r.links().needs, vec![Ref::Path("/etc/x".into())]);
        assert_eq!(
            load("line", "path: /etc/x\nmatch: ^a\nstate: absent\n").name(),
            "/etc/x: /^a/"
        );
    }

    /// Converge locally and check that the plan's predicted content is what
    /// the host script wrote.
    fn converge(yaml: &str, path: &std::path::Path) -> (Evaluation, Evaluation) {
        let r = load("line", yaml);
        let (before, after) = converge_locally(r.as_ref());
        if let Some(c) = &before.diff.content {
            assert_eq!(
                std::fs::read_to_string(path).unwrap(),
                c.after,
                "plan and apply agree"
            );
        }
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);
        (before, after)
    }

    fn yaml_for(path: &std::path::Path, rest: &str) -> String {
        format!(
            "path: {}\n{rest}",
            serde_json::to_string(path.to_str().unwrap()).unwrap()
        )
    }

    #[test]
    fn converges_locally_with_hostile_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("it's \"a\" $(touch pwned); `id`.conf");
        let original = "Port 22\n#PermitRootLogin yes\n\\back 'q' $(x)\nlast line without newline";
        std::fs::write(&path, original).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();

        let hostile = r#"PermitRootLogin no # 'q' "dq" $(touch pwned) `id`; \n \\ %s"#;
        let y = yaml_for(
            &path,
            &format!(
                "match: '^#?PermitRootLogin'\nline: {}\n",
                serde_json::to_string(hostile).unwrap()
            ),
        );
        let (before, _) = converge(&y, &path);
        assert_eq!(before.diff.action(), Action::Update);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("Port 22\n{hostile}\n\\back 'q' $(x)\nlast line without newline")
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640,
            "mode kept"
        );

        // Append after a last line without newline.
        let (before, _) = converge(&yaml_for(&path, "line: \"$(touch pwned) it's\"\n"), &path);
        assert_eq!(before.diff.action(), Action::Update);
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .ends_with("without newline\n$(touch pwned) it's\n")
        );

        // Remove by exact line, then by match.
        let (before, _) = converge(
            &yaml_for(&path, "line: \"$(touch pwned) it's\"\nstate: absent\n"),
            &path,
        );
        assert_eq!(before.diff.action(), Action::Update);
        let (before, _) = converge(
            &yaml_for(&path, "match: \"^\\\\\\\\back\"\nstate: absent\n"),
            &path,
        );
        assert_eq!(before.diff.action(), Action::Update, "{:?}", before.diff);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("Port 22\n{hostile}\nlast line without newline\n")
        );
        assert!(!std::path::Path::new("pwned").exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    /// A CRLF file (edited on Windows): its `a=1\r` is the line `a=1`
    /// (no duplicate appended), and lines keel writes end in CRLF too, so
    /// the file does not end up with mixed line ends. Plan and apply agree.
    #[test]
    fn crlf_files_stay_crlf_and_their_lines_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.ini");
        std::fs::write(&path, "a=1\r\nb=2\r\n").unwrap();
        let (before, _) = converge(&yaml_for(&path, "line: a=1\n"), &path);
        assert_eq!(before.diff.action(), Action::NoOp, "{:?}", before.diff);
        let (before, _) = converge(&yaml_for(&path, "match: '^b='\nline: b=3\n"), &path);
        assert_eq!(before.diff.action(), Action::Update);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a=1\r\nb=3\r\n");
        let (before, _) = converge(&yaml_for(&path, "line: c=1\n"), &path);
        assert_eq!(before.diff.action(), Action::Update);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "a=1\r\nb=3\r\nc=1\r\n"
        );
        let (before, _) = converge(&yaml_for(&path, "line: b=3\nstate: absent\n"), &path);
        assert_eq!(before.diff.action(), Action::Update);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a=1\r\nc=1\r\n");
        // The fixture side: the plan alone, from probe output.
        let e = eval("line", "{path: /x, line: a=1}", &probe_of("a=1\r\n", None, &[]));
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    /// A read-only mount or `chattr +i` (as root), or a file where the
    /// directory should be: an edit is a plan error, not an apply failure;
    /// a line already there stays a no-op.
    #[test]
    fn obstacles_are_plan_errors_only_for_an_edit() {
        let yaml = "{path: /srv/ro/a.conf, line: b=2}";
        let e = eval("line", yaml, &format!("unwritable=/srv/ro/a.conf\n{}", probe_of("a=1\n", None, &[])));
        assert!(e.commands.is_empty());
        assert!(e.diff.error.unwrap().contains("read-only mount"));
        let e = eval("line", yaml, &format!("unwritable=/srv/ro/a.conf\n{}", probe_of("b=2\n", None, &[])));
        assert_eq!(e.diff.action(), Action::NoOp);
        assert!(e.diff.error.is_none());
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("etc");
        std::fs::write(&blocker, "").unwrap();
        let r = load("line", &yaml_for(&blocker.join("app.conf"), "line: a=1\ncreate: true\n"));
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert!(e.commands.is_empty());
        assert!(e.diff.error.unwrap().contains("is not a directory"));
    }

    #[test]
    fn converges_locally_create_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.conf");
        let r = load("line", &yaml_for(&path, "line: a=1\n"));
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert!(e.diff.unknown.is_some());
        let out = run_local(&e.commands[0].script);
        assert_eq!(out.status, 1);
        assert!(out.stderr.contains("does not exist (set create: true"));
        let (before, _) = converge(&yaml_for(&path, "line: a=1\ncreate: true\n"), &path);
        assert_eq!(before.diff.action(), Action::Create);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a=1\n");
    }

    #[test]
    fn several_lines_on_one_file_compose() {
        // Both planned against the same content, applied one after the
        // other: the second must edit what the first left.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sshd_config");
        std::fs::write(&path, SSHD).unwrap();
        let a = load(
            "line",
            &yaml_for(
                &path,
                "match: '^#?PermitRootLogin'\nline: PermitRootLogin no\n",
            ),
        );
        let b = load(
            "line",
            &yaml_for(
                &path,
                "match: '^#?PasswordAuthentication'\nline: PasswordAuthentication yes\n",
            ),
        );
        let ea = a.evaluate(&run_local(&a.probe())).unwrap();
        let eb = b.evaluate(&run_local(&b.probe())).unwrap();
        for c in ea.commands.iter().chain(&eb.commands) {
            assert_eq!(run_local(&c.script).status, 0);
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "Port 22\nPermitRootLogin no\nPasswordAuthentication yes\n"
        );
        for r in [&a, &b] {
            let e = r.evaluate(&run_local(&r.probe())).unwrap();
            assert_eq!(e.diff.action(), Action::NoOp);
        }
    }

    #[test]
    fn local_regex_errors_come_from_grep() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "x\n").unwrap();
        // Passes the load-time check; grep rejects it (a range from a class).
        let r = load(
            "line",
            &yaml_for(&path, "match: '[[:alpha:]-z]'\nline: a\n"),
        );
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert!(
            e.diff
                .error
                .unwrap()
                .contains("not a valid extended regular expression")
        );
        let r = load("line", &yaml_for(&path, "match: '^b'\nline: a\n"));
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert!(e.diff.error.unwrap().contains("does not match"));
    }
}

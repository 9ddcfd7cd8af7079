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
//! links are refused rather than replaced by a regular file.

use super::file::{PathType, State, check_host_path, refusal};
use super::*;
use crate::shell::{self, Perms, q};

/// Largest file the `line` kind edits.
pub const EDIT_LIMIT: u64 = 1024 * 1024;

/// A line in a text file.
#[derive(Debug, serde::Deserialize)]
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
}

/// The lines of `data`, each with its `\n` (the last one may lack it).
fn split_lines(data: &[u8]) -> Vec<&[u8]> {
    data.split_inclusive(|&b| b == b'\n').collect()
}

fn body(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// An edit to make, with the new content.
struct Edit {
    new: Vec<u8>,
    summary: String,
}

impl Line {
    fn wanted(&self) -> &str {
        self.line.as_deref().unwrap_or_default()
    }

    /// The edit the rules call for on `content`, or why none is needed.
    /// Mirrors [`Line::apply_script`] exactly.
    fn edit(&self, content: &[u8], matches: &[usize]) -> Result<Edit, String> {
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
                None => body(l) == want,
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
                    Some(_) => "no line matches".into(),
                    None => "the line is not there".into(),
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
            if body(lines[n - 1]) == want {
                return Err(format!("line {n} is as wanted"));
            }
            let mut new = lines[..n - 1].concat();
            new.extend_from_slice(want);
            new.push(b'\n');
            new.extend_from_slice(&lines[n..].concat());
            return Ok(Edit {
                new,
                summary: format!("replace line {n} of {path}"),
            });
        }
        if let Some(i) = lines.iter().position(|l| body(l) == want) {
            return Err(format!("already present (line {})", i + 1));
        }
        let mut new = content.to_vec();
        if new.last().is_some_and(|&b| b != b'\n') {
            new.push(b'\n');
        }
        new.extend_from_slice(want);
        new.push(b'\n');
        Ok(Edit {
            new,
            summary: format!("add a line to {path}"),
        })
    }

    /// The apply-time script: the same edit as [`Line::edit`], done on the
    /// host with grep/head/tail against the file as it is then.
    fn apply_script(&self) -> String {
        let mut s = format!("set -e\np={}\n", q(&self.path));
        if let Some(l) = &self.line {
            s.push_str(&format!("line={}\n", q(l)));
        }
        if let Some(re) = &self.pattern {
            s.push_str(&format!("re={}\n", q(re)));
        }
        s.push_str(
            "if [ -L \"$p\" ] || { [ -e \"$p\" ] && [ ! -f \"$p\" ]; }; then\n  printf '%s\\n' \"keel: $p is not a regular file\" >&2\n  exit 1\nfi\n",
        );
        let edit = |fill: &str| atomic_edit(&self.path, fill);
        if self.state == State::Absent {
            let (test, keep) = match &self.pattern {
                Some(_) => ("grep -qaE -e \"$re\"", "grep -vaE -e \"$re\""),
                None => ("grep -qaxF -e \"$line\"", "grep -vaxF -e \"$line\""),
            };
            s.push_str(&format!(
                "if [ -e \"$p\" ] && {test} < \"$p\"; then\n{}fi\n",
                edit(&format!("{{ {keep} < \"$p\" || [ \"$?\" -eq 1 ]; }}"))
            ));
            return s;
        }
        s.push_str("if [ ! -e \"$p\" ]; then\n");
        if self.create {
            s.push_str(&shell::write_file_atomic(
                &self.path,
                format!("{}\n", self.wanted()).as_bytes(),
                &Perms::default(),
            ));
        } else {
            s.push_str(
                "printf '%s\\n' \"keel: $p does not exist (set create: true to create it)\" >&2\nexit 1\n",
            );
        }
        s.push_str("else\nkeel_n=\n");
        if self.pattern.is_some() {
            s.push_str("keel_n=$(grep -naE -e \"$re\" < \"$p\" | head -n 1 | cut -d: -f1)\n");
        }
        s.push_str("if [ -n \"$keel_n\" ]; then\nif [ \"$(sed -n \"${keel_n}p\" < \"$p\")\" != \"$line\" ]; then\n");
        s.push_str(&edit(
            "{ head -n \"$((keel_n - 1))\" < \"$p\"; printf '%s\\n' \"$line\"; tail -n \"+$((keel_n + 1))\" < \"$p\"; }",
        ));
        s.push_str("fi\nelif ! grep -qaxF -e \"$line\" < \"$p\"; then\n");
        s.push_str(&edit(
            "{ cat < \"$p\"; if [ -n \"$(tail -c 1 < \"$p\")\" ]; then echo; fi; printf '%s\\n' \"$line\"; }",
        ));
        s.push_str("fi\nfi\n");
        s
    }

    /// The diff and the commands, computed together so they always agree.
    fn plan(&self, fact: &LineFact) -> (Diff, Vec<Cmd>) {
        let path = self.path.as_str();
        match &fact.regex {
            RegexCheck::Invalid(msg) => {
                return refusal(
                    Action::Update,
                    path,
                    &format!(
                        "cannot be edited: `match` is not a valid extended regular expression ({msg})"
                    ),
                );
            }
            RegexCheck::NoMatch if self.state == State::Present => {
                return refusal(
                    Action::Update,
                    path,
                    "cannot be edited: `line` does not match `match`, so the next run would not find the line and would change the file again",
                );
            }
            _ => {}
        }
        let script = || self.apply_script();
        match &fact.path {
            PathType::Link(t) => refusal(
                Action::Update,
                path,
                &format!("is a symbolic link to `{t}`; point `path` at the file it links to"),
            ),
            PathType::Dir => refusal(Action::Update, path, "is a directory, not a text file"),
            PathType::Other => refusal(Action::Update, path, "is not a regular file"),
            PathType::Absent if self.state == State::Absent => {
                (Diff::noop().reason("the file does not exist"), vec![])
            }
            PathType::Absent if self.create => {
                let mut diff = Diff::with_action(Action::Create);
                diff.content = Some(ContentChange {
                    before: None,
                    after: format!("{}\n", self.wanted()),
                });
                (
                    diff,
                    vec![Cmd::new(format!("create {path} with the line"), script())],
                )
            }
            PathType::Absent => {
                let mut diff = Diff::with_action(Action::Update).reason(
                    "the file does not exist: apply fails unless an earlier resource creates it (set `create: true` to create it)",
                );
                diff.unknown = Some(format!("{path} does not exist yet"));
                (diff, vec![Cmd::new(format!("edit {path}"), script())])
            }
            PathType::File if fact.unreadable => refusal(Action::Update, path, "cannot be read"),
            PathType::File if fact.too_large => refusal(
                Action::Update,
                path,
                &format!(
                    "is larger than {} KiB, the most the `line` kind edits",
                    EDIT_LIMIT / 1024
                ),
            ),
            PathType::File => {
                let old = fact.content.as_deref().unwrap_or_default();
                match self.edit(old, &fact.matches) {
                    Err(why) => (Diff::noop().reason(why), vec![]),
                    Ok(edit) => {
                        let mut diff = Diff::with_action(Action::Update);
                        diff.content = Some(ContentChange {
                            before: Some(String::from_utf8_lossy(old).into_owned()),
                            after: String::from_utf8_lossy(&edit.new).into_owned(),
                        });
                        (diff, vec![Cmd::new(edit.summary, script())])
                    }
                }
            }
        }
    }
}

/// Replace the file `"$p"` atomically with what the shell `fill` prints:
/// a temporary file in the same directory gets the output and the original's
/// mode and owner, then is renamed over it.
fn atomic_edit(path: &str, fill: &str) -> String {
    let (dir, base) = match path.rfind('/') {
        Some(0) => ("", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (".", path),
    };
    format!(
        "keel_tmp=$(mktemp {tpl})\ntrap 'rm -f \"$keel_tmp\"' EXIT\n{fill} > \"$keel_tmp\"\nchmod --reference=\"$p\" \"$keel_tmp\"\nchown --reference=\"$p\" \"$keel_tmp\" 2>/dev/null || true\nmv -f \"$keel_tmp\" \"$p\"\ntrap - EXIT\n",
        tpl = q(&format!("{dir}/.{base}.keel.XXXXXX")),
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
            }
        }
        if self.create && self.state == State::Absent {
            errs.push(
                Invalid::field("create", "`create` has no effect with `state: absent`")
                    .help("remove it, or remove `state: absent`"),
            );
        }
        errs
    }

    fn links(&self) -> Links {
        Links {
            provides: vec![],
            needs: vec![Ref::Path(self.path.clone())],
        }
    }

    fn probe(&self) -> String {
        let mut s = format!("p={}\n", q(&self.path));
        if let Some(re) = &self.pattern {
            s.push_str(&format!(
                r#"re={}
line={}
if keel_err=$(printf '%s\n' "$line" | grep -qE -e "$re" 2>&1); then
  echo regex=match
elif [ "$?" -eq 1 ]; then
  echo regex=nomatch
else
  echo regex=invalid
  printf 'regex_error=%s\n' "$(printf '%s\n' "$keel_err" | head -n 1)"
fi
"#,
                q(re),
                q(self.wanted())
            ));
        }
        let matches = if self.pattern.is_some() {
            "    grep -naE -e \"$re\" < \"$p\" 2>/dev/null | cut -d: -f1 | sed 's/^/match=/'\n"
        } else {
            ""
        };
        s.push_str(&format!(
            r#"if [ -L "$p" ]; then
  echo type=link
  printf 'target=%s\n' "$(readlink -- "$p")"
elif [ -f "$p" ]; then
  echo type=file
  if [ ! -r "$p" ]; then
    echo readable=no
  elif [ "$(stat -c %s -- "$p")" -gt {EDIT_LIMIT} ]; then
    echo too_large=yes
  else
{matches}    echo content:
    base64 < "$p"
  fi
elif [ -d "$p" ]; then
  echo type=dir
elif [ -e "$p" ]; then
  echo type=other
else
  echo type=absent
fi
"#
        ));
        s
    }

    fn parse(&self, out: &ProbeOutput) -> Result<LineFact, String> {
        let (header, content) = super::file::split_content(&out.stdout);
        let path = PathType::parse(header)?;
        let regex = match kv(header, "regex") {
            Some("match") => RegexCheck::Matches,
            Some("nomatch") => RegexCheck::NoMatch,
            Some("invalid") => RegexCheck::Invalid(
                kv(header, "regex_error")
                    .map(|e| e.trim_start_matches("grep: ").to_string())
                    .unwrap_or_else(|| "grep rejected it".into()),
            ),
            Some(other) => return Err(format!("unknown regex check `{other}`")),
            None if self.pattern.is_some() => {
                return Err("the probe printed no `regex=` line".into());
            }
            None => RegexCheck::NotProbed,
        };
        let mut fact = LineFact {
            regex,
            unreadable: kv(header, "readable") == Some("no"),
            too_large: kv(header, "too_large") == Some("yes"),
            ..LineFact::default()
        };
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

    fn diff(&self, fact: &LineFact) -> Diff {
        self.plan(fact).0
    }

    fn commands(&self, fact: &LineFact, _diff: &Diff) -> Vec<Cmd> {
        self.plan(fact).1
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
    fn refusals() {
        let y = "path: /etc/x\nmatch: '^a('\nline: a\n";
        let e = eval(
            "line",
            y,
            "regex=invalid\nregex_error=grep: Unmatched ( or \\(\ntype=absent\n",
        );
        assert!(
            e.diff
                .reason
                .unwrap()
                .contains("not a valid extended regular expression (Unmatched ( or \\()")
        );
        assert_eq!(run_local(&e.commands[0].script).status, 1);
        let y = "path: /etc/x\nmatch: '^b'\nline: a\n";
        let e = eval("line", y, &probe_of("b\n", Some("nomatch"), &[1]));
        assert!(
            e.diff
                .reason
                .unwrap()
                .contains("`line` does not match `match`")
        );
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
        assert_eq!(run_local(&e.commands[0].script).status, 1);
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
        let r = load("line", &yaml_for(&path, "match: 'a(('\nline: a\n"));
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert!(
            e.diff
                .reason
                .unwrap()
                .contains("not a valid extended regular expression")
        );
        let r = load("line", &yaml_for(&path, "match: '^b'\nline: a\n"));
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert!(e.diff.reason.unwrap().contains("does not match"));
    }
}

//! The `git` kind: a work tree checked out at a tag, branch or commit of a
//! repository (typically the application a server runs).
//!
//! ```yaml
//! - git:
//!     path: /srv/app/src
//!     repo: https://github.com/acme/app.git   # any git URL, or a local path
//!     ref: v1.4.2           # tag, branch or commit (default: the remote's HEAD)
//!     owner: deploy         # optional: git runs as this user (runuser)
//!     depth: 1              # optional: shallow fetches
//!     force: false          # true: discard local changes to tracked files
//! ```
//!
//! The probe never fetches (it is read-only and has no network): it reports
//! whether `path` is a work tree of its own, `HEAD`, the raw
//! `remote.origin.url`, local changes to tracked files (`git status
//! --porcelain --untracked-files=no`, with `--no-optional-locks` so it does
//! not even refresh the index), whether the clone is shallow, and what the
//! ref points to *locally*, in git's order: tag, remote-tracking branch,
//! commit. Git runs as the owner of the work tree, so `safe.directory`
//! ("dubious ownership") never gets in the way.
//!
//! The plan compares `HEAD` with that:
//! - a tag or a commit present locally is compared exactly
//!   (`commit: 1a2b3c4 → v1.4.2 (5d6e7f8)`);
//! - a branch is compared with the remote-tracking branch as last fetched:
//!   when `HEAD` differs, the commit is "known after apply" (the remote may
//!   have moved); when it matches, the plan says no change — a plan cannot
//!   see new commits on the remote without fetching, so following a branch
//!   only moves when something else changes. Pin a tag or a commit to
//!   deploy a precise version;
//! - a ref not in the local clone yet (a new tag) is "known after apply".
//!
//! Apply, as the owner: `git init` + `remote add` when the path is absent or
//! an empty directory (so the clone and the update share one code path),
//! otherwise `remote set-url`; fetch the ref (`+refs/tags/REF`, else
//! `+refs/heads/REF`, else a commit), then `checkout --detach` (with
//! `force: true`: `checkout --force` + `reset --hard`). Untracked and
//! ignored files (`.env`, build output) are never touched; local changes to
//! tracked files make apply fail with a clear message unless `force: true`.
//! So does a file the new commit adds that the work tree already holds:
//! git refuses an untracked one but silently overwrites an ignored one (a
//! local `.env` the repository starts to track). The probe lists them when
//! the commit is in the local clone, making them a plan error (with
//! `force: true`, shown as overwritten); apply checks again after the
//! fetch, for a commit the plan could not see.
//! A first clone that fails leaves no half-made repository behind. For a
//! repository on the host itself (a path or `file://`), the remote's
//! `uploadpack` is set to `git -c safe.directory='*' upload-pack`, since git
//! drops `-c` settings for local transports and would refuse an origin
//! owned by another user than the owner of the work tree.
//!
//! Credentials in an http(s) URL (`https://user:token@host/...`) never
//! reach a command line or `.git/config`: the remote is stored without them
//! (`https://host/...`), and git gets them from a credential helper that
//! prints two environment variables of the apply script (set from the script
//! text, which travels on stdin); every other credential helper is disabled
//! for keel's git commands, so none stores them either. A work tree whose
//! `.git/config` holds credentials (an older clone) is rewritten to the URL
//! without them. A password in any other URL (`ssh://u:pw@host`) is refused:
//! use a key. Credentials are masked in the plan and in every message keel
//! prints (`https://***@host/...`); git's own output is masked the same way.

use super::common::paths::{check_host_path, check_perms, probe_accounts};
use super::common::script::heredoc_delim;
use super::*;
use crate::shell::{Script, q};
use std::fmt::Write as _;

/// A git work tree.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Git {
    /// Absolute path of the work tree.
    pub path: String,
    /// The repository URL (or local path) to fetch from (remote `origin`).
    pub repo: String,
    /// Tag, branch or commit; `None`: the remote's default branch.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// Run git as this user, who owns the work tree.
    pub owner: Option<String>,
    /// Shallow fetches of this many commits (scalar text, checked).
    pub depth: Option<String>,
    /// Discard local changes to tracked files.
    #[serde(default)]
    pub force: bool,
}

/// What is at `path`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Tree {
    #[default]
    Absent,
    /// An empty directory (a clone goes there).
    Empty,
    /// A non-empty directory that is not a work tree of its own.
    Dir,
    /// Something that is not a directory.
    NotDir,
    /// A git work tree (a checkout) whose top level is `path`.
    Checkout,
}

/// How the ref resolved in the local clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefKind {
    Tag,
    /// A remote-tracking branch (with its name, for the default branch).
    Branch(String),
    Commit,
    /// Not found locally.
    Unknown,
}

/// The live state of the work tree.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GitFact {
    pub tree: Tree,
    pub parent_missing: bool,
    /// `git` is not installed (the tree could not be read).
    pub git_missing: bool,
    /// Owner of `path` (name, or `UNKNOWN`).
    pub owner: Option<String>,
    /// The declared owner does not exist yet.
    pub owner_missing: bool,
    /// Full sha of `HEAD` (`None`: unborn).
    pub head: Option<String>,
    pub origin: Option<String>,
    pub shallow: bool,
    /// Local changes to tracked files (porcelain lines; at most 5 kept).
    pub changes: Vec<String>,
    pub changes_count: usize,
    /// The ref, as resolved locally.
    pub ref_kind: Option<RefKind>,
    pub ref_commit: Option<String>,
    /// Files the commit to check out adds that are already in the work
    /// tree, untracked or ignored (at most 5 kept), and how many.
    pub in_way: Vec<String>,
    pub in_way_count: usize,
}

/// Mask credentials in a URL: `https://user:token@host/x` → `https://***@host/x`.
/// A user name alone is kept for ssh (`ssh://git@host`), masked for http(s)
/// (where it is often a token).
pub fn mask_url(url: &str) -> String {
    let Some(i) = url.find("://") else {
        return url.to_string();
    };
    let (scheme, rest) = (&url[..i], &url[i + 3..]);
    let auth_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..auth_end].rfind('@') else {
        return url.to_string();
    };
    let userinfo = &rest[..at];
    let http = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    if userinfo.contains(':') || http {
        format!("{scheme}://***@{}", &rest[at + 1..])
    } else {
        url.to_string()
    }
}

/// Split an http(s) URL into the URL without userinfo and its credentials
/// (percent-decoded user and password). Other URLs are returned as they are.
pub fn split_credentials(url: &str) -> (String, Option<(String, String)>) {
    let Some(i) = url.find("://") else {
        return (url.to_string(), None);
    };
    let (scheme, rest) = (&url[..i], &url[i + 3..]);
    let http = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    let auth_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..auth_end].rfind('@') else {
        return (url.to_string(), None);
    };
    if !http {
        return (url.to_string(), None);
    }
    let userinfo = &rest[..at];
    let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    (
        format!("{scheme}://{}", &rest[at + 1..]),
        Some((percent_decode(user), percent_decode(pass))),
    )
}

/// Decode `%XX` escapes (as git does for URL userinfo); a malformed escape
/// is kept as written.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a non-http URL carries a password (`ssh://u:pw@host/x`).
fn has_foreign_password(url: &str) -> bool {
    let Some(i) = url.find("://") else {
        return false;
    };
    let (scheme, rest) = (&url[..i], &url[i + 3..]);
    let http = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    let auth_end = rest.find('/').unwrap_or(rest.len());
    !http
        && rest[..auth_end]
            .rfind('@')
            .is_some_and(|at| rest[..at].contains(':'))
}

/// The credential helper keel's git commands use (`-c credential.helper=`):
/// shell code that prints the credentials from the environment of the apply
/// script. It holds no secret itself, so it may be on a command line.
const CRED_HELPER: &str = r#"!f() { test "$1" = get || exit 0; printf 'username=%s\npassword=%s\n' "$KEEL_GIT_USERNAME" "$KEEL_GIT_PASSWORD"; }; f"#;

/// A change that cannot be made as things are: the plan shows the error
/// and apply does not run anything.
fn refuse(action: Action, path: &str, why: &str) -> Planned {
    let mut d = Diff::with_action(action);
    d.error = Some(format!("{path} {why}"));
    Planned::only(d)
}

/// A sed expression masking credentials in text (`sed -e`), shared by
/// every message the apply script prints.
const MASK_SED: &str = "s#://[^/@[:space:]]*@#://***@#g";

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Whether the ref could name a commit (4 to 40 hex digits).
fn looks_like_commit(r: &str) -> bool {
    (4..=40).contains(&r.len()) && is_hex(r)
}

/// A declared `ref` or `repo` that keel refuses, and why (a repository
/// URL is shown with its credentials masked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` {why}", .shown.escape_debug())]
struct BadSetting {
    shown: String,
    why: String,
}

/// Check a ref name the way `git check-ref-format` would, loosely.
fn check_ref(r: &str) -> Result<(), BadSetting> {
    let bad = |why: &str| {
        Err(BadSetting {
            shown: r.to_string(),
            why: why.to_string(),
        })
    };
    if r.is_empty() {
        return bad("is empty");
    }
    if r.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("contains spaces or control characters");
    }
    if r.contains("..") || r.contains("@{") || r == "@" {
        return bad("contains `..` or `@{`");
    }
    if let Some(c) = r.chars().find(|c| "~^:?*[\\".contains(*c)) {
        return bad(&format!("contains `{c}`"));
    }
    if r.starts_with('-') || r.starts_with('/') || r.ends_with('/') || r.ends_with('.') {
        return bad("starts with `-` or `/`, or ends with `/` or `.`");
    }
    if r.ends_with(".lock") || r.contains("//") || r.split('/').any(|c| c.starts_with('.')) {
        return bad("is not a valid ref name");
    }
    Ok(())
}

fn check_repo(r: &str) -> Result<(), BadSetting> {
    let bad = |why: &str| {
        Err(BadSetting {
            shown: mask_url(r),
            why: why.to_string(),
        })
    };
    if r.trim().is_empty() {
        return bad("is empty");
    }
    if r.chars().any(|c| c.is_control()) {
        return bad("contains control characters");
    }
    // Paths on the host may contain spaces; URLs may not (write `%20`).
    if !(r.starts_with('/') || r.starts_with("file://")) && r.chars().any(char::is_whitespace) {
        return bad("contains spaces");
    }
    if r.starts_with('-') {
        return bad("starts with `-`");
    }
    if r.starts_with("ext::") || r.starts_with("fd::") {
        return bad("uses a transport that runs commands (ext::, fd::)");
    }
    if has_foreign_password(r) {
        return bad(
            "holds a password in a URL that is not http(s); git cannot be given it without \
             putting it on a command line: use an SSH key (or an https URL with a token)",
        );
    }
    Ok(())
}

impl Git {
    /// The repository URL without credentials: what `.git/config` holds.
    fn clean_repo(&self) -> String {
        split_credentials(&self.repo).0
    }

    fn depth(&self) -> Option<u32> {
        self.depth.as_deref().and_then(|d| d.trim().parse().ok())
    }

    /// The local path of a repository given as a path or `file://` URL.
    fn local_repo(&self) -> Option<String> {
        let p = self.repo.strip_prefix("file://").unwrap_or(&self.repo);
        p.starts_with('/')
            .then(|| p.trim_end_matches('/').to_string())
            .filter(|p| !p.is_empty())
    }

    /// What the ref means, for the plan.
    fn ref_label(&self) -> String {
        match &self.reference {
            Some(r) => r.clone(),
            None => "(remote HEAD)".into(),
        }
    }

    /// "owner does not exist yet", when so.
    fn owner_unknown(&self, fact: &GitFact) -> Vec<String> {
        match &self.owner {
            Some(o) if fact.owner_missing => vec![format!("owner `{o}` does not exist yet")],
            _ => Vec::new(),
        }
    }

    /// Nothing at `path`, or an empty directory: clone.
    fn plan_clone(&self, fact: &GitFact) -> Planned {
        let path = self.path.as_str();
        let repo = mask_url(&self.repo);
        let unknown = self.owner_unknown(fact);
        let mut d = Diff::with_action(Action::Create)
            .attr("repo", None::<String>, Some(repo.clone()))
            .attr("ref", None::<String>, Some(self.ref_label()));
        if let Some(o) = &self.owner {
            d = d.attr("owner", None::<String>, Some(o.as_str()));
        }
        let mut reason = format!("{repo} will be cloned");
        if fact.parent_missing {
            let _ = write!(
                reason,
                "; {} will be created",
                parent_dir(path).unwrap_or_default()
            );
        } else if fact.tree == Tree::Empty {
            reason.push_str(" into the empty directory");
        }
        d.reason = Some(reason);
        d.unknown = (!unknown.is_empty()).then(|| unknown.join("; "));
        let summary = format!("clone {repo} at {} into {path}", self.ref_label());
        Planned::new(d, vec![Cmd::new(summary, self.script(fact, true))])
    }

    /// A work tree at `path`: origin, owner, the checked-out commit and
    /// local changes compared with what is declared.
    fn plan_update(&self, fact: &GitFact) -> Planned {
        let path = self.path.as_str();
        let repo = mask_url(&self.repo);
        let mut unknown = self.owner_unknown(fact);
        let mut notes = Vec::new();
        let mut d = Diff::with_action(Action::Update);
        if fact.git_missing {
            unknown.push("git is not installed yet, so the work tree cannot be read".into());
        }
        if !fact.git_missing && fact.origin.as_deref() != Some(self.clean_repo().as_str()) {
            d = d.attr(
                "repo",
                fact.origin.as_deref().map(mask_url),
                Some(repo.clone()),
            );
        }
        if let Some(o) = &self.owner
            && fact.owner.as_deref() != Some(o.as_str())
        {
            d = d.attr("owner", fact.owner.as_deref(), Some(o.as_str()));
        }
        if !fact.git_missing {
            self.commit_change(fact, &mut d, &mut unknown, &mut notes);
        }
        if let Some(refused) = self.refuse_dirty(fact, &mut d, &unknown) {
            return refused;
        }
        if let Some(refused) = self.refuse_in_way(fact, &mut d, &unknown) {
            return refused;
        }
        if d.attrs.is_empty() && unknown.is_empty() {
            let mut n = Diff::noop();
            n.reason = Some(if notes.is_empty() {
                format!(
                    "at {} ({})",
                    self.ref_label(),
                    fact.head.as_deref().map(short).unwrap_or("?")
                )
            } else {
                notes.join("; ")
            });
            return Planned::only(n);
        }
        if fact.shallow && self.depth().is_none() {
            notes.push("the clone is shallow".into());
        }
        if !notes.is_empty() {
            d.reason = Some(notes.join("; "));
        }
        d.unknown = (!unknown.is_empty()).then(|| unknown.join("; "));
        let summary = format!("fetch {repo} and check out {} in {path}", self.ref_label());
        Planned::new(d, vec![Cmd::new(summary, self.script(fact, false))])
    }

    /// The commit to check out against `HEAD`, as far as the local clone
    /// knows it: a tag or commit exactly, a branch as last fetched, an
    /// unknown ref only after the fetch at apply.
    fn commit_change(
        &self,
        fact: &GitFact,
        d: &mut Diff,
        unknown: &mut Vec<String>,
        notes: &mut Vec<String>,
    ) {
        let label = self.ref_label();
        let head = fact.head.as_deref();
        let target = fact.ref_commit.as_deref();
        let attr = |d: &mut Diff, after: String| {
            d.attrs
                .push(AttrChange::new("commit", head.map(short), Some(after)));
        };
        match (fact.ref_kind.as_ref().unwrap_or(&RefKind::Unknown), target) {
            (RefKind::Tag | RefKind::Commit, Some(t)) => {
                if head != Some(t) {
                    let after = if self.reference.as_deref().is_some_and(|r| t.starts_with(r)) {
                        short(t).to_string()
                    } else {
                        format!("{label} ({})", short(t))
                    };
                    attr(d, after);
                }
            }
            (RefKind::Branch(name), Some(t)) => {
                let shown = if self.reference.is_some() {
                    label.clone()
                } else {
                    format!("{name} (remote HEAD)")
                };
                if head != Some(t) {
                    attr(d, format!("{shown}, {} as last fetched", short(t)));
                    unknown.push(format!(
                        "`{}` is a branch: the commit it points to on the remote is fetched at apply",
                        if self.reference.is_some() { &label } else { name }
                    ));
                } else {
                    notes.push(format!(
                        "at {shown} as last fetched ({}); plans do not contact the remote",
                        short(t)
                    ));
                }
            }
            _ => {
                attr(d, format!("{label} (not in the local clone yet)"));
                unknown.push(format!(
                    "`{label}` is not in the local clone yet: it is fetched at apply"
                ));
            }
        }
    }

    /// Local changes: shown, and without `force` an error of the plan.
    fn refuse_dirty(&self, fact: &GitFact, d: &mut Diff, unknown: &[String]) -> Option<Planned> {
        let listing = fact.changes.join(", ");
        self.refuse_files(
            d,
            unknown,
            ("local changes", fact.changes_count),
            ("(discarded)", "(kept: keel refuses to discard them)"),
            |files| {
                format!(
                    "{} has local changes to {files} ({listing}); keel will not discard them: \
                     commit them elsewhere, or set `force: true`",
                    self.path
                )
            },
        )
    }

    /// Files of the work tree that the commit to check out adds: git
    /// refuses to overwrite them when untracked (apply would fail) and
    /// overwrites them silently when ignored (a local `.env` lost), or
    /// forced. Without `force` an error of the plan; with it, shown.
    fn refuse_in_way(&self, fact: &GitFact, d: &mut Diff, unknown: &[String]) -> Option<Planned> {
        let listing = fact.in_way.join(", ");
        self.refuse_files(
            d,
            unknown,
            ("files in the way", fact.in_way_count),
            ("(overwritten)", "(kept: keel refuses to overwrite them)"),
            |files| {
                format!(
                    "{} holds {files} not in its checked-out commit that {} adds ({listing}); \
                     the checkout would refuse them, or overwrite them when ignored: \
                     move them away, or set `force: true` to overwrite them",
                    self.path,
                    self.ref_label()
                )
            },
        )
    }

    /// `count` files that the work tree holds and the update would lose:
    /// shown as the attribute `what` (`forced` or `kept` after it), and
    /// without `force` the plan's error, `error("N files")`.
    fn refuse_files(
        &self,
        d: &mut Diff,
        unknown: &[String],
        (what, count): (&str, usize),
        (forced, kept): (&str, &str),
        error: impl FnOnce(&str) -> String,
    ) -> Option<Planned> {
        if count == 0 {
            return None;
        }
        let files = if count == 1 {
            "1 file".to_string()
        } else {
            format!("{count} files")
        };
        let after = if self.force { forced } else { kept };
        d.attrs
            .push(AttrChange::new(what, Some(files.clone()), Some(after)));
        if self.force {
            return None;
        }
        d.error = Some(error(&files));
        d.unknown = (!unknown.is_empty()).then(|| unknown.join("; "));
        Some(Planned::only(d.clone()))
    }

    /// The apply script: root prepares the directory and ownership, then
    /// git runs as the owner. `create`: the path is absent or empty.
    fn script(&self, fact: &GitFact, create: bool) -> String {
        let mut s = String::new();
        let p = q(&self.path);
        // The user git runs as: the declared owner, else the owner of the
        // existing tree (or empty directory).
        let user = self
            .owner
            .clone()
            .or_else(|| fact.owner.clone().filter(|o| o != "root" && o != "UNKNOWN"));
        if create {
            let _ = writeln!(s, "mkdir -p -- {p}");
        }
        if let Some(o) = &self.owner
            && (create || fact.owner.as_deref() != Some(o.as_str()))
        {
            let r = if create { "" } else { "-R " };
            let _ = writeln!(s, "chown {r}-- {} {p}", q(&format!("{o}:")));
        }
        let body = self.git_body(create);
        let end = heredoc_delim("KEEL_GIT_END", &body);
        match user {
            Some(u) => {
                let u = q(&u);
                let _ = writeln!(
                    s,
                    "if [ \"$(id -un)\" = {u} ]; then keel_as() {{ sh -s; }}; else keel_as() {{ runuser -u {u} -- sh -s; }}; fi"
                );
            }
            None => s.push_str("keel_as() { sh -s; }\n"),
        }
        let _ = writeln!(s, "keel_as <<'{end}'\n{body}\n{end}");
        s
    }

    /// The part that runs as the owner (`git/apply.sh`). Credentials are
    /// environment variables of this script (assigned from its text, which
    /// is on stdin), read by the helper; no other helper sees (or stores)
    /// them.
    fn git_body(&self, create: bool) -> String {
        let (clean, creds) = split_credentials(&self.repo);
        let mut s = String::new();
        if let Some((user, pass)) = &creds {
            let _ = writeln!(
                s,
                "KEEL_GIT_USERNAME={}\nKEEL_GIT_PASSWORD={}\nexport KEEL_GIT_USERNAME KEEL_GIT_PASSWORD GIT_TERMINAL_PROMPT=0",
                q(user),
                q(pass),
            );
        }
        let reference = self.reference.as_deref();
        s.push_str(
            &Script::new(include_str!("git/apply.sh"))
                .set("keel_p", &self.path)
                .set("keel_repo", &clean)
                .set("keel_repo_masked", mask_url(&self.repo))
                .set("keel_ref", reference.unwrap_or_default())
                .flag("keel_new", create)
                .flag("keel_force", self.force)
                .set(
                    "keel_depth",
                    self.depth()
                        .map(|n| format!("--depth={n}"))
                        .unwrap_or_default(),
                )
                .set("keel_cred", if creds.is_some() { CRED_HELPER } else { "" })
                .flag("keel_local", self.local_repo().is_some())
                .flag(
                    "keel_full_commit",
                    reference.is_some_and(|r| r.len() == 40 && is_hex(r)),
                )
                .flag("keel_commit_like", reference.is_some_and(looks_like_commit))
                .set("keel_mask_sed", MASK_SED)
                .render(),
        );
        s
    }
}

impl Kind for Git {
    const KIND: &'static str = "git";
    type Fact = GitFact;

    fn name(&self) -> String {
        self.path.clone()
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = check_host_path("path", &self.path, false);
        if let Err(e) = check_repo(&self.repo) {
            errs.push(Invalid::field("repo", e.to_string()).help(
                "a git URL (https://host/org/app.git, git@host:org/app.git, ssh://...) or a path on the host",
            ));
        }
        if let Some(r) = &self.reference
            && let Err(e) = check_ref(r)
        {
            errs.push(
                Invalid::field("ref", e.to_string())
                    .help("a tag (v1.4.2), a branch (main) or a commit (a 40-digit sha)"),
            );
        }
        if let Some(d) = &self.depth
            && self.depth().is_none_or(|n| n == 0)
        {
            errs.push(
                Invalid::field(
                    "depth",
                    format!("`{}` is not a positive number of commits", d.escape_debug()),
                )
                .help("e.g. depth: 1 for a shallow clone"),
            );
        }
        errs.extend(check_perms(None, self.owner.as_deref(), None));
        if let Some(o) = &self.owner
            && !o.is_empty()
            && o.bytes().all(|b| b.is_ascii_digit())
        {
            errs.push(
                Invalid::field("owner", format!("`{o}` is a numeric id"))
                    .help("give the user's name: git runs as that user (runuser)"),
            );
        }
        errs
    }

    fn links(&self) -> Links {
        let mut needs = vec![Ref::Package("git".into())];
        if let Some(p) = parent_dir(&self.path) {
            needs.push(Ref::Path(p));
        }
        if let Some(o) = self
            .owner
            .as_ref()
            .filter(|o| !o.bytes().all(|b| b.is_ascii_digit()))
        {
            needs.push(Ref::User(o.clone()));
        }
        if let Some(r) = self.local_repo() {
            needs.push(Ref::Path(r));
        }
        Links {
            provides: vec![Ref::Path(self.path.clone())],
            needs,
        }
    }

    fn probe(&self) -> String {
        let mut s = probe_accounts(self.owner.as_deref(), None);
        s.push_str(
            &Script::new(include_str!("git/probe.sh"))
                .set("keel_p", &self.path)
                .set(
                    "keel_parent",
                    parent_dir(&self.path).unwrap_or_else(|| "/".into()),
                )
                .render(),
        );
        // The git part runs as the tree's owner, in one session.
        let reference = self.reference.as_deref();
        let g = Script::new(include_str!("git/probe_tree.sh"))
            .set("keel_p", &self.path)
            .set("keel_ref", reference.unwrap_or_default())
            .flag("keel_commit_like", reference.is_some_and(looks_like_commit))
            .render();
        let end = heredoc_delim("KEEL_GIT_PROBE", &g);
        let _ = writeln!(s, "keel_as <<'{end}'\n{g}{end}");
        s
    }

    fn parse(&self, out: &ProbeOutput) -> Result<GitFact, FactError> {
        out.check("the probe")
            .map_err(|e| e.map_message(mask_url))?;
        let h = out.stdout.as_str();
        let get = |k: &str| kv(h, k).map(str::trim).filter(|v| !v.is_empty());
        let tree = match get("tree") {
            Some("absent") => Tree::Absent,
            Some("empty") => Tree::Empty,
            Some("dir") => Tree::Dir,
            Some("notdir") => Tree::NotDir,
            Some("worktree") => Tree::Checkout,
            Some(t) => return Err(FactError::Unexpected(format!("unknown tree type `{t}`"))),
            None => return Err("the probe printed no `tree=` line".into()),
        };
        let sha = |k: &str| -> Result<Option<String>, FactError> {
            match get(k) {
                None => Ok(None),
                Some(v) if v.len() >= 40 && is_hex(v) => Ok(Some(v.to_ascii_lowercase())),
                Some(v) => Err(format!("`{v}` is not a commit id ({k})").into()),
            }
        };
        let ref_kind = match get("ref") {
            None => None,
            Some("tag") => Some(RefKind::Tag),
            Some("commit") => Some(RefKind::Commit),
            Some("branch") => Some(RefKind::Branch(get("ref_name").unwrap_or("").to_string())),
            Some("unknown") => Some(RefKind::Unknown),
            Some(k) => return Err(FactError::Unexpected(format!("unknown ref kind `{k}`"))),
        };
        let changes_count = match get("changes") {
            None => 0,
            Some(n) => n
                .parse()
                .map_err(|_| format!("`{n}` is not a count of changes"))?,
        };
        let in_way_count = match get("in_way") {
            None => 0,
            Some(n) => n
                .parse()
                .map_err(|_| format!("`{n}` is not a count of files"))?,
        };
        Ok(GitFact {
            in_way: kv_lines(h)
                .into_iter()
                .filter(|(k, _)| *k == "in_way_file")
                .map(|(_, v)| v.to_string())
                .collect(),
            in_way_count,
            tree,
            parent_missing: get("parent") == Some("missing"),
            git_missing: get("git") == Some("missing"),
            owner: get("owner").map(String::from),
            owner_missing: get("owner_exists") == Some("no"),
            head: sha("head")?,
            // Not trimmed: the URL is compared exactly.
            origin: kv(h, "origin").filter(|v| !v.is_empty()).map(String::from),
            shallow: get("shallow") == Some("yes"),
            changes: kv_lines(h)
                .into_iter()
                .filter(|(k, _)| *k == "change")
                .map(|(_, v)| v.trim().to_string())
                .collect(),
            changes_count,
            ref_kind,
            ref_commit: sha("ref_commit")?,
        })
    }

    fn plan(&self, fact: &GitFact) -> Planned {
        let path = self.path.as_str();
        match fact.tree {
            Tree::NotDir => refuse(
                Action::Update,
                path,
                "exists and is not a directory; keel will not replace it",
            ),
            Tree::Dir => refuse(
                Action::Update,
                path,
                "is a directory that is neither empty nor a git work tree; keel will not clone over it",
            ),
            Tree::Absent | Tree::Empty => self.plan_clone(fact),
            Tree::Checkout => self.plan_update(fact),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::assert_sh_syntax;
    use crate::resources::testing::{a, attrs};
    use crate::resources::testing::{converge_locally, eval, load, run_local, try_load};

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    fn tree(head: &str, origin: &str, extra: &str) -> String {
        format!("owner=root\ntree=worktree\nhead={head}\norigin={origin}\n{extra}")
    }

    const Y: &str = "path: /srv/app/src\nrepo: https://github.com/acme/app.git\nref: v1.4.2";
    const URL: &str = "https://github.com/acme/app.git";

    #[test]
    fn absent_is_cloned() {
        let e = eval("git", Y, "tree=absent\nparent=missing\n");
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(
            attrs(&e.diff),
            vec![a("repo", None, Some(URL)), a("ref", None, Some("v1.4.2"))]
        );
        assert_eq!(
            e.diff.reason.as_deref(),
            Some("https://github.com/acme/app.git will be cloned; /srv/app will be created")
        );
        assert_eq!(
            e.commands[0].summary,
            "clone https://github.com/acme/app.git at v1.4.2 into /srv/app/src"
        );
        assert_sh_syntax(&e.commands[0].script);
        let e = eval("git", Y, "owner=root\ntree=empty\n");
        assert_eq!(e.diff.action(), Action::Create);
        assert!(e.diff.reason.unwrap().contains("empty directory"));
        assert!(!e.commands[0].script.contains("runuser"));
        // An empty directory someone owns: git runs as them.
        let e = eval("git", Y, "owner=deploy\ntree=empty\n");
        assert!(e.commands[0].script.contains("runuser -u deploy -- sh -s"));
        assert!(!e.commands[0].script.contains("chown"));
    }

    #[test]
    fn tag_at_its_commit_is_noop_and_moves_exactly() {
        let out = tree(A, URL, &format!("ref=tag\nref_commit={A}\n"));
        let e = eval("git", Y, &out);
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
        assert_eq!(e.diff.reason.as_deref(), Some("at v1.4.2 (1111111)"));
        let out = tree(A, URL, &format!("ref=tag\nref_commit={B}\n"));
        let e = eval("git", Y, &out);
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![a("commit", Some("1111111"), Some("v1.4.2 (2222222)"))]
        );
        assert_eq!(e.diff.unknown, None);
        assert_eq!(
            e.commands[0].summary,
            "fetch https://github.com/acme/app.git and check out v1.4.2 in /srv/app/src"
        );
        assert_sh_syntax(&e.commands[0].script);
    }

    #[test]
    fn commit_refs() {
        let y = format!("path: /srv/app\nrepo: {URL}\nref: \"{}\"", &B[..10]);
        let e = eval(
            "git",
            &y,
            &tree(A, URL, &format!("ref=commit\nref_commit={B}\n")),
        );
        assert_eq!(
            attrs(&e.diff),
            vec![a("commit", Some("1111111"), Some("2222222"))]
        );
        let e = eval(
            "git",
            &y,
            &tree(B, URL, &format!("ref=commit\nref_commit={B}\n")),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        assert!(load("git", &y).probe().contains("keel_commit_like=yes\n"));
        // Only hex refs are looked up as commits.
        assert!(load("git", Y).probe().contains("keel_commit_like=''\n"));
    }

    #[test]
    fn branches_are_known_after_apply_unless_at_last_fetched() {
        let y = format!("path: /srv/app\nrepo: {URL}\nref: main");
        let out = tree(
            A,
            URL,
            &format!("ref=branch\nref_name=main\nref_commit={A}\n"),
        );
        let e = eval("git", &y, &out);
        assert_eq!(e.diff.action(), Action::NoOp);
        assert!(
            e.diff
                .reason
                .unwrap()
                .contains("plans do not contact the remote")
        );
        let out = tree(
            A,
            URL,
            &format!("ref=branch\nref_name=main\nref_commit={B}\n"),
        );
        let e = eval("git", &y, &out);
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![a(
                "commit",
                Some("1111111"),
                Some("main, 2222222 as last fetched")
            )]
        );
        assert!(e.diff.unknown.unwrap().contains("`main` is a branch"));
        // The default branch (no ref).
        let y = format!("path: /srv/app\nrepo: {URL}");
        let out = tree(
            A,
            URL,
            &format!("ref=branch\nref_name=trunk\nref_commit={B}\n"),
        );
        let e = eval("git", &y, &out);
        assert_eq!(
            attrs(&e.diff),
            vec![a(
                "commit",
                Some("1111111"),
                Some("trunk (remote HEAD), 2222222 as last fetched")
            )]
        );
    }

    #[test]
    fn unknown_ref_is_fetched_at_apply() {
        let e = eval("git", Y, &tree(A, URL, "ref=unknown\n"));
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![a(
                "commit",
                Some("1111111"),
                Some("v1.4.2 (not in the local clone yet)")
            )]
        );
        assert!(
            e.diff
                .unknown
                .unwrap()
                .contains("not in the local clone yet")
        );
        // An unborn HEAD (a first clone that failed half-way).
        let e = eval(
            "git",
            Y,
            "owner=root\ntree=worktree\nhead=\norigin=\nref=unknown\n",
        );
        assert_eq!(attrs(&e.diff)[0], a("repo", None, Some(URL)));
        assert_eq!(attrs(&e.diff)[1].1, None);
    }

    #[test]
    fn dirty_tree_is_refused_unless_force() {
        let out = tree(
            A,
            URL,
            &format!("changes=2\nchange= M app.py\nchange=A  new.txt\nref=tag\nref_commit={A}\n"),
        );
        let e = eval("git", Y, &out);
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![a(
                "local changes",
                Some("2 files"),
                Some("(kept: keel refuses to discard them)")
            )]
        );
        let r = e.diff.error.unwrap();
        assert!(r.contains("M app.py, A  new.txt"), "{r}");
        assert!(r.contains("force: true"), "{r}");
        assert!(e.commands.is_empty(), "nothing runs");
        let e = eval("git", &format!("{Y}\nforce: true"), &out);
        assert_eq!(
            attrs(&e.diff),
            vec![a("local changes", Some("2 files"), Some("(discarded)"))]
        );
        assert!(e.commands[0].script.contains("reset -q --hard"));
    }

    #[test]
    fn repo_and_owner_drift() {
        let y = format!("{Y}\nowner: deploy");
        let out = tree(
            A,
            "https://old.example/app.git",
            &format!("ref=tag\nref_commit={A}\nowner_exists=yes\n"),
        );
        let e = eval("git", &y, &out);
        assert_eq!(
            attrs(&e.diff),
            vec![
                a("repo", Some("https://old.example/app.git"), Some(URL)),
                a("owner", Some("root"), Some("deploy")),
            ]
        );
        let s = &e.commands[0].script;
        assert!(s.contains("chown -R -- deploy: /srv/app/src"), "{s}");
        assert!(s.contains("runuser -u deploy -- sh -s"), "{s}");
    }

    #[test]
    fn not_a_work_tree_is_refused() {
        let e = eval("git", Y, "owner=root\ntree=dir\n");
        assert_eq!(e.diff.action(), Action::Update);
        assert!(
            e.diff
                .error
                .unwrap()
                .contains("neither empty nor a git work tree")
        );
        let e = eval("git", Y, "tree=notdir\n");
        assert!(e.diff.error.unwrap().contains("not a directory"));
        assert!(e.commands.is_empty());
    }

    #[test]
    fn git_missing_and_owner_missing_are_known_after_apply() {
        let e = eval("git", Y, "owner=root\ngit=missing\ntree=worktree\n");
        assert_eq!(e.diff.action(), Action::Update);
        assert!(e.diff.unknown.unwrap().contains("git is not installed yet"));
        let e = eval(
            "git",
            &format!("{Y}\nowner: deploy"),
            "owner_exists=no\ntree=absent\n",
        );
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(
            e.diff.unknown.as_deref(),
            Some("owner `deploy` does not exist yet")
        );
    }

    #[test]
    fn credentials_are_masked() {
        assert_eq!(
            mask_url("https://user:t0ken@github.com/acme/app.git"),
            "https://***@github.com/acme/app.git"
        );
        assert_eq!(
            mask_url("https://ghp_abc@github.com/a.git"),
            "https://***@github.com/a.git"
        );
        assert_eq!(mask_url("ssh://git@host/a.git"), "ssh://git@host/a.git");
        assert_eq!(mask_url("ssh://u:pw@host/a.git"), "ssh://***@host/a.git");
        assert_eq!(
            mask_url("git@github.com:acme/app.git"),
            "git@github.com:acme/app.git"
        );
        assert_eq!(mask_url("/srv/origin.git"), "/srv/origin.git");
        let secret = "https://user:t0ken@github.com/acme/app.git";
        let y = format!("path: /srv/app\nrepo: \"{secret}\"\nref: v1");
        for out in [
            "tree=absent\n".to_string(),
            tree(
                A,
                "https://user:old@github.com/acme/app.git",
                "ref=unknown\n",
            ),
        ] {
            let e = eval("git", &y, &out);
            let shown = format!(
                "{:?} {:?}",
                e.diff,
                e.commands.iter().map(|c| &c.summary).collect::<Vec<_>>()
            );
            assert!(
                !shown.contains("t0ken") && !shown.contains("old@"),
                "{shown}"
            );
            assert!(
                shown.contains("https://***@github.com/acme/app.git"),
                "{shown}"
            );
        }
        // The apply script masks git's output with the same rule.
        let out = run_local(&format!(
            "printf '%s\\n' 'fatal: unable to access https://user:t0ken@github.com/x' | sed -e '{MASK_SED}'"
        ));
        assert_eq!(
            out.stdout,
            "fatal: unable to access https://***@github.com/x\n"
        );
    }

    #[test]
    fn credentials_are_split_off_the_url() {
        assert_eq!(
            split_credentials("https://user:t%40ken@github.com/acme/app.git"),
            (
                "https://github.com/acme/app.git".to_string(),
                Some(("user".to_string(), "t@ken".to_string()))
            )
        );
        assert_eq!(
            split_credentials("https://ghp_abc@h/a.git"),
            (
                "https://h/a.git".to_string(),
                Some(("ghp_abc".to_string(), String::new()))
            )
        );
        assert_eq!(split_credentials("ssh://git@h/a.git").1, None);
        assert_eq!(split_credentials("/srv/origin.git").1, None);
        assert!(
            try_load("git", "path: /srv/app\nrepo: \"ssh://u:pw@h/a.git\"")
                .unwrap_err()
                .contains("SSH key")
        );
        // The script stores the URL without credentials and never puts them
        // in a command's words: only in assignments of the script itself.
        let e = eval(
            "git",
            "path: /srv/app\nrepo: \"https://user:t0ken-x@h/a.git\"\nref: v1",
            "tree=absent\n",
        );
        let script = &e.commands[0].script;
        assert!(script.contains("keel_repo=https://h/a.git\n"), "{script}");
        for l in script.lines().filter(|l| l.contains("t0ken-x")) {
            assert!(l.starts_with("KEEL_GIT_PASSWORD="), "{l}");
        }
        assert_sh_syntax(script);
        // A tree whose config holds the old URL with credentials is updated
        // to the URL without them.
        let e = eval(
            "git",
            "path: /srv/app\nrepo: \"https://user:t0ken-x@h/a.git\"\nref: v1",
            &tree(
                A,
                "https://user:t0ken-x@h/a.git",
                "ref=tag\nref_commit=1111111111111111111111111111111111111111\n",
            ),
        );
        assert!(
            e.diff.attrs.iter().any(|a| a.name == "repo"),
            "{:?}",
            e.diff
        );
        let e = eval(
            "git",
            "path: /srv/app\nrepo: \"https://user:t0ken-x@h/a.git\"\nref: v1",
            &tree(
                A,
                "https://h/a.git",
                "ref=tag\nref_commit=1111111111111111111111111111111111111111\n",
            ),
        );
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
    }

    #[test]
    fn credential_helper_answers_git() {
        // The helper, as git runs it, prints the script's credentials.
        let out = run_local(&format!(
            "KEEL_GIT_USERNAME=u KEEL_GIT_PASSWORD='p w' GIT_TERMINAL_PROMPT=0 \
             git -c credential.helper= -c credential.helper={} credential fill <<EOF\nprotocol=https\nhost=example.invalid\n\nEOF",
            q(CRED_HELPER)
        ));
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert!(
            out.stdout.contains("username=u\npassword=p w\n"),
            "{}",
            out.stdout
        );
    }

    #[test]
    fn validation() {
        let err = |y: &str| try_load("git", y).unwrap_err();
        assert!(err("path: srv/app\nrepo: x").contains("absolute"));
        assert!(err("path: /srv/app\nrepo: \"\"").contains("empty"));
        assert!(err("path: /srv/app\nrepo: \"-uhack\"").contains("starts with `-`"));
        assert!(err("path: /srv/app\nrepo: \"ext::sh -c id\"").contains("spaces"));
        assert!(err("path: /srv/app\nrepo: \"ext::sh\"").contains("runs commands"));
        for bad in [
            "\"v 1\"",
            "\"a..b\"",
            "\"-x\"",
            "\"a~1\"",
            "\"x.lock\"",
            "\"@{u}\"",
            "\"a:b\"",
        ] {
            assert!(
                try_load("git", &format!("path: /srv/app\nrepo: x\nref: {bad}")).is_err(),
                "{bad}"
            );
        }
        assert!(try_load("git", "path: /srv/app\nrepo: x\nref: release/1.x").is_ok());
        assert!(err("path: /srv/app\nrepo: x\ndepth: 0").contains("positive"));
        assert!(err("path: /srv/app\nrepo: x\ndepth: many").contains("positive"));
        assert!(try_load("git", "path: /srv/app\nrepo: x\ndepth: 1").is_ok());
        assert!(err("path: /srv/app\nrepo: x\nowner: \"a b\"").contains("owner"));
        assert!(err("path: /srv/app\nrepo: x\nowner: 1000").contains("numeric id"));
        assert!(err("path: /srv/app\nrepo: x\nbranch: main").contains("unknown"));
        // Credentials never show in validation messages either.
        assert!(!err("path: /srv/app\nrepo: \"https://u:t0ken@h/x y\"").contains("t0ken"));
    }

    #[test]
    fn odd_probe_output() {
        let r = load("git", Y);
        assert!(r.evaluate(&ProbeOutput::ok("")).is_err());
        assert!(r.evaluate(&ProbeOutput::ok("tree=weird\n")).is_err());
        assert!(
            r.evaluate(&ProbeOutput::ok("tree=worktree\nhead=xyz\n"))
                .is_err()
        );
        assert!(
            r.evaluate(&ProbeOutput::ok("tree=worktree\nchanges=lots\n"))
                .is_err()
        );
        let failed = ProbeOutput {
            stdout: String::new(),
            stderr: "fatal: https://u:p@h/x".into(),
            status: 1,
        };
        assert_eq!(r.evaluate(&failed).unwrap_err(), "fatal: https://***@h/x");
    }

    #[test]
    fn links() {
        let l = load("git", &format!("{Y}\nowner: deploy")).links();
        assert_eq!(l.provides, vec![Ref::Path("/srv/app/src".into())]);
        assert_eq!(
            l.needs,
            vec![
                Ref::Package("git".into()),
                Ref::Path("/srv/app".into()),
                Ref::User("deploy".into())
            ]
        );
        let l = load("git", "path: /srv/app\nrepo: file:///srv/origin.git").links();
        assert!(l.needs.contains(&Ref::Path("/srv/origin.git".into())));
    }

    // -----------------------------------------------------------------------
    // Real git, locally: a bare origin with two tags and a branch.

    fn sh_ok(script: &str) -> String {
        let out = run_local(script);
        assert_eq!(out.status, 0, "{script}\n{}", out.stderr);
        out.stdout.trim().to_string()
    }

    /// An origin repository at `dir/ori gin's.git` with tags v1, v2 and a
    /// branch `next` one commit after v2; returns its path.
    fn origin(dir: &std::path::Path) -> String {
        bare_repo(
            dir,
            "ori gin's.git",
            "echo one > file.txt; g add file.txt; g commit -q -m one; g tag v1
echo two > file.txt; g commit -q -am two; g tag -a -m 'version 2' v2
g checkout -q -b next; echo three > file.txt; g commit -q -am three",
            "main next v1 v2",
        )
    }

    /// A bare repository `dir/NAME` holding `refs`, made by running
    /// `history` (shell, `g` is git with an author) in a scratch clone of
    /// an empty `main`; returns its path.
    fn bare_repo(dir: &std::path::Path, name: &str, history: &str, refs: &str) -> String {
        let o = dir.join(name);
        let w = dir.join(format!("{name}.scratch"));
        let (o, w) = (o.to_str().unwrap(), w.to_str().unwrap());
        sh_ok(&format!(
            "set -e
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
git init -q --bare -b main {o}
git init -q -b main {w}
cd {w}
g() {{ git -c user.name=t -c user.email=t@example.invalid \"$@\"; }}
{history}
g push -q {o} {refs}",
            o = q(o),
            w = q(w)
        ));
        o.to_string()
    }

    fn rev(dir: &str, r: &str) -> String {
        sh_ok(&format!(
            "git -C {} rev-parse {}",
            q(dir),
            q(&format!("{r}^{{commit}}"))
        ))
    }

    fn git_yaml(path: &str, repo: &str, extra: &str) -> String {
        format!(
            "path: {}\nrepo: {}\n{extra}",
            serde_json::to_string(path).unwrap(),
            serde_json::to_string(repo).unwrap()
        )
    }

    #[test]
    fn converges_locally_through_tags_branches_and_dirt() {
        let dir = tempfile::tempdir().unwrap();
        let o = origin(dir.path());
        let wt = dir.path().join("app $(touch pwned) 'q'/src");
        let wt = wt.to_str().unwrap();

        // Clone at v1 (parent directory missing).
        let r = load("git", &git_yaml(wt, &o, "ref: v1"));
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(before.diff.action(), Action::Create);
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);
        assert_eq!(
            sh_ok(&format!("git -C {} rev-parse HEAD", q(wt))),
            rev(&o, "v1")
        );
        assert_eq!(sh_ok(&format!("cat {}/file.txt", q(wt))), "one");
        assert!(!dir.path().join("pwned").exists());

        // v2: an annotated tag, not fetched yet → known after apply.
        let r = load("git", &git_yaml(wt, &o, "ref: v2\ndepth: 1"));
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(before.diff.action(), Action::Update);
        assert!(before.diff.unknown.is_some());
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);
        assert_eq!(sh_ok(&format!("cat {}/file.txt", q(wt))), "two");

        // Back to v1: now a local tag, compared exactly.
        let r = load("git", &git_yaml(wt, &o, "ref: v1"));
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert_eq!(
            attrs(&e.diff),
            vec![a(
                "commit",
                Some(&rev(&o, "v2")[..7]),
                Some(&format!("v1 ({})", &rev(&o, "v1")[..7]))
            )]
        );
        assert_eq!(e.diff.unknown, None);

        // The branch `next`.
        let r = load("git", &git_yaml(wt, &o, "ref: next"));
        let (_, after) = converge_locally(r.as_ref());
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);
        assert_eq!(sh_ok(&format!("cat {}/file.txt", q(wt))), "three");

        // A commit by its sha, already here: no fetch needed.
        let v1 = rev(&o, "v1");
        let r = load("git", &git_yaml(wt, &o, &format!("ref: \"{v1}\"")));
        let (_, after) = converge_locally(r.as_ref());
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);

        // Dirty by hand: refused without force, discarded with it;
        // untracked files survive. A plan made while the tree was clean
        // still refuses at apply (the script checks again).
        let r = load("git", &git_yaml(wt, &o, "ref: v2"));
        let planned = r.evaluate(&run_local(&r.probe())).unwrap();
        assert_eq!(planned.diff.error, None);
        sh_ok(&format!(
            "echo local > {wt}/file.txt && echo keep > {wt}/.env",
            wt = q(wt)
        ));
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert_eq!(
            attrs(&e.diff)[1],
            a(
                "local changes",
                Some("1 file"),
                Some("(kept: keel refuses to discard them)")
            )
        );
        assert!(
            e.diff
                .error
                .unwrap()
                .contains("has local changes to 1 file (M file.txt)")
        );
        let run = run_local(&planned.commands[0].script);
        assert_ne!(run.status, 0);
        assert!(run.stderr.contains("local changes"), "{}", run.stderr);
        assert_eq!(sh_ok(&format!("cat {}/file.txt", q(wt))), "local");
        let r = load("git", &git_yaml(wt, &o, "ref: v2\nforce: true"));
        let (_, after) = converge_locally(r.as_ref());
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);
        assert_eq!(sh_ok(&format!("cat {}/file.txt", q(wt))), "two");
        assert_eq!(sh_ok(&format!("cat {}/.env", q(wt))), "keep");

        // A ref that exists nowhere fails with a clear message.
        let r = load("git", &git_yaml(wt, &o, "ref: v9"));
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        let run = run_local(&e.commands[0].script);
        assert_ne!(run.status, 0);
        assert!(
            run.stderr.contains("`v9` is not a tag, branch or commit"),
            "{}",
            run.stderr
        );
    }

    #[test]
    fn default_branch_and_failed_first_clone() {
        let dir = tempfile::tempdir().unwrap();
        let o = origin(dir.path());
        let wt = dir.path().join("default");
        let wt = wt.to_str().unwrap();
        let r = load("git", &git_yaml(wt, &format!("file://{o}"), ""));
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(before.diff.action(), Action::Create);
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);
        assert_eq!(sh_ok(&format!("cat {}/file.txt", q(wt))), "two");

        // A repository that does not exist: apply fails, nothing is left.
        let bad = dir.path().join("empty");
        std::fs::create_dir(&bad).unwrap();
        let r = load(
            "git",
            &git_yaml(bad.to_str().unwrap(), "/nonexistent/repo.git", "ref: v1"),
        );
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert_eq!(e.diff.action(), Action::Create);
        let run = run_local(&e.commands[0].script);
        assert_ne!(run.status, 0);
        assert!(
            run.stderr.contains("keel: `v1` is not a tag"),
            "{}",
            run.stderr
        );
        assert_eq!(std::fs::read_dir(&bad).unwrap().count(), 0, "no .git left");
    }

    /// A commit that adds a file the work tree already holds, ignored
    /// there (a local `.env`): git would overwrite it without a word. The
    /// plan refuses when it knows the commit; apply refuses when only the
    /// fetch reveals it; `force: true` overwrites it and the plan says so.
    #[test]
    fn files_the_new_commit_adds_are_not_overwritten_silently() {
        let dir = tempfile::tempdir().unwrap();
        let o = bare_repo(
            dir.path(),
            "origin.git",
            "echo .env > .gitignore; g add .gitignore; g commit -q -m one; g tag a1
echo ENV=repo > .env; g add -f .env; g commit -q -m two; g tag a2",
            "main a1 a2",
        );
        let o = o.as_str();
        let wt = dir.path().join("app");
        let wt = wt.to_str().unwrap();
        let env = format!("{wt}/.env");
        let (before, _) = converge_locally(load("git", &git_yaml(wt, o, "ref: a1")).as_ref());
        assert_eq!(before.diff.action(), Action::Create);
        std::fs::write(&env, "SECRET=local\n").unwrap();

        // a2 is not in the clone yet: the plan cannot know; apply refuses.
        let r = load("git", &git_yaml(wt, o, "ref: a2"));
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert!(e.diff.error.is_none(), "{:?}", e.diff);
        let run = run_local(&e.commands[0].script);
        assert_ne!(run.status, 0, "apply refuses");
        assert!(run.stderr.contains("will not overwrite them"), "{}", run.stderr);
        assert!(run.stderr.contains(".env"), "{}", run.stderr);
        assert_eq!(std::fs::read_to_string(&env).unwrap(), "SECRET=local\n");

        // Now a2 is in the clone (the fetch above): the plan refuses.
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert!(e.commands.is_empty());
        let err = e.diff.error.expect("a plan error");
        assert!(err.contains("that a2 adds (.env)"), "{err}");
        assert_eq!(std::fs::read_to_string(&env).unwrap(), "SECRET=local\n");

        // force: true overwrites it, and says so.
        let r = load("git", &git_yaml(wt, o, "ref: a2\nforce: true"));
        let (before, after) = converge_locally(r.as_ref());
        assert!(
            attrs(&before.diff).contains(&a(
                "files in the way",
                Some("1 file"),
                Some("(overwritten)")
            )),
            "{:?}",
            before.diff
        );
        assert_eq!(after.diff.action(), Action::NoOp);
        assert_eq!(std::fs::read_to_string(&env).unwrap(), "ENV=repo\n");
    }
}

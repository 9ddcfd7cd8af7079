//! The `file` kind: a regular file's content, mode and ownership.
//!
//! ```yaml
//! - file:
//!     path: /etc/app/app.conf
//!     template: app.conf.hbs      # or `content:` (text) or `source:` (a local file, may be binary)
//!     mode: "0640"
//!     owner: app
//!     group: app
//! ```
//!
//! The probe prints what the path is (`type=absent|file|dir|link|other`), the
//! mode, owner and group (`stat`), the size and sha256 of a regular file, and
//! its content base64-encoded when it is at most [`SHOW_LIMIT`] bytes, so the
//! plan can show a unified diff. Contents are compared by sha256 (computed
//! locally with `sha2`), never by downloading large files.
//!
//! Writes are atomic ([`shell::write_file_atomic`]): a private (0600)
//! temporary file in the same directory gets the content, then owner and
//! mode, then is renamed over the target. A missing parent directory is
//! created with `mkdir -p` (declare a `directory` resource to choose its
//! mode; it is then ordered first).
//!
//! keel never replaces something that is not a regular file: a directory, a
//! symbolic link or a device at `path` yields a change whose command fails
//! with a clear message, so the plan shows the problem and apply stops there.
//! With `state: absent` a regular file, a link (not its target) or a special
//! file is removed; a directory is not.
//!
//! What would make the write fail is a plan error too, found by the probe
//! ([`probe_obstacle`]): a missing path under something that is not a
//! directory (`/etc/app` a file, for `/etc/app/app.conf`), and, when keel
//! runs as root, a file or directory root cannot write (a read-only mount,
//! `chattr +i`), and a file that is a mount point (bind-mounted, as
//! `/etc/resolv.conf` in a container), which no rename can replace. A file
//! already as declared stays a no-op there.
//!
//! Without `content`, `template` or `source` only mode and ownership are
//! managed; a missing file is then created empty (the plan says so).
//!
//! Path types, `stat` facts, permission diffs and validation are shared with
//! the `directory` and `line` kinds through [`super::common::paths`].

use super::common::State;
use super::common::content::{SHOW_LIMIT, sha256_hex, showable, split_content};
use super::common::paths::{
    Accounts, Obstacle, PathType, Stat, Wanted, check_host_path, check_perms, path_links,
    perm_commands, probe_accounts, probe_obstacle, refusal,
};
use super::*;
use crate::shell::{self, Script, q};

/// A regular file on the host.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// Absolute path on the host.
    pub path: String,
    #[serde(default)]
    pub state: State,
    /// The content, as text.
    pub content: Option<String>,
    /// A handlebars template file, rendered at load time.
    pub template: Option<String>,
    /// A local file uploaded as is (may be binary).
    pub source: Option<String>,
    /// Octal mode, e.g. "0640".
    pub mode: Option<String>,
    pub owner: Option<String>,
    pub group: Option<String>,
    /// A command that checks the new content before it replaces the file;
    /// `%s` is the new content's temporary path (`promtool check config %s`).
    pub validate: Option<String>,
    /// A command run after the file is replaced (`nginx -t`); when it fails,
    /// the previous file is put back and the resource fails.
    pub verify: Option<String>,
    /// The content read from `template` or `source` by `prepare()`.
    #[serde(skip)]
    loaded: Option<Vec<u8>>,
}

/// The live state of a file path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileFact {
    pub path: PathType,
    /// Mode and ownership (regular files only).
    pub stat: Stat,
    pub sha256: Option<String>,
    /// The content, when the file is regular, readable and small enough.
    pub content: Option<Vec<u8>>,
    /// The parent directory does not exist (only probed when absent).
    pub parent_missing: bool,
    pub accounts: Accounts,
    /// What would make a write fail (a file where a parent directory
    /// should be, a read-only mount, an immutable file).
    pub obstacle: Obstacle,
}

impl File {
    /// The sha256 of the declared content (`None`: none declared), which
    /// the prune ledger keeps to tell a file changed by hand.
    pub fn content_sha256(&self) -> Option<String> {
        self.desired().map(sha256_hex)
    }

    /// The desired content, if any was declared.
    fn desired(&self) -> Option<&[u8]> {
        match (&self.content, &self.loaded) {
            (Some(c), _) => Some(c.as_bytes()),
            (None, Some(d)) => Some(d),
            (None, None) => None,
        }
    }

    fn checks(&self) -> shell::Checks {
        shell::Checks {
            validate: self.validate.clone(),
            verify: self.verify.clone(),
        }
    }

    fn wanted(&self) -> Wanted<'_> {
        Wanted {
            mode: self.mode.as_deref().and_then(|m| normalize_mode(m).ok()),
            owner: self.owner.as_deref(),
            group: self.group.as_deref(),
        }
    }

    /// `state: absent`: remove what is there, except a directory.
    fn plan_removal(&self, fact: &FileFact) -> Planned {
        let path = self.path.as_str();
        let reason = match &fact.path {
            PathType::Absent => return Planned::only(Diff::noop().reason("does not exist")),
            PathType::Dir => {
                return refusal(
                    Action::Delete,
                    path,
                    "is a directory; keel will not remove it (use a `directory` resource)",
                );
            }
            PathType::Link(t) => {
                format!("is a symbolic link to `{t}`; the link will be removed, not its target")
            }
            PathType::Other => {
                "is a special file (device, socket or pipe); it will be removed".into()
            }
            PathType::File => "exists".into(),
        };
        Planned::new(
            Diff::with_action(Action::Delete).reason(reason),
            vec![Cmd::new(
                format!("remove {path}"),
                format!("rm -f -- {}\n", q(path)),
            )],
        )
    }

    /// A missing file: written with its content (empty when none is
    /// declared), its directory made first when that is missing too.
    fn plan_create(&self, fact: &FileFact) -> Planned {
        let path = self.path.as_str();
        let wanted = self.wanted();
        let desired = self.desired();
        let data = desired.unwrap_or_default();
        let mut diff = Diff::with_action(Action::Create);
        set_content(&mut diff, None, data);
        diff.attrs.extend(wanted.changes(None));
        let mut reasons = Vec::new();
        if desired.is_none() {
            reasons.push("no content given: an empty file will be created".to_string());
        }
        let mut script = String::new();
        if fact.parent_missing
            && let Some(parent) = parent_dir(path)
        {
            reasons.push(format!("its directory {parent} will be created"));
            script.push_str(&format!("mkdir -p -- {}\n", q(&parent)));
        }
        if !reasons.is_empty() {
            diff.reason = Some(reasons.join("; "));
        }
        diff.unknown = fact.accounts.unknown(&wanted);
        script.push_str(&shell::write_file_checked(
            path,
            data,
            &wanted.perms(false),
            &self.checks(),
        ));
        let summary = format!("create {path} ({}{})", bytes(data.len()), wanted.describe());
        Planned::new(diff, vec![Cmd::new(summary, script)])
    }

    /// An existing regular file: its content replaced when it differs (with
    /// the declared permissions), else only its permissions fixed.
    fn plan_update(&self, fact: &FileFact) -> Planned {
        let path = self.path.as_str();
        let wanted = self.wanted();
        let new_content = self
            .desired()
            .filter(|d| fact.sha256.as_deref() != Some(sha256_hex(d).as_str()));
        let drift = wanted.drift(Some(&fact.stat));
        if new_content.is_none() && drift.is_empty() {
            return Planned::only(Diff::noop());
        }
        let mut diff = Diff::with_action(Action::Update);
        if let Some(d) = new_content {
            set_content(&mut diff, Some(fact), d);
            if fact.sha256.is_none() {
                diff.reason = Some("the current content cannot be read".into());
            }
        }
        diff.attrs.extend(drift.attrs.iter().cloned());
        diff.unknown = fact.accounts.unknown(&wanted);
        let cmds = match new_content {
            Some(d) => vec![Cmd::new(
                format!("write {path} ({}{})", bytes(d.len()), wanted.describe()),
                shell::write_file_checked(path, d, &wanted.perms(false), &self.checks()),
            )],
            None => perm_commands(path, &drift, &wanted, false),
        };
        Planned::new(diff, cmds)
    }
}

impl Kind for File {
    const KIND: &'static str = "file";
    type Fact = FileFact;

    fn name(&self) -> String {
        self.path.clone()
    }

    fn prepare(&mut self, cx: &mut dyn PrepareCx) -> Result<(), Vec<Invalid>> {
        // Conflicting sources are reported by `check()`; read nothing then.
        if self.sources().len() != 1 {
            return Ok(());
        }
        if let Some(t) = &self.template {
            let text = cx
                .render_template(t)
                .map_err(|e| vec![Invalid::field("template", e)])?;
            self.loaded = Some(text.into_bytes());
        } else if let Some(s) = &self.source {
            let data = cx
                .read_local(s)
                .map_err(|e| vec![Invalid::field("source", e)])?;
            self.loaded = Some(data);
        }
        Ok(())
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = check_host_path("path", &self.path, false);
        let sources = self.sources();
        if sources.len() > 1 {
            errs.push(
                Invalid::field(
                    sources[1],
                    format!(
                        "`{}` and `{}` both give the content",
                        sources[0], sources[1]
                    ),
                )
                .help("use exactly one of `content`, `template` or `source`"),
            );
        }
        errs.extend(check_perms(
            self.mode.as_deref(),
            self.owner.as_deref(),
            self.group.as_deref(),
        ));
        if let Some(v) = &self.validate
            && !v.contains("%s")
        {
            errs.push(
                Invalid::field("validate", "`validate` must contain `%s`, the new content's temporary path")
                    .help("e.g. `validate: \"promtool check config %s\"`; to check the installed configuration (`nginx -t`), use `verify:`"),
            );
        }
        if self.state == State::Absent {
            let declared = [
                ("content", self.content.is_some()),
                ("template", self.template.is_some()),
                ("source", self.source.is_some()),
                ("mode", self.mode.is_some()),
                ("owner", self.owner.is_some()),
                ("group", self.group.is_some()),
                ("validate", self.validate.is_some()),
                ("verify", self.verify.is_some()),
            ];
            errs.extend(unused_when_absent(&declared));
        }
        errs
    }

    fn touches(&self) -> Touches {
        let written = match (self.state, self.desired()) {
            (State::Present, Some(d)) => {
                std::str::from_utf8(d).map_or(Written::Unknown, |t| Written::Whole(t.to_string()))
            }
            _ => Written::Unknown,
        };
        Touches::default().write(&self.path, written)
    }

    fn links(&self) -> Links {
        path_links(
            self.state,
            &self.path,
            self.owner.as_deref(),
            self.group.as_deref(),
        )
    }

    fn probe(&self) -> String {
        let mut s = probe_accounts(self.owner.as_deref(), self.group.as_deref());
        // Before the file's probe, which ends with the content.
        s.push_str(&probe_obstacle(&self.path, true));
        s.push_str(
            &Script::new(include_str!("file/probe.sh"))
                .set("p", &self.path)
                .set("limit", SHOW_LIMIT.to_string())
                .set(
                    "parent",
                    parent_dir(&self.path).unwrap_or_else(|| "/".into()),
                )
                .render(),
        );
        s
    }

    fn parse(&self, out: &ProbeOutput) -> Result<FileFact, FactError> {
        let (header, content) = split_content(&out.stdout);
        let path = PathType::parse(header)?;
        let mut fact = FileFact {
            accounts: Accounts::parse(header),
            obstacle: Obstacle::parse(header),
            ..FileFact::default()
        };
        if path == PathType::File {
            fact.stat = Stat::parse(header)?;
            fact.sha256 = kv(header, "sha256")
                .map(str::trim)
                .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(str::to_ascii_lowercase);
            if let Some(b64) = content {
                let data = shell::unbase64(b64).map_err(|e| format!("file content: {e}"))?;
                fact.sha256.get_or_insert_with(|| sha256_hex(&data));
                fact.content = Some(data);
            }
        }
        fact.parent_missing = kv(header, "parent") == Some("missing");
        fact.path = path;
        Ok(fact)
    }

    fn plan(&self, fact: &FileFact) -> Planned {
        let planned = self.plan_path(fact);
        fact.obstacle.refuse(&self.path, planned)
    }
}

impl File {
    /// The change the path calls for, before what stands in its way.
    fn plan_path(&self, fact: &FileFact) -> Planned {
        let path = self.path.as_str();
        if self.state == State::Absent {
            return self.plan_removal(fact);
        }
        match &fact.path {
            PathType::Dir => refusal(
                Action::Update,
                path,
                "is a directory; keel will not replace it",
            ),
            PathType::Link(t) => refusal(
                Action::Update,
                path,
                &format!(
                    "is a symbolic link to `{t}`; keel will not replace it (manage the file it points to instead)"
                ),
            ),
            PathType::Other => refusal(
                Action::Update,
                path,
                "is a special file (device, socket or pipe); keel will not replace it",
            ),
            PathType::Absent => self.plan_create(fact),
            PathType::File => self.plan_update(fact),
        }
    }
}

impl File {
    /// The content fields that are set, in declaration order.
    fn sources(&self) -> Vec<&'static str> {
        [
            ("content", self.content.is_some()),
            ("template", self.template.is_some()),
            ("source", self.source.is_some()),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(f, _)| f)
        .collect()
    }
}

/// Record a content change: a text diff when the new content is showable
/// text, otherwise a `content` attribute with sizes and keyed digests.
///
/// The content may come from a secret (a key file, a large rendered
/// template) and the live file may hold the previous secret, so a plain
/// sha256 of either is an offline oracle in a printed or saved plan: both
/// sides show a digest keyed with the machine key ([`crate::keyed`]), of
/// the content's sha256 so the live side (known only by its sha256) and
/// the new side compare equal when the bytes are equal.
fn set_content(diff: &mut Diff, old: Option<&FileFact>, new: &[u8]) {
    match showable(new) {
        Some(after) => {
            diff.content = Some(ContentChange {
                before: old.and_then(|f| f.content.as_deref()).and_then(showable),
                after,
            })
        }
        None => {
            let before = old.map(|f| match &f.sha256 {
                Some(h) => shown_digest(bytes_opt(f.stat.size), h),
                None => "unreadable".to_string(),
            });
            diff.attrs.push(AttrChange::new(
                "content",
                before,
                Some(shown_digest(bytes(new.len()), &sha256_hex(new))),
            ));
        }
    }
}

/// `size, digest K` where K is a keyed digest of `sha256` (only the size
/// when the machine key cannot be had).
fn shown_digest(size: String, sha256: &str) -> String {
    match crate::keyed::digest("file-content", &[sha256.as_bytes()]) {
        Ok(d) => format!("{size}, keyed digest {}", &d[..12]),
        Err(_) => size,
    }
}

fn bytes(n: usize) -> String {
    if n == 1 {
        "1 byte".into()
    } else {
        format!("{n} bytes")
    }
}

fn bytes_opt(n: Option<u64>) -> String {
    n.map_or_else(|| "? bytes".into(), |n| bytes(n as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::{converge_locally, eval, load, run_local, try_load};

    fn b64(s: &[u8]) -> String {
        shell::base64(s)
    }

    fn file_probe(content: &[u8], mode: &str) -> String {
        format!(
            "type=file\nmode={mode}\nuid=0\ngid=0\nowner=root\ngroup=root\nsize={}\nsha256={}\ncontent:\n{}\n",
            content.len(),
            sha256_hex(content),
            b64(content)
        )
    }

    fn me() -> (String, String) {
        let u = run_local("id -un").stdout.trim().to_string();
        let g = run_local("id -gn").stdout.trim().to_string();
        (u, g)
    }

    #[test]
    fn absent_file_is_created_with_content_and_attrs() {
        let e = eval(
            "file",
            "path: /etc/app.conf\ncontent: \"a=1\\n\"\nmode: 640\nowner: app\n",
            "owner_exists=yes\ntype=absent\n",
        );
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(
            e.diff.content,
            Some(ContentChange {
                before: None,
                after: "a=1\n".into()
            })
        );
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new("mode", None::<String>, Some("0640")),
                AttrChange::new("owner", None::<String>, Some("app")),
            ]
        );
        assert_eq!(e.diff.unknown, None);
        assert_eq!(e.commands.len(), 1);
        assert_eq!(
            e.commands[0].summary,
            "create /etc/app.conf (4 bytes, mode 0640, owner app)"
        );
        assert!(
            e.commands[0]
                .script
                .contains("mv -f -- \"$keel_tmp\" /etc/app.conf")
        );
        assert!(!e.commands[0].script.contains("mkdir"));
    }

    #[test]
    fn missing_parent_is_created_and_said() {
        let e = eval(
            "file",
            "path: /srv/new/x\ncontent: hi\n",
            "type=absent\nparent=missing\n",
        );
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(
            e.diff.reason.as_deref(),
            Some("its directory /srv/new will be created")
        );
        assert!(e.commands[0].script.starts_with("mkdir -p -- /srv/new\n"));
    }

    #[test]
    fn no_content_creates_empty_file_and_says_so() {
        let e = eval(
            "file",
            "path: /var/log/app.log\nmode: \"0600\"\n",
            "type=absent\n",
        );
        assert_eq!(e.diff.action(), Action::Create);
        assert!(e.diff.reason.unwrap().contains("empty file"));
        assert_eq!(e.diff.content.unwrap().after, "");
    }

    #[test]
    fn equal_file_is_noop() {
        let e = eval(
            "file",
            "path: /etc/motd\ncontent: \"hello\\n\"\nmode: \"0644\"\nowner: root\ngroup: \"0\"\n",
            &file_probe(b"hello\n", "644"),
        );
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
        assert!(e.commands.is_empty());
    }

    #[test]
    fn content_drift_shows_a_text_diff() {
        let e = eval(
            "file",
            "path: /etc/motd\ncontent: \"new\\n\"\n",
            &file_probe(b"old\n", "644"),
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.content,
            Some(ContentChange {
                before: Some("old\n".into()),
                after: "new\n".into()
            })
        );
        assert!(e.diff.attrs.is_empty());
        assert_eq!(e.commands[0].summary, "write /etc/motd (4 bytes)");
    }

    #[test]
    fn large_file_compares_by_hash_only() {
        let big = "x".repeat(300 * 1024);
        let probe = format!(
            "type=file\nmode=644\nuid=0\ngid=0\nowner=root\ngroup=root\nsize={}\nsha256={}\n",
            big.len(),
            sha256_hex(big.as_bytes())
        );
        let r = load("file", "path: /big\ncontent: small\n");
        let e = r.evaluate(&ProbeOutput::ok(probe.clone())).unwrap();
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(e.diff.content.as_ref().unwrap().before, None);
        // Same content, large: equal by hash.
        let yaml = format!("path: /big\ncontent: {big}\n");
        let e = eval("file", &yaml, &probe);
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn mode_and_owner_drift_are_attrs_and_chmod_chown() {
        let e = eval(
            "file",
            "path: /etc/shadow-ish\ncontent: \"s\\n\"\nmode: \"0600\"\nowner: app\ngroup: app\n",
            &format!(
                "owner_exists=yes\ngroup_exists=yes\n{}",
                file_probe(b"s\n", "644")
            ),
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(e.diff.content, None);
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new("mode", Some("0644"), Some("0600")),
                AttrChange::new("owner", Some("root"), Some("app")),
                AttrChange::new("group", Some("root"), Some("app")),
            ]
        );
        let summaries: Vec<_> = e.commands.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            summaries,
            [
                "chown app:app /etc/shadow-ish",
                "chmod 0600 /etc/shadow-ish"
            ]
        );
        assert_eq!(e.commands[0].script, "chown app:app /etc/shadow-ish\n");
        assert_eq!(e.commands[1].script, "chmod 0600 /etc/shadow-ish\n");
    }

    #[test]
    fn missing_owner_is_known_after_apply() {
        let e = eval(
            "file",
            "path: /srv/app/env\ncontent: x\nowner: app\ngroup: app\n",
            "owner_exists=no\ngroup_exists=no\ntype=absent\n",
        );
        assert_eq!(
            e.diff.unknown.as_deref(),
            Some("owner `app` does not exist yet; group `app` does not exist yet")
        );
        let r = load(
            "file",
            "path: /srv/app/env\ncontent: x\nowner: app\ngroup: \"1000\"\n",
        );
        assert!(r.probe().contains("getent passwd app"));
        assert!(
            !r.probe().contains("getent group"),
            "numeric ids are not looked up"
        );
    }

    #[test]
    fn binary_content_is_an_attr_with_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("blob.bin");
        std::fs::write(&src, [0u8, 159, 146, 150, 255]).unwrap();
        let yaml = format!("path: /usr/local/bin/blob\nsource: {}\n", src.display());
        let e = eval("file", &yaml, &file_probe(b"old\n", "755"));
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(e.diff.content, None);
        assert_eq!(e.diff.attrs.len(), 1);
        assert_eq!(e.diff.attrs[0].name, "content");
        let before = e.diff.attrs[0].before.as_ref().unwrap();
        let after = e.diff.attrs[0].after.as_ref().unwrap();
        assert!(before.starts_with("4 bytes, keyed digest "), "{before}");
        assert!(after.starts_with("5 bytes, keyed digest "), "{after}");
        assert_ne!(before, after);
    }

    /// Binary content (possibly a secret key) and the live file (possibly
    /// the previous secret) show nothing a guess can be checked against
    /// offline: no plain sha256, not even a prefix.
    #[test]
    fn binary_content_shows_no_plain_hash() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("key.bin");
        let secret = [0u8, 1, 2, 3];
        std::fs::write(&src, secret).unwrap();
        let old = b"\0old-secret";
        let yaml = format!("path: /etc/app/key\nsource: {}\n", src.display());
        let e = eval("file", &yaml, &file_probe(old, "600"));
        let attr = &e.diff.attrs[0];
        let shown = format!("{:?} {:?}", attr.before, attr.after);
        for plain in [sha256_hex(&secret), sha256_hex(old)] {
            for n in [6, 8, 12] {
                assert!(
                    !shown.contains(&plain[..n]),
                    "{shown} shows {}",
                    &plain[..n]
                );
            }
        }
        assert!(!shown.contains("sha256"), "{shown}");
    }

    #[test]
    fn directory_at_path_is_refused() {
        let e = eval("file", "path: /etc/app\ncontent: x\n", "type=dir\n");
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.reason.as_deref(),
            Some("is a directory; keel will not replace it")
        );
        // A plan error (exit 1), with nothing to run.
        assert_eq!(
            e.diff.error.as_deref(),
            Some("/etc/app is a directory; keel will not replace it")
        );
        assert!(e.commands.is_empty());
        let e = eval(
            "file",
            "path: /etc/resolv.conf\ncontent: x\n",
            "type=link\ntarget=../run/resolv.conf\n",
        );
        assert!(
            e.diff
                .reason
                .unwrap()
                .contains("symbolic link to `../run/resolv.conf`")
        );
        let e = eval("file", "path: /etc/app\nstate: absent\n", "type=dir\n");
        assert_eq!(e.diff.action(), Action::Delete);
        assert!(e.diff.error.is_some() && e.commands.is_empty());
    }

    #[test]
    fn state_absent_removes_and_absence_is_noop() {
        let e = eval(
            "file",
            "path: /etc/old.conf\nstate: absent\n",
            &file_probe(b"x", "644"),
        );
        assert_eq!(e.diff.action(), Action::Delete);
        assert_eq!(e.commands[0].summary, "remove /etc/old.conf");
        assert_eq!(e.commands[0].script, "rm -f -- /etc/old.conf\n");
        let e = eval(
            "file",
            "path: /etc/old.conf\nstate: absent\n",
            "type=absent\n",
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        assert!(e.commands.is_empty());
    }

    #[test]
    fn odd_probe_output() {
        let r = load("file", "path: /x\ncontent: a\n");
        assert!(r.evaluate(&ProbeOutput::ok("")).is_err());
        assert!(r.evaluate(&ProbeOutput::ok("type=socketish\n")).is_err());
        assert!(
            r.evaluate(&ProbeOutput::ok("type=file\nmode=zz\n"))
                .is_err()
        );
        assert!(
            r.evaluate(&ProbeOutput::ok("type=file\ncontent:\n!!!\n"))
                .is_err()
        );
        // Unreadable file: written, and the plan says why.
        let e = r
            .evaluate(&ProbeOutput::ok(
                "noise\ntype=file\nmode=600\nreadable=no\n",
            ))
            .unwrap();
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.reason.as_deref(),
            Some("the current content cannot be read")
        );
        // Empty file: the content marker is the last line.
        let e = r
            .evaluate(&ProbeOutput::ok(format!(
                "type=file\nmode=644\nsha256={}\ncontent:\n",
                sha256_hex(b"")
            )))
            .unwrap();
        assert_eq!(e.diff.content.unwrap().before.as_deref(), Some(""));
        assert_eq!(
            split_content("type=file\ncontent:"),
            ("type=file", Some(""))
        );
    }

    #[test]
    fn validation_errors() {
        let err = |y: &str| try_load("file", y).unwrap_err();
        assert!(err("path: etc/x\n").contains("not an absolute path"));
        assert!(err("path: /etc/x/\n").contains("not a clean path"));
        assert!(err("path: /\n").contains("cannot be managed"));
        assert!(err("path: /x\nmode: \"0999\"\n").contains("not an octal file mode"));
        assert!(err("path: /x\nmode: rw-r--r--\n").contains("not an octal"));
        assert!(err("path: /x\ncontent: a\ntemplate: t.hbs\n").contains("both give the content"));
        assert!(err("path: /x\nstate: absent\ncontent: a\n").contains("no effect"));
        assert!(err("path: /x\nstate: gone\n").contains("unknown value `gone`"));
        assert!(err("path: /x\nowner: \"a:b\"\n").contains("not a valid owner name"));
        assert!(err("path: /x\ncontents: a\n").contains("unknown key"));
        assert!(err("path: /x\nsource: /nonexistent/keel-test\n").contains("cannot read"));
    }

    #[test]
    fn links_follow_parent_owner_group() {
        let r = load(
            "file",
            "path: /srv/app/env\ncontent: x\nowner: app\ngroup: web\n",
        );
        assert_eq!(
            r.links(),
            Links {
                provides: vec![Ref::Path("/srv/app/env".into())],
                needs: vec![
                    Ref::Path("/srv/app".into()),
                    Ref::User("app".into()),
                    Ref::Group("web".into())
                ],
            }
        );
    }

    #[test]
    fn converges_locally_with_hostile_path_and_content() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("it's a \"dir\"; $(touch pwned)");
        let path = sub.join("f `id` $HOME; \\ x*");
        let content = "quote ' \" `id` $(touch pwned2); rm -rf /\nKEEL_DATA_END\n\n";
        let (u, g) = me();
        let yaml = format!(
            "path: {}\ncontent: {}\nmode: \"0600\"\nowner: {u}\ngroup: {g}\n",
            serde_json::to_string(path.to_str().unwrap()).unwrap(),
            serde_json::to_string(content).unwrap(),
        );
        let r = load("file", &yaml);
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(before.diff.action(), Action::Create);
        assert!(before.diff.reason.unwrap().contains("will be created"));
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        assert!(!std::path::Path::new("pwned").exists());
        assert!(!std::path::Path::new("pwned2").exists());
        assert_eq!(
            std::fs::read_dir(&sub).unwrap().count(),
            1,
            "no temp file left"
        );

        // Drift: content and mode change; then back to no-op.
        std::fs::write(&path, "changed").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(before.diff.action(), Action::Update);
        assert_eq!(
            before.diff.content.unwrap().before.as_deref(),
            Some("changed")
        );
        assert_eq!(
            before.diff.attrs,
            vec![AttrChange::new("mode", Some("0644"), Some("0600"))]
        );
        assert_eq!(after.diff.action(), Action::NoOp);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), content);

        // Only the mode drifts.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(before.commands.len(), 1);
        assert_eq!(
            before.commands[0].summary,
            format!("chmod 0600 {}", path.display())
        );
        assert_eq!(after.diff.action(), Action::NoOp);

        // Removal.
        let yaml = format!(
            "path: {}\nstate: absent\n",
            serde_json::to_string(path.to_str().unwrap()).unwrap()
        );
        let r = load("file", &yaml);
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(before.diff.action(), Action::Delete);
        assert_eq!(after.diff.action(), Action::NoOp);
        assert!(!path.exists());
    }

    #[test]
    fn converges_locally_binary_source_and_template() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..=255u8).cycle().take(4000).collect();
        let src = dir.path().join("src.bin");
        std::fs::write(&src, &data).unwrap();
        let target = dir.path().join("out.bin");
        let r = load(
            "file",
            &format!("path: {}\nsource: {}\n", target.display(), src.display()),
        );
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(before.diff.action(), Action::Create);
        assert_eq!(after.diff.action(), Action::NoOp);
        assert_eq!(std::fs::read(&target).unwrap(), data);

        let tpl = dir.path().join("t.hbs");
        std::fs::write(&tpl, "from template\n").unwrap();
        let target = dir.path().join("out.txt");
        let r = load(
            "file",
            &format!("path: {}\ntemplate: {}\n", target.display(), tpl.display()),
        );
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(before.diff.content.unwrap().after, "from template\n");
        assert_eq!(after.diff.action(), Action::NoOp);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "from template\n");
    }

    #[test]
    fn local_refusal_of_directory_and_link() {
        let dir = tempfile::tempdir().unwrap();
        let r = load(
            "file",
            &format!("path: {}\ncontent: x\n", dir.path().display()),
        );
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert_eq!(
            e.diff.reason.as_deref(),
            Some("is a directory; keel will not replace it")
        );
        let link = dir.path().join("l");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        let r = load("file", &format!("path: {}\ncontent: x\n", link.display()));
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert!(
            e.diff
                .reason
                .unwrap()
                .contains("symbolic link to `/etc/hostname`")
        );
        assert!(e.diff.error.is_some() && e.commands.is_empty());
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            std::path::Path::new("/etc/hostname")
        );
    }

    /// A missing path under a file: `mkdir -p` fails at apply, so the
    /// plan says so (the probe run here on a real scratch tree).
    #[test]
    fn a_file_where_a_parent_directory_should_be_is_a_plan_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("pf");
        std::fs::write(&blocker, "x\n").unwrap();
        let yaml = format!("path: {}/x/y\ncontent: \"z\\n\"\n", blocker.display());
        let r = load("file", &yaml);
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert!(e.commands.is_empty(), "runs nothing");
        let err = e.diff.error.expect("a plan error");
        assert!(
            err.contains(&format!("`{}` is not a directory", blocker.display())),
            "{err}"
        );
        // The same tree with the directory in place: created.
        std::fs::remove_file(&blocker).unwrap();
        std::fs::create_dir(&blocker).unwrap();
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(before.diff.action(), Action::Create);
        assert!(before.diff.error.is_none());
        assert_eq!(after.diff.action(), Action::NoOp);
    }

    /// A read-only mount or `chattr +i` (the probe, as root, prints
    /// `unwritable=`): a change is a plan error, a file already as
    /// declared stays a no-op.
    #[test]
    fn unwritable_file_is_a_plan_error_only_when_it_must_change() {
        let yaml = "path: /srv/ro/a\ncontent: \"new\\n\"\n";
        let probe = format!("unwritable=/srv/ro/a\n{}", file_probe(b"old\n", "644"));
        let e = eval("file", yaml, &probe);
        assert!(e.commands.is_empty());
        let err = e.diff.error.expect("a plan error");
        assert!(err.contains("read-only mount"), "{err}");
        assert!(err.contains("chattr -i"), "{err}");
        let probe = format!("unwritable=/srv/ro/a\n{}", file_probe(b"new\n", "644"));
        let e = eval("file", yaml, &probe);
        assert_eq!(e.diff.action(), Action::NoOp);
        assert!(e.diff.error.is_none());
        // A bind-mounted file (/etc/resolv.conf in a container): a rename
        // over it fails with EBUSY.
        let probe = format!("mounted=yes\n{}", file_probe(b"old\n", "644"));
        let e = eval("file", "path: /etc/resolv.conf\ncontent: \"new\\n\"\n", &probe);
        assert!(e.commands.is_empty());
        assert!(e.diff.error.unwrap().contains("it is a mount point"));
        // Creating in an unwritable directory, and removing from it.
        let e = eval("file", yaml, "unwritable=/srv/ro\ntype=absent\n");
        assert!(e.diff.error.unwrap().contains("`/srv/ro` is not writable"));
        let e = eval(
            "file",
            "{path: /srv/ro/a, state: absent}",
            &format!("unwritable=/srv/ro\n{}", file_probe(b"x", "644")),
        );
        assert!(e.commands.is_empty());
        assert!(e.diff.error.is_some());
    }
}

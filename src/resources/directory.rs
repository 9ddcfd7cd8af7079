//! The `directory` kind: a directory's existence, mode and ownership.
//!
//! ```yaml
//! - directory:
//!     path: /srv/app/releases
//!     mode: "0750"
//!     owner: app
//!     group: app
//! ```
//!
//! Created with `mkdir -p` (missing parents get default permissions), then
//! `chown`/`chmod`. Mode and ownership apply to the directory itself, never
//! to its content. The mode is given to GNU chmod with an extra leading `0`
//! (`chmod 00750`), the only numeric form that also clears inherited
//! setuid/setgid bits on a directory, so the mode converges exactly.
//!
//! A symbolic link to a directory counts as the directory (its target is
//! probed and changed, like `chmod` does); anything else at `path` (a file,
//! a dangling link, a device) is refused: the plan says so and apply stops.
//! So is a change that would fail ([`probe_obstacle`]): a missing directory
//! under a file (`mkdir -p` says "Not a directory"), and, as root, a path
//! on a read-only mount or with `chattr +i`.
//!
//! `state: absent` is deliberately careful: an empty directory is removed
//! with `rmdir`; a non-empty one only when `recursive: true` is set (then
//! `rm -rf --one-file-system`, and the plan says "and everything in it");
//! a directory with a file system mounted at or under it is refused, since
//! `rm -rf` would empty that file system too. A symbolic link is
//! removed as a link, never its target.

use super::common::State;
use super::common::paths::{
    Accounts, Obstacle, PathType, Stat, Wanted, check_host_path, check_perms, path_links,
    perm_commands, probe_accounts, probe_obstacle, refusal,
};
use super::*;
use crate::shell::{Script, q};

/// A directory on the host.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// Absolute path on the host.
    pub path: String,
    #[serde(default)]
    pub state: State,
    /// Octal mode, e.g. "0755".
    pub mode: Option<String>,
    pub owner: Option<String>,
    pub group: Option<String>,
    /// With `state: absent`: also remove a directory that is not empty.
    #[serde(default)]
    pub recursive: bool,
}

/// Whether a directory has entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Entries {
    /// Not probed (only probed for `state: absent`), or not readable.
    #[default]
    Unknown,
    None,
    Some,
}

/// The live state of a directory path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirFact {
    /// `Dir` also when `path` is a symbolic link to a directory.
    pub path: PathType,
    /// The link target when `path` is a symbolic link to a directory.
    pub via_link: Option<String>,
    /// Of the directory (through a link).
    pub stat: Stat,
    pub entries: Entries,
    /// File systems mounted at or under the directory (probed for
    /// `state: absent`).
    pub mounts: Vec<String>,
    pub accounts: Accounts,
    /// What would make the change fail (a file where a parent should be,
    /// a read-only mount, `chattr +i`).
    pub obstacle: Obstacle,
}

impl Directory {
    fn wanted(&self) -> Wanted<'_> {
        Wanted {
            mode: self.mode.as_deref().and_then(|m| normalize_mode(m).ok()),
            owner: self.owner.as_deref(),
            group: self.group.as_deref(),
        }
    }

    /// `state: absent`: a link is removed as a link, an empty directory
    /// with `rmdir`, a non-empty one only with `recursive: true`.
    fn plan_removal(&self, fact: &DirFact) -> Planned {
        let path = self.path.as_str();
        let p = q(path);
        let remove = |reason: String, summary: String, script: String| {
            Planned::new(
                Diff::with_action(Action::Delete).reason(reason),
                vec![Cmd::new(summary, script)],
            )
        };
        match (&fact.path, &fact.via_link) {
            (PathType::Absent, _) => Planned::only(Diff::noop().reason("does not exist")),
            (PathType::Dir, Some(t)) | (PathType::Link(t), _) => remove(
                format!("is a symbolic link to `{t}`; the link will be removed, not its target"),
                format!("remove link {path}"),
                format!("rm -f -- {p}\n"),
            ),
            (PathType::Dir, None) if !fact.mounts.is_empty() => refusal(
                Action::Delete,
                path,
                &format!(
                    "has file systems mounted at or under it ({}); removing it would delete their content or fail: unmount them first",
                    fact.mounts.join(", ")
                ),
            ),
            (PathType::Dir, None) if self.recursive => remove(
                match fact.entries {
                    Entries::None => "empty".to_string(),
                    _ => "it and everything in it will be removed (recursive: true)".to_string(),
                },
                format!("remove {path} and everything in it"),
                // Never into another file system mounted since the plan.
                format!("rm -rf --one-file-system -- {p}\n"),
            ),
            (PathType::Dir, None) if fact.entries == Entries::Some => refusal(
                Action::Delete,
                path,
                "is not empty; keel removes a directory with content only with `recursive: true`",
            ),
            (PathType::Dir, None) => remove(
                if fact.entries == Entries::None {
                    "empty".to_string()
                } else {
                    "removed only if empty (its content cannot be listed)".to_string()
                },
                format!("remove empty directory {path}"),
                format!("rmdir -- {p}\n"),
            ),
            _ => refusal(
                Action::Delete,
                path,
                "is not a directory; keel will not remove it (use a `file` resource)",
            ),
        }
    }

    /// A missing directory: made, then given the declared permissions.
    fn plan_create(&self, fact: &DirFact) -> Planned {
        let path = self.path.as_str();
        let p = q(path);
        let wanted = self.wanted();
        let mut diff = Diff::with_action(Action::Create);
        diff.attrs = wanted.changes(None);
        diff.unknown = fact.accounts.unknown(&wanted);
        let mut script = format!("mkdir -p -- {p}\n");
        script.push_str(&wanted.perms(true).apply_to(&p));
        Planned::new(
            diff,
            vec![Cmd::new(
                format!("mkdir {path}{}", wanted.describe()),
                script,
            )],
        )
    }

    /// An existing directory: only the permissions that differ are set.
    fn plan_perms(&self, fact: &DirFact) -> Planned {
        let wanted = self.wanted();
        let drift = wanted.drift(Some(&fact.stat));
        if drift.is_empty() {
            return Planned::only(Diff::noop());
        }
        let cmds = perm_commands(&self.path, &drift, &wanted, true);
        let mut diff = Diff::with_action(Action::Update);
        diff.attrs = drift.attrs;
        diff.unknown = fact.accounts.unknown(&wanted);
        if let Some(t) = &fact.via_link {
            diff.reason = Some(format!("through the symbolic link to `{t}`"));
        }
        Planned::new(diff, cmds)
    }
}

impl Kind for Directory {
    const KIND: &'static str = "directory";
    type Fact = DirFact;

    fn name(&self) -> String {
        self.path.clone()
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = check_host_path("path", &self.path, self.state == State::Present);
        errs.extend(check_perms(
            self.mode.as_deref(),
            self.owner.as_deref(),
            self.group.as_deref(),
        ));
        match self.state {
            State::Present if self.recursive => errs.push(
                Invalid::field("recursive", "`recursive` only applies to `state: absent`")
                    .help("mode and ownership apply to the directory itself, not its content"),
            ),
            State::Present => {}
            State::Absent => {
                errs.extend(unused_when_absent(&[
                    ("mode", self.mode.is_some()),
                    ("owner", self.owner.is_some()),
                    ("group", self.group.is_some()),
                ]));
            }
        }
        errs
    }

    fn touches(&self) -> Touches {
        Touches::default().path(&self.path)
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
        s.push_str(
            &Script::new(include_str!("directory/probe.sh"))
                .set("p", &self.path)
                .flag("entries", self.state == State::Absent)
                .render(),
        );
        // Removing needs the parent writable; a mode or owner only the
        // directory itself.
        s.push_str(&probe_obstacle(&self.path, self.state == State::Absent));
        s
    }

    fn parse(&self, out: &ProbeOutput) -> Result<DirFact, FactError> {
        let header = out.stdout.as_str();
        let path = PathType::parse(header)?;
        let mut fact = DirFact {
            accounts: Accounts::parse(header),
            obstacle: Obstacle::parse(header),
            ..DirFact::default()
        };
        if path == PathType::Dir {
            fact.stat = Stat::parse(header)?;
            fact.via_link = kv(header, "link").map(str::to_string);
            fact.mounts = kv_lines(header)
                .into_iter()
                .filter(|(k, _)| *k == "mount")
                .map(|(_, v)| v.to_string())
                .collect();
            fact.entries = match kv(header, "entries") {
                Some("some") => Entries::Some,
                Some("none") => Entries::None,
                _ => Entries::Unknown,
            };
        }
        fact.path = path;
        Ok(fact)
    }

    fn plan(&self, fact: &DirFact) -> Planned {
        let planned = self.plan_path(fact);
        fact.obstacle.refuse(&self.path, planned)
    }
}

impl Directory {
    /// The change the path calls for, before what stands in its way.
    fn plan_path(&self, fact: &DirFact) -> Planned {
        let path = self.path.as_str();
        if self.state == State::Absent {
            return self.plan_removal(fact);
        }
        match &fact.path {
            PathType::Absent => self.plan_create(fact),
            PathType::Dir => self.plan_perms(fact),
            PathType::Link(t) => refusal(
                Action::Update,
                path,
                &format!(
                    "is a symbolic link to `{t}`, which is not a directory; keel will not replace it"
                ),
            ),
            PathType::File => refusal(
                Action::Update,
                path,
                "is a file; keel will not replace it with a directory",
            ),
            PathType::Other => refusal(
                Action::Update,
                path,
                "is a special file (device, socket or pipe); keel will not replace it",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::{converge_locally, eval, load, run_local, try_load};
    use std::os::unix::fs::PermissionsExt;

    const DIR: &str = "type=dir\nmode=755\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=4096\n";

    #[test]
    fn absent_directory_is_created() {
        let e = eval(
            "directory",
            "path: /srv/app\nmode: 750\nowner: app\ngroup: app\n",
            "owner_exists=yes\ngroup_exists=no\ntype=absent\n",
        );
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new("mode", None::<String>, Some("0750")),
                AttrChange::new("owner", None::<String>, Some("app")),
                AttrChange::new("group", None::<String>, Some("app")),
            ]
        );
        assert_eq!(
            e.diff.unknown.as_deref(),
            Some("group `app` does not exist yet")
        );
        assert_eq!(e.commands.len(), 1);
        assert_eq!(
            e.commands[0].summary,
            "mkdir /srv/app, mode 0750, owner app:app"
        );
        assert_eq!(
            e.commands[0].script,
            "mkdir -p -- /srv/app\nchown app:app /srv/app\nchmod 00750 /srv/app\n"
        );
    }

    #[test]
    fn equal_directory_is_noop() {
        let e = eval(
            "directory",
            "path: /srv\nmode: \"0755\"\nowner: root\ngroup: \"0\"\n",
            DIR,
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        assert!(e.commands.is_empty());
        // Undeclared attributes are left alone.
        let e = eval("directory", "path: /srv\n", DIR);
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn drift_is_update_with_attrs() {
        let e = eval(
            "directory",
            "path: /srv\nmode: \"2775\"\ngroup: staff\n",
            DIR,
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new("mode", Some("0755"), Some("2775")),
                AttrChange::new("group", Some("root"), Some("staff")),
            ]
        );
        let s: Vec<_> = e.commands.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(s, ["chgrp staff /srv", "chmod 2775 /srv"]);
        assert_eq!(e.commands[1].script, "chmod 02775 /srv\n");
    }

    #[test]
    fn things_that_are_not_directories_are_refused() {
        let e = eval("directory", "path: /srv/x\n", "type=file\n");
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.reason.as_deref(),
            Some("is a file; keel will not replace it with a directory")
        );
        // A plan error (exit 1), with nothing to run.
        assert!(e.diff.error.unwrap().starts_with("/srv/x is a file"));
        assert!(e.commands.is_empty());
        let e = eval(
            "directory",
            "path: /srv/x\n",
            "type=link\ntarget=/nowhere\n",
        );
        assert!(e.diff.reason.unwrap().contains("not a directory"));
        let e = eval("directory", "path: /srv/x\nstate: absent\n", "type=file\n");
        assert_eq!(e.diff.action(), Action::Delete);
        assert!(e.diff.error.is_some() && e.commands.is_empty());
    }

    #[test]
    fn removal_is_careful() {
        let e = eval(
            "directory",
            "path: /srv/x\nstate: absent\n",
            &format!("{DIR}entries=none\n"),
        );
        assert_eq!(e.diff.action(), Action::Delete);
        assert_eq!(e.commands[0].script, "rmdir -- /srv/x\n");
        let e = eval(
            "directory",
            "path: /srv/x\nstate: absent\n",
            &format!("{DIR}entries=some\n"),
        );
        assert_eq!(e.diff.action(), Action::Delete);
        assert!(e.diff.reason.unwrap().contains("recursive: true"));
        assert!(e.diff.error.is_some() && e.commands.is_empty());
        let e = eval(
            "directory",
            "path: /srv/x\nstate: absent\nrecursive: true\n",
            &format!("{DIR}entries=some\n"),
        );
        assert_eq!(e.commands[0].summary, "remove /srv/x and everything in it");
        assert_eq!(
            e.commands[0].script,
            "rm -rf --one-file-system -- /srv/x\n"
        );
        let e = eval(
            "directory",
            "path: /var/run\nstate: absent\nrecursive: true\n",
            &format!("{DIR}link=/run\n"),
        );
        assert_eq!(e.commands[0].script, "rm -f -- /var/run\n");
        let e = eval(
            "directory",
            "path: /srv/x\nstate: absent\n",
            "type=absent\n",
        );
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn odd_probe_output() {
        let r = load("directory", "path: /srv\n");
        assert!(r.evaluate(&ProbeOutput::ok("garbage\n")).is_err());
        assert!(
            r.evaluate(&ProbeOutput::ok("type=dir\nmode=abc\n"))
                .is_err()
        );
        // A dir without stat lines (stat failed): mode unknown → update.
        let r = load("directory", "path: /srv\nmode: \"0755\"\n");
        let e = r.evaluate(&ProbeOutput::ok("type=dir\n")).unwrap();
        assert_eq!(
            e.diff.attrs,
            vec![AttrChange::new("mode", None::<String>, Some("0755"))]
        );
    }

    #[test]
    fn validation_errors() {
        let err = |y: &str| try_load("directory", y).unwrap_err();
        assert!(err("path: srv\n").contains("absolute"));
        assert!(err("path: /\nstate: absent\n").contains("cannot be managed"));
        assert!(err("path: /srv//x\n").contains("clean"));
        assert!(err("path: /srv\nrecursive: true\n").contains("only applies"));
        assert!(err("path: /srv\nrecursive: yes please\n").contains("true or false"));
        assert!(err("path: /srv\nstate: absent\nmode: \"0755\"\n").contains("no effect"));
        assert!(err("path: /srv\nmode: \"8\"\n").contains("octal"));
        assert!(err("path: /srv\nowner: \"a b\"\n").contains("not a valid owner"));
        assert!(try_load("directory", "path: /\n").is_ok());
    }

    #[test]
    fn links() {
        let r = load("directory", "path: /srv/app\nowner: app\n");
        assert_eq!(
            r.links(),
            Links {
                provides: vec![Ref::Path("/srv/app".into())],
                needs: vec![Ref::Path("/srv".into()), Ref::User("app".into())],
            }
        );
        assert_eq!(
            load("directory", "path: /srv/app\nstate: absent\n").links(),
            Links::default()
        );
    }

    #[test]
    fn converges_locally_with_hostile_path() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp
            .path()
            .join("a 'b' \"c\"; $(touch pwned) `id`")
            .join("sub dir*");
        let quoted = serde_json::to_string(path.to_str().unwrap()).unwrap();
        let user = run_local("id -un").stdout.trim().to_string();
        let r = load(
            "directory",
            &format!("path: {quoted}\nmode: \"0710\"\nowner: {user}\n"),
        );
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(before.diff.action(), Action::Create);
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);
        assert!(path.is_dir());
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            0o710
        );
        assert!(!std::path::Path::new("pwned").exists());

        // Setgid drift (e.g. inherited) is cleared.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o2755)).unwrap();
        let (before, after) = converge_locally(r.as_ref());
        assert_eq!(
            before.diff.attrs,
            vec![AttrChange::new("mode", Some("2755"), Some("0710"))]
        );
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);

        // Absent: empty → rmdir; non-empty needs recursive.
        let absent = load("directory", &format!("path: {quoted}\nstate: absent\n"));
        std::fs::write(path.join("f"), "x").unwrap();
        let e = absent.evaluate(&run_local(&absent.probe())).unwrap();
        assert!(e.diff.reason.unwrap().contains("recursive"));
        std::fs::remove_file(path.join("f")).unwrap();
        let (before, after) = converge_locally(absent.as_ref());
        assert_eq!(before.diff.reason.as_deref(), Some("empty"));
        assert_eq!(after.diff.action(), Action::NoOp);
        assert!(!path.exists());

        std::fs::create_dir_all(path.join("deep/er")).unwrap();
        let rec = load(
            "directory",
            &format!("path: {quoted}\nstate: absent\nrecursive: true\n"),
        );
        let (before, after) = converge_locally(rec.as_ref());
        assert_eq!(before.diff.action(), Action::Delete);
        assert_eq!(after.diff.action(), Action::NoOp);
        assert!(!path.exists());
        assert!(path.parent().unwrap().exists());
    }

    #[test]
    fn symlink_to_directory_counts_and_is_removed_as_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::fs::write(real.join("keep"), "x").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let r = load("directory", &format!("path: {}\n", link.display()));
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert_eq!(e.diff.action(), Action::NoOp);
        let r = load(
            "directory",
            &format!("path: {}\nstate: absent\nrecursive: true\n", link.display()),
        );
        let (before, after) = converge_locally(r.as_ref());
        assert!(
            before
                .diff
                .reason
                .unwrap()
                .contains("the link will be removed")
        );
        assert_eq!(after.diff.action(), Action::NoOp);
        assert!(real.join("keep").exists());
    }

    /// `mkdir -p` under a file fails ("Not a directory"): a plan error,
    /// from the probe run on a real scratch tree.
    #[test]
    fn a_file_where_a_parent_should_be_is_a_plan_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("pf");
        std::fs::write(&blocker, "x\n").unwrap();
        let r = load("directory", &format!("path: {}/sub/deeper", blocker.display()));
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert!(e.commands.is_empty(), "runs nothing");
        let err = e.diff.error.expect("a plan error");
        assert!(err.contains("is not a directory"), "{err}");
    }

    /// As root, a path on a read-only mount or with `chattr +i`: a mode
    /// change or a creation is a plan error; a directory already as
    /// declared stays a no-op.
    #[test]
    fn unwritable_directory_is_a_plan_error_only_when_it_must_change() {
        let e = eval(
            "directory",
            "{path: /srv/ro, mode: \"0750\"}",
            &format!("unwritable=/srv/ro\n{DIR}"),
        );
        assert!(e.commands.is_empty());
        assert!(e.diff.error.unwrap().contains("read-only mount"));
        let e = eval(
            "directory",
            "{path: /srv/ro, mode: \"0755\"}",
            &format!("unwritable=/srv/ro\n{DIR}"),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        let e = eval("directory", "path: /srv/ro/d", "unwritable=/srv/ro\ntype=absent\n");
        assert!(e.commands.is_empty());
        assert!(e.diff.error.unwrap().contains("`/srv/ro` is not writable"));
    }

    /// `rm -rf` empties a file system mounted under the directory (a data
    /// disk) before it fails at the mount point: refused in the plan, with
    /// the mount points named.
    #[test]
    fn a_directory_with_mounts_is_not_removed() {
        let y = "{path: /srv/old, state: absent, recursive: true}";
        let e = eval(
            "directory",
            y,
            &format!("{DIR}entries=some\nmount=/srv/old/data\n"),
        );
        assert!(e.commands.is_empty());
        let err = e.diff.error.unwrap();
        assert!(err.contains("mounted at or under it (/srv/old/data)"), "{err}");
        let e = eval("directory", y, &format!("{DIR}entries=some\n"));
        assert_eq!(
            e.commands[0].script,
            "rm -rf --one-file-system -- /srv/old\n"
        );
        // The probe reads the host's mount table (read-only): /proc is a
        // mount point everywhere.
        let r = load("directory", "{path: /proc, state: absent, recursive: true}");
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert!(e.commands.is_empty());
        assert!(e.diff.error.unwrap().contains("/proc"));
    }
}

//! Paths on the host: their type, mode and owner as probes print them,
//! the commands that set them, and the checks of declared paths, owners and
//! modes shared by every kind that writes files.

use super::super::*;
use super::State;
use crate::shell::Perms;
use crate::shell::q;

/// A path keel will not touch as things are (a symbolic link, a folder
/// where a file is wanted): an error of the plan (exit 1), not an update
/// (exit 0, or 2 with --detailed-exitcode); apply runs nothing for it.
pub(crate) fn refusal(action: Action, path: &str, why: &str) -> Planned {
    let mut d = Diff::with_action(action).reason(why);
    d.error = Some(format!("{path} {why}"));
    Planned::only(d)
}

/// What stops any change at a path, as [`probe_obstacle`] reports it.
/// Checked only for a change that runs commands: a path that is already
/// as declared stays a no-op on a read-only mount.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Obstacle {
    /// The nearest existing ancestor of a missing path, when it is not a
    /// directory: `mkdir -p` fails there ("Not a directory").
    pub blocked: Option<String>,
    /// A path root cannot write (a read-only mount, or `chattr +i`).
    pub unwritable: Option<String>,
    /// The path is a mount point (a bind-mounted file): renaming a new
    /// file over it, or removing it, fails with "Device or resource busy".
    pub mount_point: bool,
}

impl Obstacle {
    pub(crate) fn parse(header: &str) -> Obstacle {
        let get = |k| kv(header, k).map(str::to_string).filter(|v| !v.is_empty());
        Obstacle {
            blocked: get("blocked"),
            unwritable: get("unwritable"),
            mount_point: kv(header, "mounted") == Some("yes"),
        }
    }

    /// `planned` as it is when it runs nothing or nothing stands in its
    /// way; otherwise the same change as a plan error saying what is in
    /// the way and what to do, since apply would fail at it.
    pub(crate) fn refuse(&self, path: &str, planned: Planned) -> Planned {
        if planned.commands.is_empty() || planned.diff.error.is_some() {
            return planned;
        }
        let why = if let Some(a) = &self.blocked {
            format!(
                "cannot be created: `{a}` is not a directory (remove or move it, or declare another path)"
            )
        } else if self.mount_point {
            "cannot be changed: it is a mount point (a file bind-mounted here, as container runtimes do with /etc/resolv.conf); keel replaces a file by renaming a new one over it, which a mount point refuses: change it where it is mounted from".to_string()
        } else if let Some(a) = &self.unwritable {
            format!(
                "cannot be changed: `{a}` is not writable even for root; it is on a read-only mount or has the immutable attribute (`lsattr -d {a}` shows `i`; `chattr -i` clears it)"
            )
        } else {
            return planned;
        };
        let mut diff = planned.diff;
        diff.error = Some(format!("{path} {why}"));
        Planned::only(diff)
    }
}

/// Shell printing `blocked=` or `unwritable=` for a change at `path` (see
/// `paths/obstacle.sh`); `beside`: the change writes a new file beside
/// `path` and renames it over, so its directory must be writable too.
pub(crate) fn probe_obstacle(path: &str, beside: bool) -> String {
    crate::shell::Script::new(include_str!("paths/obstacle.sh"))
        .set("keel_at", path)
        .set("keel_dir", parent_dir(path).unwrap_or_else(|| "/".into()))
        .flag("keel_beside", beside)
        .render()
}

/// What is wrong with the path part of a probe's output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathProbeError {
    #[error("unknown path type `{0}`")]
    UnknownType(String),
    #[error("the probe printed no `type=` line")]
    NoType,
    #[error("`{0}` is not an octal mode")]
    BadMode(String),
}

impl From<PathProbeError> for FactError {
    fn from(e: PathProbeError) -> Self {
        FactError::Unexpected(e.to_string())
    }
}

/// For callers that still report probe errors as text.
impl From<PathProbeError> for String {
    fn from(e: PathProbeError) -> Self {
        e.to_string()
    }
}

/// What a path is on the host, as the probes report it (`type=...`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PathType {
    #[default]
    Absent,
    File,
    Dir,
    /// A symbolic link, with its target.
    Link(String),
    /// A device, socket or pipe.
    Other,
}

impl PathType {
    pub(crate) fn parse(header: &str) -> Result<PathType, PathProbeError> {
        Ok(match kv(header, "type").map(str::trim) {
            Some("absent") => PathType::Absent,
            Some("file") => PathType::File,
            Some("dir") => PathType::Dir,
            Some("link") => PathType::Link(kv(header, "target").unwrap_or_default().to_string()),
            Some("other") => PathType::Other,
            Some(t) => return Err(PathProbeError::UnknownType(t.to_string())),
            None => return Err(PathProbeError::NoType),
        })
    }
}

/// Mode and ownership of a path, from `stat`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stat {
    /// Four octal digits, e.g. "0644".
    pub mode: Option<String>,
    pub uid: Option<String>,
    pub gid: Option<String>,
    /// Names (`UNKNOWN` when the id has no name).
    pub owner: Option<String>,
    pub group: Option<String>,
    pub size: Option<u64>,
}

impl Stat {
    pub(crate) fn parse(header: &str) -> Result<Stat, PathProbeError> {
        let get = |k| {
            kv(header, k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mode = match get("mode") {
            Some(m) => Some(normalize_mode(&m).map_err(|_| PathProbeError::BadMode(m.clone()))?),
            None => None,
        };
        Ok(Stat {
            mode,
            uid: get("uid"),
            gid: get("gid"),
            owner: get("owner"),
            group: get("group"),
            size: get("size").and_then(|s| s.parse().ok()),
        })
    }
}

fn is_numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether the declared owner and group exist on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts {
    pub owner_missing: bool,
    pub group_missing: bool,
}

impl Accounts {
    pub(crate) fn parse(header: &str) -> Accounts {
        Accounts {
            owner_missing: kv(header, "owner_exists") == Some("no"),
            group_missing: kv(header, "group_exists") == Some("no"),
        }
    }

    /// "known after apply" text when a declared account does not exist yet.
    pub(crate) fn unknown(&self, w: &Wanted) -> Option<String> {
        let mut v = Vec::new();
        if let (true, Some(o)) = (self.owner_missing, w.owner) {
            v.push(format!("owner `{o}` does not exist yet"));
        }
        if let (true, Some(g)) = (self.group_missing, w.group) {
            v.push(format!("group `{g}` does not exist yet"));
        }
        (!v.is_empty()).then(|| v.join("; "))
    }
}

/// Shell printing `owner_exists=yes|no` / `group_exists=yes|no` for declared
/// names (numeric ids need no account).
pub(crate) fn probe_accounts(owner: Option<&str>, group: Option<&str>) -> String {
    let mut s = String::new();
    for (key, db, name) in [("owner", "passwd", owner), ("group", "group", group)] {
        if let Some(n) = name.filter(|n| !is_numeric(n)) {
            s.push_str(&format!(
                "if getent {db} {} >/dev/null 2>&1; then echo {key}_exists=yes; else echo {key}_exists=no; fi\n",
                q(n)
            ));
        }
    }
    s
}

/// Declared permissions (mode normalized to four digits).
pub(crate) struct Wanted<'a> {
    pub mode: Option<String>,
    pub owner: Option<&'a str>,
    pub group: Option<&'a str>,
}

impl Wanted<'_> {
    /// Attribute changes against a stat (`None`: the path does not exist).
    pub(crate) fn changes(&self, stat: Option<&Stat>) -> Vec<AttrChange> {
        self.drift(stat).attrs
    }

    /// Which declared permissions differ from a stat (`None`: the path
    /// does not exist), with the attribute changes to show.
    pub(crate) fn drift(&self, stat: Option<&Stat>) -> PermDrift {
        let mut d = PermDrift::default();
        if let Some(m) = &self.mode {
            let before = stat.and_then(|s| s.mode.clone());
            if before.as_ref() != Some(m) {
                d.mode = true;
                d.attrs
                    .push(AttrChange::new("mode", before, Some(m.clone())));
            }
        }
        let owner = (
            self.owner,
            stat.and_then(|s| s.owner.clone()),
            stat.and_then(|s| s.uid.clone()),
        );
        let group = (
            self.group,
            stat.and_then(|s| s.group.clone()),
            stat.and_then(|s| s.gid.clone()),
        );
        if let Some(c) = account_change("owner", owner, stat.is_some()) {
            d.owner = true;
            d.attrs.push(c);
        }
        if let Some(c) = account_change("group", group, stat.is_some()) {
            d.group = true;
            d.attrs.push(c);
        }
        d
    }

    /// All declared permissions; for directories the mode gets a leading
    /// `0` so that GNU chmod also clears setuid/setgid bits.
    pub(crate) fn perms(&self, dir: bool) -> Perms {
        Perms {
            owner: self.owner.map(str::to_string),
            group: self.group.map(str::to_string),
            mode: self
                .mode
                .as_ref()
                .map(|m| if dir { format!("0{m}") } else { m.clone() }),
        }
    }

    /// ", mode 0640, owner app:app" for command summaries.
    pub(crate) fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(m) = &self.mode {
            s.push_str(&format!(", mode {m}"));
        }
        match (self.owner, self.group) {
            (Some(o), Some(g)) => s.push_str(&format!(", owner {o}:{g}")),
            (Some(o), None) => s.push_str(&format!(", owner {o}")),
            (None, Some(g)) => s.push_str(&format!(", group {g}")),
            (None, None) => {}
        }
        s
    }
}

/// Which declared permissions of a path differ from what it has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PermDrift {
    pub mode: bool,
    pub owner: bool,
    pub group: bool,
    /// The same, as attribute changes for the plan.
    pub attrs: Vec<AttrChange>,
}

impl PermDrift {
    pub(crate) fn is_empty(&self) -> bool {
        !(self.mode || self.owner || self.group)
    }
}

/// The change of an owner or group (`attr`), from the declared name or id
/// and the live name and id; the live side shows the name when there is
/// one, the id otherwise. `exists`: the path exists.
fn account_change(
    attr: &str,
    (want, name, id): (Option<&str>, Option<String>, Option<String>),
    exists: bool,
) -> Option<AttrChange> {
    let want = want?;
    let have = if is_numeric(want) { &id } else { &name };
    if have.as_deref() == Some(want) {
        return None;
    }
    let before = exists.then(|| match (&name, &id) {
        (Some(n), _) if n != "UNKNOWN" => n.clone(),
        (_, Some(i)) => i.clone(),
        _ => "?".into(),
    });
    Some(AttrChange::new(attr, before, Some(want)))
}

/// chown/chgrp/chmod commands for the permissions that drifted. A chown may
/// clear setuid/setgid bits, so a declared mode is set again after it.
pub(crate) fn perm_commands(path: &str, drift: &PermDrift, w: &Wanted, dir: bool) -> Vec<Cmd> {
    let all = w.perms(dir);
    let mut cmds = Vec::new();
    let own = Perms {
        owner: all.owner.clone().filter(|_| drift.owner),
        group: all.group.clone().filter(|_| drift.group),
        mode: None,
    };
    let target = q(path);
    if own.owner.is_some() || own.group.is_some() {
        let who = match (&own.owner, &own.group) {
            (Some(o), Some(g)) => format!("chown {o}:{g}"),
            (Some(o), None) => format!("chown {o}"),
            (_, g) => format!("chgrp {}", g.as_deref().unwrap_or_default()),
        };
        cmds.push(Cmd::new(format!("{who} {path}"), own.apply_to(&target)));
    }
    if let Some(m) = &all.mode
        && (drift.mode || !cmds.is_empty())
    {
        let mode_only = Perms {
            mode: Some(m.clone()),
            ..Perms::default()
        };
        cmds.push(Cmd::new(
            format!("chmod {} {path}", w.mode.as_deref().unwrap_or(m)),
            mode_only.apply_to(&target),
        ));
    }
    cmds
}

/// The graph needs of something at `path` owned by `owner`/`group`.
/// The links of a path resource (file, directory): it provides its path and
/// needs its parent, owner and group; an absent one links nothing.
pub(crate) fn path_links(
    state: State,
    path: &str,
    owner: Option<&str>,
    group: Option<&str>,
) -> Links {
    if state == State::Absent {
        return Links::default();
    }
    Links {
        provides: vec![Ref::Path(path.to_string())],
        needs: needs_for(path, owner, group),
    }
}

pub(crate) fn needs_for(path: &str, owner: Option<&str>, group: Option<&str>) -> Vec<Ref> {
    let mut needs = Vec::new();
    if let Some(p) = parent_dir(path) {
        needs.push(Ref::Path(p));
    }
    if let Some(o) = owner.filter(|o| !is_numeric(o)) {
        needs.push(Ref::User(o.to_string()));
    }
    if let Some(g) = group.filter(|g| !is_numeric(g)) {
        needs.push(Ref::Group(g.to_string()));
    }
    needs
}

/// An absolute, clean path (`/` itself only when `allow_root`).
pub(crate) fn check_host_path(field: &'static str, path: &str, allow_root: bool) -> Vec<Invalid> {
    if let Some(e) = check_abs_path(field, path) {
        return vec![e];
    }
    if path == "/" {
        return if allow_root {
            vec![]
        } else {
            vec![Invalid::field(
                field,
                "`/` cannot be managed by this resource",
            )]
        };
    }
    if path.ends_with('/') || path.contains("//") || path.split('/').any(|c| c == ".") {
        let clean: Vec<&str> = path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        return vec![
            Invalid::field(field, format!("`{path}` is not a clean path"))
                .help(format!("write it `/{}`", clean.join("/"))),
        ];
    }
    vec![]
}

/// Validate declared mode, owner and group.
pub(crate) fn check_perms(
    mode: Option<&str>,
    owner: Option<&str>,
    group: Option<&str>,
) -> Vec<Invalid> {
    let mut errs = Vec::new();
    if let Some(m) = mode
        && let Err(e) = normalize_mode(m)
    {
        errs.push(Invalid::field("mode", e).help("e.g. mode: \"0644\""));
    }
    for (field, name) in [("owner", owner), ("group", group)] {
        let Some(n) = name else { continue };
        // A name the shadow tools accept, or a numeric id.
        if !super::accounts::valid_name(n, true) && n.parse::<u32>().is_err() {
            errs.push(
                Invalid::field(
                    field,
                    format!("`{}` is not a valid {field} name", n.escape_debug()),
                )
                .help(
                    "a user or group name (a letter or `_`, then letters, digits, `_`, `-` or `.`, at most 32 characters) or a numeric id",
                ),
            );
        }
    }
    errs
}

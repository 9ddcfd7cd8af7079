//! The `user` kind: a local account (`/etc/passwd`, `/etc/shadow`), its
//! group memberships, its SSH `authorized_keys` and an optional sudo rule.
//!
//! ```yaml
//! - user:
//!     name: alice
//!     groups: [docker]            # added; other groups are kept (append: true)
//!     shell: /bin/bash
//!     password_hash: "{{ vault.alice_hash }}"   # already hashed (mkpasswd -m yescrypt)
//!     authorized_keys: ["ssh-ed25519 AAAA... alice@laptop"]
//!     sudo: true
//! ```
//!
//! Only declared attributes are compared, so declaring `root` with just its
//! `authorized_keys` never touches its home or shell.
//!
//! Secrets: the password hash is never on a command line (it goes to
//! `chpasswd -e` in a here-document of the script, which travels on stdin),
//! never in a summary and never in a diff (`(sensitive)`); the probe reports
//! only a SHA-256 of the shadow hash field computed on the host, so the hash
//! itself never leaves the host either.
//!
//! Files in the user's home are read and written *as the user* (`runuser`):
//! the home is the user's to change, and root following a symlink the user
//! planted there (`~/.ssh/authorized_keys -> /etc/shadow`) could leak or
//! clobber files the user may not touch. The sudo rule is written to a
//! dot-named temporary file in `/etc/sudoers.d` (sudo ignores names with a
//! `.`), checked with `visudo -cf`, and only then renamed into place, so a
//! broken sudoers file is never installed.
//!
//! The probe also lists the user's own rules in `/etc/sudoers` and the
//! files sudo reads in `/etc/sudoers.d` (first word: the name; not keel's
//! file): the plan names them beside `sudo: true`, and warns (drift) with
//! `sudo: false`, which they defeat. Group rules (`%sudo`) are not read.
//!
//! A user to create whose home exists already (`useradd -m` keeps it as
//! it is): when it is a directory of the declared `uid` the plan says it is
//! kept; a directory of anyone else, or a file, is a plan error, since the
//! new user could not use it and handing someone's files over is not a
//! guess keel makes.
//!
//! A declared `uid` that another user has is a plan error naming that user
//! (the probe asks `getent passwd UID`): useradd and usermod would refuse
//! it at apply.

use super::common::State;
use super::common::accounts::{check_group_name, check_id, getent_probe, parse_id, probe_failure};
use super::common::script::heredoc_delim;
use super::*;
use crate::shell::{self, Perms, Script, q};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// A value that must never be shown (`Debug` prints `(sensitive)`).
#[derive(Clone, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Sensitive(pub String);

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

fn yes() -> bool {
    true
}

/// A local user account.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// The login name.
    pub name: String,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: State,
    /// Numeric user id (kept as text, checked by `check()`).
    pub uid: Option<String>,
    /// Primary group name.
    pub group: Option<String>,
    /// Supplementary groups.
    pub groups: Option<Vec<String>>,
    /// `true` (default): only add `groups`, keep the others. `false`: the
    /// supplementary groups are exactly `groups`.
    #[serde(default = "yes")]
    pub append: bool,
    /// Login shell.
    pub shell: Option<String>,
    /// Home directory; `/home/NAME` when the user is created. An existing
    /// user's home is only changed when this is declared.
    pub home: Option<String>,
    /// Create the home when creating the user (default true); move it when
    /// `home` changes.
    #[serde(default = "yes")]
    pub create_home: bool,
    /// Create as a system account (`useradd -r`). Creation only.
    #[serde(default)]
    pub system: bool,
    /// The GECOS field.
    pub comment: Option<String>,
    /// An already-hashed password (crypt format, e.g. `$y$...`).
    pub password_hash: Option<Sensitive>,
    /// Public key lines; when given, `~/.ssh/authorized_keys` holds exactly these.
    pub authorized_keys: Option<Vec<String>>,
    /// `true`: passwordless sudo via `/etc/sudoers.d/keel-NAME`; `false`:
    /// that file is removed; unset: left alone.
    pub sudo: Option<bool>,
    /// With `state: absent`, also remove the home (`userdel -r`).
    #[serde(default)]
    pub remove_home: bool,
}

/// An account as `getent passwd` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
    pub comment: String,
    pub home: String,
    pub shell: String,
}

/// The state of `~/.ssh/authorized_keys`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum KeysFact {
    /// Not probed (no `authorized_keys` declared, or no such user).
    #[default]
    NotProbed,
    Absent,
    /// Exists but could not be read (as the user).
    Unreadable,
    File {
        content: Vec<u8>,
        /// `stat -c '%a %U'` of the file, e.g. `600 alice`.
        perms: String,
        /// Same for the `.ssh` directory.
        dir_perms: String,
    },
}

/// The state of `/etc/sudoers.d/keel-NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SudoFact {
    #[default]
    NotProbed,
    Absent,
    File {
        content: Vec<u8>,
        perms: String,
    },
}

/// The live state of a user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserFact {
    /// `None` when the user does not exist.
    pub account: Option<Account>,
    /// Name of the primary group (`id -gn`).
    pub primary: Option<String>,
    /// Every group the user is in, primary included (`id -Gn`).
    pub groups: Vec<String>,
    /// SHA-256 (hex) of the shadow hash field followed by a newline;
    /// `None` when not probed or not readable.
    pub shadow_sha256: Option<String>,
    pub keys: KeysFact,
    pub sudoers: SudoFact,
    /// Rules for the user in other sudoers files (`FILE:LINE`), not keel's.
    pub other_sudo: Vec<String>,
    /// What is at the home of a user to be created, when something is.
    pub existing_home: Option<ExistingHome>,
    /// The name of the user that has the declared uid (probed only when a
    /// uid is declared), to refuse taking another user's uid.
    pub uid_holder: Option<String>,
}

/// An owner name that no user has (`stat -c %U` prints `UNKNOWN`).
fn orphan(owner: &str) -> bool {
    owner.is_empty() || owner == "UNKNOWN"
}

/// Something already at the home of a user keel is to create: `useradd`
/// keeps it as it is, whoever owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExistingHome {
    /// A directory, with its owner's uid and name (`UNKNOWN`: no user).
    Dir { uid: u32, owner: String },
    /// A file, a link or a device.
    Other,
}

const SENSITIVE: &str = "(sensitive)";
const SUDOERS_DIR: &str = "/etc/sudoers.d";

/// Everything that differs, and what to run about it.
#[derive(Debug, Default)]
struct Changes {
    action: Option<Action>,
    attrs: Vec<AttrChange>,
    content: Option<ContentChange>,
    create: bool,
    delete: bool,
    usermod: Vec<String>,
    /// (old, new) home.
    move_home: Option<(String, String)>,
    set_password: bool,
    write_keys: bool,
    write_sudo: bool,
    remove_sudo: bool,
}

impl Changes {
    fn attr(&mut self, name: &str, before: Option<String>, after: Option<String>) {
        self.attrs.push(AttrChange::new(name, before, after));
    }
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn list(items: &BTreeSet<String>) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// `stat -c %a` prints `600`; show modes as `0600`.
fn show_perms(perms: &str) -> String {
    match perms.split_once(' ') {
        Some((mode, owner)) => format!("{:0>4} {owner}", mode),
        None => perms.to_string(),
    }
}

impl User {
    fn home_or_default(&self) -> String {
        self.home
            .clone()
            .unwrap_or_else(|| format!("/home/{}", self.name))
    }

    /// The home the keys live in: the declared one, else the live one.
    fn keys_home(&self, fact: &UserFact) -> String {
        match (&self.home, &fact.account) {
            (Some(h), _) => h.clone(),
            (None, Some(a)) => a.home.clone(),
            (None, None) => self.home_or_default(),
        }
    }

    fn sudoers_path(&self) -> String {
        format!("{SUDOERS_DIR}/keel-{}", self.name)
    }

    fn sudoers_rule(&self) -> String {
        format!("{} ALL=(ALL) NOPASSWD:ALL\n", self.name)
    }

    fn keys_text(&self) -> Option<String> {
        self.authorized_keys.as_ref().map(|keys| {
            keys.iter()
                .map(|k| format!("{}\n", k.trim_end()))
                .collect::<String>()
        })
    }

    fn password_sha(&self) -> Option<String> {
        self.password_hash
            .as_ref()
            .map(|h| sha256_hex(format!("{}\n", h.0).as_bytes()))
    }

    fn primary_after(&self, fact: &UserFact) -> String {
        self.group
            .clone()
            .or_else(|| fact.primary.clone())
            .unwrap_or_else(|| self.name.clone())
    }

    /// Everything that differs between the declaration and the fact: the
    /// one planning step the diff and the commands are both rendered from.
    fn changes(&self, fact: &UserFact) -> Changes {
        let mut c = Changes::default();
        if self.state == State::Absent {
            self.removal(fact, &mut c);
            return c;
        }
        match &fact.account {
            None => self.creation(&mut c),
            Some(a) => self.account_drift(fact, a, &mut c),
        }
        self.keys_drift(fact, &mut c);
        self.sudo_drift(fact, &mut c);
        if c.action.is_none() && (!c.attrs.is_empty() || c.content.is_some()) {
            c.action = Some(Action::Update);
        }
        c
    }

    /// `state: absent`: the account and the sudo rule go.
    fn removal(&self, fact: &UserFact, c: &mut Changes) {
        if let Some(a) = &fact.account {
            c.action = Some(Action::Delete);
            c.delete = true;
            c.attr("uid", Some(a.uid.to_string()), None);
            if self.remove_home {
                c.attr("home", Some(a.home.clone()), None);
            }
        }
        if let SudoFact::File { .. } = fact.sudoers {
            c.action = Some(Action::Delete);
            c.remove_sudo = true;
            c.attr("sudo", Some("true".into()), None);
        }
    }

    /// The supplementary groups declared, without the primary group.
    fn desired_groups(&self, primary: &str) -> Option<BTreeSet<String>> {
        self.groups
            .as_ref()
            .map(|g| g.iter().filter(|g| *g != primary).cloned().collect())
    }

    /// The user does not exist: every declared attribute is new.
    fn creation(&self, c: &mut Changes) {
        c.action = Some(Action::Create);
        c.create = true;
        if let Some(uid) = &self.uid {
            c.attr("uid", None, Some(uid.trim().to_string()));
        }
        if let Some(g) = &self.group {
            c.attr("group", None, Some(g.clone()));
        }
        let primary = self.group.clone().unwrap_or_else(|| self.name.clone());
        if let Some(g) = &self.desired_groups(&primary) {
            c.attr("groups", None, Some(list(g)));
        }
        if let Some(s) = &self.shell {
            c.attr("shell", None, Some(s.clone()));
        }
        c.attr("home", None, Some(self.home_or_default()));
        if let Some(cm) = &self.comment {
            c.attr("comment", None, Some(cm.clone()));
        }
        if self.password_hash.is_some() {
            c.set_password = true;
            c.attr("password", None, Some(SENSITIVE.into()));
        }
    }

    /// The user exists: the declared attributes that differ, as `usermod`
    /// arguments, a home move and a new password.
    fn account_drift(&self, fact: &UserFact, a: &Account, c: &mut Changes) {
        if let Some(uid) = self.uid.as_deref().and_then(parse_id)
            && uid != a.uid
        {
            c.attr("uid", Some(a.uid.to_string()), Some(uid.to_string()));
            c.usermod.extend(["-u".into(), uid.to_string()]);
        }
        if let Some(g) = &self.group
            && fact.primary.as_ref() != Some(g)
        {
            c.attr("group", fact.primary.clone(), Some(g.clone()));
            c.usermod.extend(["-g".into(), g.clone()]);
        }
        self.groups_drift(fact, c);
        if let Some(s) = &self.shell
            && *s != a.shell
        {
            c.attr("shell", Some(a.shell.clone()), Some(s.clone()));
            c.usermod.extend(["-s".into(), s.clone()]);
        }
        if let Some(cm) = &self.comment
            && *cm != a.comment
        {
            c.attr("comment", Some(a.comment.clone()), Some(cm.clone()));
            c.usermod.extend(["-c".into(), cm.clone()]);
        }
        if let Some(h) = &self.home
            && *h != a.home
        {
            c.attr("home", Some(a.home.clone()), Some(h.clone()));
            c.move_home = Some((a.home.clone(), h.clone()));
        }
        if let Some(sha) = self.password_sha()
            && fact.shadow_sha256.as_ref() != Some(&sha)
        {
            c.set_password = true;
            c.attr("password", Some(SENSITIVE.into()), Some(SENSITIVE.into()));
        }
        if !c.attrs.is_empty() {
            c.action = Some(Action::Update);
        }
    }

    /// Supplementary groups to add (and, with `append: false`, remove).
    fn groups_drift(&self, fact: &UserFact, c: &mut Changes) {
        let primary = self.primary_after(fact);
        let Some(want) = self.desired_groups(&primary) else {
            return;
        };
        let old_primary = fact.primary.clone().unwrap_or_default();
        let have: BTreeSet<String> = fact
            .groups
            .iter()
            .filter(|g| **g != old_primary && **g != primary)
            .cloned()
            .collect();
        let added: Vec<&String> = want.difference(&have).collect();
        let removed: Vec<&String> = if self.append {
            Vec::new()
        } else {
            have.difference(&want).collect()
        };
        if added.is_empty() && removed.is_empty() {
            return;
        }
        let after: BTreeSet<String> = if self.append {
            have.union(&want).cloned().collect()
        } else {
            want.clone()
        };
        let marks: Vec<String> = added
            .iter()
            .map(|g| format!("+{g}"))
            .chain(removed.iter().map(|g| format!("-{g}")))
            .collect();
        c.attr(
            "groups",
            Some(list(&have)),
            Some(format!("{} ({})", list(&after), marks.join(", "))),
        );
        if self.append {
            let names: Vec<&str> = added.iter().map(|s| s.as_str()).collect();
            c.usermod
                .extend(["-a".into(), "-G".into(), names.join(",")]);
        } else {
            let names: Vec<&str> = want.iter().map(|s| s.as_str()).collect();
            c.usermod.extend(["-G".into(), names.join(",")]);
        }
    }

    /// `authorized_keys` declared: its content and the modes of the file
    /// and of `.ssh`.
    fn keys_drift(&self, fact: &UserFact, c: &mut Changes) {
        let Some(text) = self.keys_text() else {
            return;
        };
        let want_perms = format!("600 {}", self.name);
        let want_dir = format!("700 {}", self.name);
        let (before, perms) = match &fact.keys {
            KeysFact::File {
                content,
                perms,
                dir_perms,
            } => (
                Some(content.clone()),
                Some((perms.clone(), dir_perms.clone())),
            ),
            _ => (None, None),
        };
        if before.as_deref() != Some(text.as_bytes()) {
            c.content = Some(ContentChange {
                before: before.and_then(|b| String::from_utf8(b).ok()),
                after: text,
            });
            c.write_keys = true;
        }
        let Some((p, d)) = perms else {
            return;
        };
        if p != want_perms {
            c.attr(
                "authorized_keys permissions",
                Some(show_perms(&p)),
                Some(show_perms(&want_perms)),
            );
            c.write_keys = true;
        }
        if d != want_dir {
            c.attr(
                ".ssh permissions",
                Some(show_perms(&d)),
                Some(show_perms(&want_dir)),
            );
            c.write_keys = true;
        }
    }

    /// `sudo` declared: the rule file is written or removed.
    fn sudo_drift(&self, fact: &UserFact, c: &mut Changes) {
        match (self.sudo, &fact.sudoers) {
            (Some(true), SudoFact::File { content, perms })
                if content.as_slice() == self.sudoers_rule().as_bytes() && perms == "440 root" => {}
            (Some(true), SudoFact::File { .. }) => {
                c.write_sudo = true;
                c.attr(
                    "sudo",
                    Some("true (modified rule file)".into()),
                    Some("true".into()),
                );
            }
            (Some(true), _) => {
                c.write_sudo = true;
                let before = fact.account.as_ref().map(|_| "false".to_string());
                c.attr("sudo", before, Some("true".into()));
            }
            (Some(false), SudoFact::File { .. }) => {
                c.remove_sudo = true;
                c.attr("sudo", Some("true".into()), Some("false".into()));
            }
            _ => {}
        }
    }

    fn useradd_cmd(&self) -> Cmd {
        let mut args: Vec<String> = Vec::new();
        if let Some(uid) = self.uid.as_deref().and_then(parse_id) {
            args.extend(["-u".into(), uid.to_string()]);
        }
        if let Some(g) = &self.group {
            args.extend(["-g".into(), g.clone()]);
        }
        if let Some(groups) = &self.groups {
            let primary = self.group.clone().unwrap_or_else(|| self.name.clone());
            let set: BTreeSet<&str> = groups
                .iter()
                .filter(|g| **g != primary)
                .map(String::as_str)
                .collect();
            if !set.is_empty() {
                args.extend(["-G".into(), set.into_iter().collect::<Vec<_>>().join(",")]);
            }
        }
        if let Some(s) = &self.shell {
            args.extend(["-s".into(), s.clone()]);
        }
        args.extend(["-d".into(), self.home_or_default()]);
        args.push(if self.create_home { "-m" } else { "-M" }.into());
        if self.system {
            args.push("-r".into());
        }
        if let Some(cm) = &self.comment {
            args.extend(["-c".into(), cm.clone()]);
        }
        let quoted: Vec<String> = args.iter().map(|a| q(a)).collect();
        let n = q(&self.name);
        let summary = format!("useradd {} {n}", quoted.join(" "));
        let mut script = String::new();
        if self.group.is_none() {
            // useradd refuses to create the user's own group when a group of
            // that name exists already: then make that group the primary one.
            let _ = writeln!(script, "set --");
            let _ = writeln!(
                script,
                "if getent group {n} >/dev/null 2>&1; then set -- -g {n}; fi"
            );
            let _ = writeln!(script, "useradd \"$@\" {} {n}", quoted.join(" "));
        } else {
            let _ = writeln!(script, "useradd {} {n}", quoted.join(" "));
        }
        Cmd::new(summary, script)
    }

    fn password_cmd(&self) -> Option<Cmd> {
        let hash = &self.password_hash.as_ref()?.0;
        let line = format!("{}:{hash}", self.name);
        let end = heredoc_delim("KEEL_SECRET_END", &line);
        Some(Cmd::new(
            format!("set the password of {} (chpasswd -e)", self.name),
            format!("chpasswd -e <<'{end}'\n{line}\n{end}\n"),
        ))
    }

    fn keys_cmd(&self, fact: &UserFact) -> Option<Cmd> {
        let text = self.keys_text()?;
        let home = self.keys_home(fact);
        let dir = format!("{}/.ssh", home.trim_end_matches('/'));
        let file = format!("{dir}/authorized_keys");
        let d = q(&dir);

        // As the user: the mode of .ssh, and the file itself.
        let mut inner = String::new();
        let _ = writeln!(inner, "set -e\ncd /\nchmod 0700 {d}");
        inner.push_str(&shell::write_file_atomic(
            &file,
            text.as_bytes(),
            &Perms {
                mode: Some("0600".into()),
                ..Perms::default()
            },
        ));
        let end = heredoc_delim("KEEL_AS_USER_END", &inner);

        // As root: make sure home and .ssh exist and belong to the user.
        let mut s = Script::new(include_str!("user/ssh_dir.sh"))
            .set("keel_user", &self.name)
            .set("keel_home", &home)
            .set("keel_dir", &dir)
            .render();
        let _ = writeln!(s, "keel_as_user <<'{end}'\n{inner}{end}");
        Some(Cmd::new(
            format!(
                "write {file} ({} keys)",
                self.authorized_keys.as_ref()?.len()
            ),
            s,
        ))
    }

    fn sudo_write_cmd(&self) -> Cmd {
        let path = self.sudoers_path();
        let mut s = Script::new(include_str!("user/need_visudo.sh"))
            .set("keel_dir", SUDOERS_DIR)
            .render();
        // A name with a dot: sudo's includedir skips it while it is checked.
        let tmp = shell::TempFile::beside("keel_tmp", &path);
        s.push_str(&tmp.create());
        let _ = writeln!(s, "trap '{}' EXIT", tmp.remove());
        s.push_str(&tmp.fill(self.sudoers_rule().as_bytes()));
        s.push_str(&tmp.set_perms(&Perms {
            owner: Some("root".into()),
            group: Some("root".into()),
            mode: Some("0440".into()),
        }));
        s.push_str(
            &Script::new(include_str!("user/visudo_check.sh"))
                .set("keel_user", &self.name)
                .render(),
        );
        let _ = writeln!(s, "{}trap - EXIT", tmp.rename());
        Cmd::new(format!("write {path} (checked with visudo -cf)"), s)
    }

    fn sudo_remove_cmd(&self) -> Cmd {
        let path = self.sudoers_path();
        Cmd::new(format!("rm -f {path}"), format!("rm -f {}\n", q(&path)))
    }
}

impl Kind for User {
    const KIND: &'static str = "user";
    type Fact = UserFact;

    fn grants_access(&self) -> bool {
        self.state == State::Present && self.authorized_keys.as_ref().is_some_and(|k| !k.is_empty())
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        if !super::common::accounts::valid_name(&self.name, false) {
            errs.push(
                Invalid::field(
                    "name",
                    format!("`{}` is not a valid user name", self.name.escape_debug()),
                )
                .help("a user name matches `[a-z_][a-z0-9_-]*[$]?` and has at most 32 characters"),
            );
        }
        if let Some(uid) = &self.uid {
            errs.extend(check_id("uid", uid));
        }
        if let Some(g) = &self.group {
            errs.extend(check_group_name("group", g));
        }
        for g in self.groups.iter().flatten() {
            errs.extend(check_group_name("groups", g));
        }
        if let Some(s) = &self.shell {
            errs.extend(check_abs_path("shell", s));
            if s.contains(':') {
                errs.push(Invalid::field("shell", "a shell path cannot contain `:`"));
            }
        }
        if let Some(h) = &self.home {
            errs.extend(check_abs_path("home", h));
            if h.contains(':') {
                errs.push(Invalid::field("home", "a home path cannot contain `:`"));
            }
        }
        if let Some(c) = &self.comment
            && (c.contains(':') || c.contains('\n'))
        {
            errs.push(
                Invalid::field("comment", "a comment cannot contain `:` or a newline")
                    .help("it is a field of /etc/passwd, where `:` separates fields"),
            );
        }
        if let Some(h) = &self.password_hash {
            // Never echo the value: it may be a password typed by mistake.
            let h = &h.0;
            if h.is_empty()
                || h.chars()
                    .any(|c| c == ':' || c.is_whitespace() || c.is_control())
                || !(h.starts_with('$') || h.starts_with('!') || h.starts_with('*'))
            {
                errs.push(
                    Invalid::field(
                        "password_hash",
                        "password_hash does not look like a crypt(3) hash (its value is not shown)",
                    )
                    .help(
                        "give an already-hashed password such as the output of `mkpasswd -m yescrypt` \
                         (it starts with `$`), never the password itself",
                    ),
                );
            }
        }
        for key in self.authorized_keys.iter().flatten() {
            if key.contains('\n') || key.contains('\r') {
                errs.push(
                    Invalid::field("authorized_keys", "a key cannot contain a line break")
                        .help("give one list item per key"),
                );
            } else if !key.trim_start().starts_with('#') && !looks_like_key(key) {
                errs.push(
                    Invalid::field(
                        "authorized_keys",
                        format!("`{}` does not look like an SSH public key", key.trim()),
                    )
                    .help("a key line looks like `ssh-ed25519 AAAAC3Nz... comment`"),
                );
            }
        }
        errs
    }

    /// The account, its `authorized_keys` and its sudo rule, when declared.
    fn touches(&self) -> Touches {
        let mut t = Touches::default().account(&self.name);
        if self.authorized_keys.is_some() {
            let home = if self.name == "root" && self.home.is_none() {
                "/root".to_string()
            } else {
                self.home_or_default()
            };
            t = t.path(format!(
                "{}/.ssh/authorized_keys",
                home.trim_end_matches('/')
            ));
        }
        if self.sudo.is_some() {
            t = t.path(self.sudoers_path());
        }
        t
    }

    fn links(&self) -> Links {
        if self.state == State::Absent {
            return Links::default();
        }
        let mut needs: Vec<Ref> = Vec::new();
        if let Some(g) = &self.group {
            needs.push(Ref::Group(g.clone()));
        }
        for g in self.groups.iter().flatten() {
            let r = Ref::Group(g.clone());
            if !needs.contains(&r) {
                needs.push(r);
            }
        }
        if self.sudo == Some(true) {
            needs.push(Ref::Package("sudo".into()));
        }
        Links {
            provides: vec![
                Ref::User(self.name.clone()),
                Ref::Path(self.home_or_default()),
            ],
            needs,
        }
    }

    fn probe(&self) -> String {
        let mut s = String::from("set +e\n");
        s.push_str(&getent_probe("passwd", &self.name, "passwd"));
        if let (State::Present, Some(uid)) = (self.state, self.uid.as_deref().and_then(parse_id)) {
            // Who has that uid (useradd and usermod refuse a taken one).
            let _ = writeln!(
                s,
                "keel_uh=$(getent passwd {uid} | cut -d: -f1)\nif [ -n \"$keel_uh\" ]; then printf 'uid_holder=%s\\n' \"$keel_uh\"; fi"
            );
        }
        if self.state == State::Present {
            s.push_str("if [ \"$keel_rc\" = 0 ]; then\n");
            s.push_str(
                &Script::new(include_str!("user/ids.sh"))
                    .set("keel_user", &self.name)
                    .render(),
            );
            if self.password_hash.is_some() {
                // Only a digest of the hash field leaves the host.
                s.push_str(
                    &Script::new(include_str!("user/shadow.sh"))
                        .set("keel_user", &self.name)
                        .render(),
                );
            }
            if self.authorized_keys.is_some() {
                s.push_str(
                    &Script::new(include_str!("user/keys_probe.sh"))
                        .set("keel_user", &self.name)
                        .set("keel_home", self.home.as_deref().unwrap_or(""))
                        .render(),
                );
            }
            if self.create_home {
                s.push_str("else\n");
                s.push_str(
                    &Script::new(include_str!("user/home_probe.sh"))
                        .set("keel_home", self.home_or_default())
                        .render(),
                );
            }
            s.push_str("fi\n");
        }
        if self.sudo.is_some() || self.state == State::Absent {
            s.push_str(
                &Script::new(include_str!("user/sudoers_probe.sh"))
                    .set("keel_path", self.sudoers_path())
                    .set("keel_user", &self.name)
                    .render(),
            );
        }
        s
    }

    fn parse(&self, out: &ProbeOutput) -> Result<UserFact, FactError> {
        let text = &out.stdout;
        let mut fact = UserFact::default();
        if kv(text, "passwd_absent").is_none() {
            let Some(line) = kv(text, "passwd") else {
                return Err(probe_failure("user", out));
            };
            let f: Vec<&str> = line.split(':').collect();
            if f.len() != 7 {
                return Err(FactError::Unexpected(format!(
                    "unexpected `getent passwd` line: {line:?}"
                )));
            }
            let num = |s: &str| {
                s.parse::<u32>().map_err(|_| {
                    FactError::Unexpected(format!(
                        "unexpected id in `getent passwd` line: {line:?}"
                    ))
                })
            };
            fact.account = Some(Account {
                uid: num(f[2])?,
                gid: num(f[3])?,
                comment: f[4].to_string(),
                home: f[5].to_string(),
                shell: f[6].to_string(),
            });
            fact.primary = kv(text, "primary")
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string);
            fact.groups = kv(text, "groups")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect();
            fact.shadow_sha256 = kv(text, "shadow_sha256")
                .map(str::trim)
                .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(str::to_ascii_lowercase);
            fact.keys = match kv(text, "keys") {
                None => KeysFact::NotProbed,
                Some("absent") => KeysFact::Absent,
                Some("unreadable") => KeysFact::Unreadable,
                Some(v) => match v.strip_prefix("b64:") {
                    Some(b) => KeysFact::File {
                        content: shell::unbase64(b).map_err(|e| {
                            FactError::Unexpected(format!("authorized_keys content: {e}"))
                        })?,
                        perms: kv(text, "keys_stat").unwrap_or_default().trim().to_string(),
                        dir_perms: kv(text, "keys_dir_stat")
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    },
                    None => {
                        return Err(FactError::Unexpected(format!(
                            "unexpected `keys={v}` in the user probe"
                        )));
                    }
                },
            };
        }
        fact.uid_holder = kv(text, "uid_holder").map(str::to_string);
        fact.existing_home = match kv(text, "home").map(str::trim) {
            Some("dir") => Some(ExistingHome::Dir {
                uid: kv(text, "home_uid")
                    .and_then(|u| u.trim().parse().ok())
                    .ok_or_else(|| FactError::Unexpected("no `home_uid=` in the user probe".into()))?,
                owner: kv(text, "home_owner").unwrap_or_default().trim().to_string(),
            }),
            Some("other") => Some(ExistingHome::Other),
            _ => None,
        };
        fact.sudoers = match kv(text, "sudoers") {
            None => SudoFact::NotProbed,
            Some("absent") => SudoFact::Absent,
            Some(v) => match v.strip_prefix("b64:") {
                Some(b) => SudoFact::File {
                    content: shell::unbase64(b)
                        .map_err(|e| FactError::Unexpected(format!("sudoers content: {e}")))?,
                    perms: kv(text, "sudoers_stat")
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                },
                None => {
                    return Err(FactError::Unexpected(format!(
                        "unexpected `sudoers={v}` in the user probe"
                    )));
                }
            },
        };
        fact.other_sudo = kv_lines(text)
            .into_iter()
            .filter(|(k, _)| *k == "other_sudo")
            .map(|(_, v)| v.trim().to_string())
            .collect();
        Ok(fact)
    }

    fn plan(&self, fact: &UserFact) -> Planned {
        let changes = self.changes(fact);
        let commands = self.commands(fact, &changes);
        let creates = changes.create;
        let sets_uid = creates || changes.usermod.iter().any(|a| a == "-u");
        let mut diff = self.diff(changes);
        if sets_uid
            && let Some(uid) = self.uid.as_deref().and_then(parse_id)
            && let Some(other) = fact.uid_holder.as_deref().filter(|h| *h != self.name)
        {
            // useradd: "UID 3100 is not unique"; usermod: "already exists".
            diff.error = Some(format!(
                "{} cannot have uid {uid}: user `{other}` has it; give `{other}` another uid first, or declare another `uid`",
                self.name
            ));
            return Planned::only(diff);
        }
        if creates && let Some(why) = self.home_in_the_way(fact) {
            diff.error = Some(format!("{} {why}", self.name));
            return Planned::only(diff);
        }
        if creates && let Some(home) = &fact.existing_home {
            let mut note = format!(
                "{} exists already and is kept as it is (no skeleton files are copied)",
                self.home_or_default()
            );
            if let ExistingHome::Dir { uid, owner } = home
                && self.uid.is_none()
                && orphan(owner)
            {
                let _ = write!(
                    note,
                    "; it belongs to uid {uid}, which no user has (a user removed earlier?): the new user owns it if useradd gives it that uid; declare `uid: {uid}` to be sure"
                );
            }
            diff.reason = Some(note);
        }
        self.other_sudo_notes(fact, &mut diff);
        Planned::new(diff, commands)
    }
}

impl User {
    /// Sudo rules for the user that are not keel's: said beside `sudo:
    /// true` (keel adds its own rule; those stay), and a warning with
    /// `sudo: false`, which they defeat (listed as drift too).
    fn other_sudo_notes(&self, fact: &UserFact, diff: &mut Diff) {
        if fact.other_sudo.is_empty() || self.state == State::Absent {
            return;
        }
        let at = fact.other_sudo.join(", ");
        let name = &self.name;
        let note = match self.sudo {
            Some(true) if diff.attrs.iter().any(|a| a.name == "sudo") => format!(
                "`{name}` already has a sudo rule that is not keel's ({at}); it stays, and keel \
                 adds its own, {}",
                self.sudoers_path()
            ),
            Some(false) => {
                diff.unmanaged = vec![format!("sudo rule of `{name}` at {at}")];
                format!(
                    "warning: `{name}` keeps sudo through {at}, a rule that is not keel's: remove \
                     it for `sudo: false` to hold"
                )
            }
            _ => return,
        };
        diff.reason = Some(match diff.reason.take() {
            Some(r) => format!("{r}; {note}"),
            None => note,
        });
    }

    /// Why the home of a user to be created is in the way: `useradd -m`
    /// keeps what is there, so a directory of another owner stays theirs
    /// (the new user could not write its own home, nor keel its keys) and
    /// a file stays a file. Handing over or replacing someone's files is
    /// not a guess keel makes.
    fn home_in_the_way(&self, fact: &UserFact) -> Option<String> {
        let home = self.home_or_default();
        match fact.existing_home.as_ref()? {
            ExistingHome::Other => Some(format!(
                "cannot be created with its home {home}: something other than a directory is there (remove it, or declare another `home`)"
            )),
            ExistingHome::Dir { uid, .. }
                if self.uid.as_deref().and_then(parse_id) == Some(*uid) =>
            {
                None
            }
            // Left by a user removed earlier (keel prunes a user but keeps
            // its home): without a declared uid, useradd may well give
            // the new user that uid again; said in the plan, not refused.
            ExistingHome::Dir { owner, .. } if self.uid.is_none() && orphan(owner) => None,
            ExistingHome::Dir { uid, owner } => {
                let owner = if orphan(owner) {
                    format!("uid {uid}, which no user has")
                } else {
                    format!("{owner} (uid {uid})")
                };
                Some(format!(
                    "cannot be created with its home {home}: that directory exists and belongs to {owner}, and useradd would leave it so; hand it over (`chown -R`), move it away, declare `uid: {uid}` if it is this user's, or declare another `home`"
                ))
            }
        }
    }
}

impl User {
    /// The diff shown for `changes`.
    fn diff(&self, c: Changes) -> Diff {
        match c.action {
            None if self.state == State::Absent => Diff::noop().reason("does not exist"),
            None => Diff::noop(),
            Some(action) => Diff {
                action: Some(action),
                attrs: c.attrs,
                content: c.content,
                ..Diff::default()
            },
        }
    }

    /// The commands that carry out `c`, in order.
    fn commands(&self, fact: &UserFact, c: &Changes) -> Vec<Cmd> {
        let n = q(&self.name);
        let mut cmds = Vec::new();
        if c.delete {
            let line = if self.remove_home {
                format!("userdel -r {n}")
            } else {
                format!("userdel {n}")
            };
            cmds.push(Cmd::new(line.clone(), format!("{line}\n")));
        }
        if c.create {
            cmds.push(self.useradd_cmd());
        }
        if !c.usermod.is_empty() {
            let args: Vec<String> = c.usermod.iter().map(|a| q(a)).collect();
            let line = format!("usermod {} {n}", args.join(" "));
            cmds.push(Cmd::new(line.clone(), format!("{line}\n")));
        }
        if let Some((old, new)) = &c.move_home {
            let w = q(new);
            let script = if self.create_home {
                Script::new(include_str!("user/move_home.sh"))
                    .set("keel_user", &self.name)
                    .set("keel_old", old)
                    .set("keel_new", new)
                    .render()
            } else {
                format!("usermod -d {w} {n}\n")
            };
            let summary = if self.create_home {
                format!("usermod -d {w} -m {n}")
            } else {
                format!("usermod -d {w} {n}")
            };
            cmds.push(Cmd::new(summary, script));
        }
        if c.set_password {
            cmds.extend(self.password_cmd());
        }
        if c.write_keys {
            cmds.extend(self.keys_cmd(fact));
        }
        if c.write_sudo {
            cmds.push(self.sudo_write_cmd());
        }
        if c.remove_sudo {
            cmds.push(self.sudo_remove_cmd());
        }
        cmds
    }
}

/// Whether a line looks like an OpenSSH public key, possibly after options.
fn looks_like_key(line: &str) -> bool {
    line.split_whitespace().any(|t| {
        ["ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-sha2-"]
            .iter()
            .any(|p| t.starts_with(p))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::assert_sh_syntax as assert_parses;
    use crate::resources::testing::{eval, load, run_local, try_load};

    const HASH: &str = "$y$j9T$abcdefghijkl$ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef";
    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeel alice@laptop";

    fn summaries(e: &Evaluation) -> Vec<String> {
        e.commands.iter().map(|c| c.summary.clone()).collect()
    }

    fn script(e: &Evaluation) -> String {
        e.commands.iter().map(|c| c.script.as_str()).collect()
    }

    fn passwd(line: &str) -> String {
        format!("passwd={line}\n")
    }

    fn b64(s: &str) -> String {
        shell::base64(s.as_bytes()).replace('\n', "")
    }

    fn alice_present() -> String {
        format!(
            "{}primary=alice\ngroups=alice sudo video\n",
            passwd("alice:x:1001:1001:Alice:/home/alice:/bin/bash")
        )
    }

    #[test]
    fn absent_user_is_created() {
        let yaml = format!(
            "name: alice\nuid: 1001\ngroups: [docker, sudo]\nshell: /bin/bash\ncomment: Alice A\n\
             password_hash: \"{HASH}\"\nauthorized_keys: [\"{KEY}\"]\nsudo: true\n"
        );
        let e = eval("user", &yaml, "passwd_absent=1\nsudoers=absent\n");
        assert_eq!(e.diff.action(), Action::Create);
        let attrs: Vec<(&str, Option<&str>)> = e
            .diff
            .attrs
            .iter()
            .map(|a| (a.name.as_str(), a.after.as_deref()))
            .collect();
        assert_eq!(
            attrs,
            vec![
                ("uid", Some("1001")),
                ("groups", Some("docker, sudo")),
                ("shell", Some("/bin/bash")),
                ("home", Some("/home/alice")),
                ("comment", Some("Alice A")),
                ("password", Some("(sensitive)")),
                ("sudo", Some("true")),
            ]
        );
        assert_eq!(
            e.diff.content,
            Some(ContentChange {
                before: None,
                after: format!("{KEY}\n")
            })
        );
        assert_eq!(
            summaries(&e),
            vec![
                "useradd -u 1001 -G 'docker,sudo' -s /bin/bash -d /home/alice -m -c 'Alice A' alice",
                "set the password of alice (chpasswd -e)",
                "write /home/alice/.ssh/authorized_keys (1 keys)",
                "write /etc/sudoers.d/keel-alice (checked with visudo -cf)",
            ]
        );
        let s = script(&e);
        assert!(s.contains("if getent group alice >/dev/null 2>&1; then set -- -g alice; fi"));
        assert!(s.contains("keel_user=alice\n"));
        assert!(s.contains("then runuser -u \"$keel_user\" -- sh -s; else sh -s; fi"));
        assert!(s.contains("keel_as_user <<'KEEL_AS_USER_END'"));
        assert_parses(&s);
    }

    #[test]
    fn password_hash_only_in_a_heredoc() {
        let yaml = format!("name: alice\npassword_hash: '{HASH}'\n");
        for probe in [
            "passwd_absent=1\n".to_string(),
            format!("{}shadow_sha256={}\n", alice_present(), "0".repeat(64)),
        ] {
            let e = eval("user", &yaml, &probe);
            assert!(e.diff.action().is_change());
            let pw = e.diff.attrs.iter().find(|a| a.name == "password").unwrap();
            assert_eq!(pw.after.as_deref(), Some("(sensitive)"));
            let shown = format!("{:?} {:?}", e.diff, summaries(&e));
            assert!(!shown.contains(HASH), "hash leaked into {shown}");
            assert!(!shown.contains("abcdefghijkl"), "hash leaked into {shown}");
            for c in &e.commands {
                assert!(!c.summary.contains("j9T"), "{}", c.summary);
                for line in c.script.lines() {
                    if line.contains(HASH) {
                        // Only the here-document body line `name:hash`.
                        assert_eq!(line, format!("alice:{HASH}"));
                    }
                }
            }
            let s = script(&e);
            assert!(s.contains(&format!(
                "chpasswd -e <<'KEEL_SECRET_END'\nalice:{HASH}\nKEEL_SECRET_END\n"
            )));
            assert_eq!(s.matches(HASH).count(), 1);
            assert_parses(&s);
        }
        // Debug of the resource does not show it either.
        let r = load("user", &yaml);
        assert!(!format!("{r:?}").contains(HASH));
        // An unchanged password: the probe's digest matches.
        let sha = sha256_hex(format!("{HASH}\n").as_bytes());
        let e = eval(
            "user",
            &yaml,
            &format!("{}shadow_sha256={sha}\n", alice_present()),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        // The probe never prints the hash: only a digest.
        let probe = load("user", &yaml).probe();
        assert!(probe.contains("sha256sum"));
        assert!(!probe.contains(HASH));
    }

    #[test]
    fn shadow_digest_matches_what_the_host_computes() {
        // The same pipeline as the probe, on a fake shadow line.
        let out = run_local(&format!(
            "keel_s={}\nprintf '%s\\n' \"$keel_s\" | cut -d: -f2 | sha256sum | cut -d' ' -f1\n",
            q(&format!("alice:{HASH}:19000:0:99999:7:::"))
        ));
        assert_eq!(
            out.stdout.trim(),
            sha256_hex(format!("{HASH}\n").as_bytes())
        );
    }

    #[test]
    fn present_and_equal_is_noop() {
        let yaml = format!(
            "name: alice\nuid: 1001\ngroup: alice\ngroups: [sudo]\nshell: /bin/bash\n\
             home: /home/alice\ncomment: Alice\nauthorized_keys: [\"{KEY}\"]\nsudo: true\n"
        );
        let probe = format!(
            "{}keys_stat=600 alice\nkeys_dir_stat=700 alice\nkeys=b64:{}\n\
             sudoers_stat=440 root\nsudoers=b64:{}\n",
            alice_present(),
            b64(&format!("{KEY}\n")),
            b64("alice ALL=(ALL) NOPASSWD:ALL\n"),
        );
        let e = eval("user", &yaml, &probe);
        assert_eq!(e.diff, Diff::noop());
        assert!(e.commands.is_empty());
        // Undeclared attributes are left alone (root keeps /root).
        let e = eval(
            "user",
            "name: root\n",
            &passwd("root:x:0:0:root:/root:/bin/bash"),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn drift_is_an_update_with_readable_attrs() {
        let yaml = "name: alice\nuid: 1002\ngroup: staff\nshell: /bin/zsh\ncomment: Alice B\n\
                    groups: [docker, sudo]\n";
        let e = eval("user", yaml, &alice_present());
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new("uid", Some("1001"), Some("1002")),
                AttrChange::new("group", Some("alice"), Some("staff")),
                AttrChange::new(
                    "groups",
                    Some("sudo, video"),
                    Some("docker, sudo, video (+docker)")
                ),
                AttrChange::new("shell", Some("/bin/bash"), Some("/bin/zsh")),
                AttrChange::new("comment", Some("Alice"), Some("Alice B")),
            ]
        );
        assert_eq!(
            summaries(&e),
            vec!["usermod -u 1002 -g staff -a -G docker -s /bin/zsh -c 'Alice B' alice"]
        );
    }

    #[test]
    fn exact_groups_remove_others() {
        let yaml = "name: alice\ngroups: [docker, sudo]\nappend: false\n";
        let e = eval("user", yaml, &alice_present());
        assert_eq!(
            e.diff.attrs,
            vec![AttrChange::new(
                "groups",
                Some("sudo, video"),
                Some("docker, sudo (+docker, -video)")
            )]
        );
        assert_eq!(summaries(&e), vec!["usermod -G 'docker,sudo' alice"]);
        // The primary group is not a supplementary one.
        let e = eval(
            "user",
            "name: alice\ngroups: [alice, sudo, video]\nappend: false\n",
            &alice_present(),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        let e = eval(
            "user",
            "name: alice\ngroups: []\nappend: false\n",
            &alice_present(),
        );
        assert_eq!(summaries(&e), vec!["usermod -G '' alice"]);
        // append: only missing groups matter.
        let e = eval("user", "name: alice\ngroups: [video]\n", &alice_present());
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn home_change_moves_it() {
        let e = eval("user", "name: alice\nhome: /srv/alice\n", &alice_present());
        assert_eq!(
            e.diff.attrs,
            vec![AttrChange::new(
                "home",
                Some("/home/alice"),
                Some("/srv/alice")
            )]
        );
        assert_eq!(summaries(&e), vec!["usermod -d /srv/alice -m alice"]);
        assert_parses(&script(&e));
    }

    #[test]
    fn authorized_keys_content_and_perms() {
        let yaml =
            format!("name: alice\nauthorized_keys: [\"{KEY}\", \"ssh-rsa AAAAB3 second\"]\n");
        let probe = format!(
            "{}keys_stat=644 root\nkeys_dir_stat=755 alice\nkeys=b64:{}\n",
            alice_present(),
            b64("ssh-rsa OLD old@host\n")
        );
        let e = eval("user", &yaml, &probe);
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.content,
            Some(ContentChange {
                before: Some("ssh-rsa OLD old@host\n".into()),
                after: format!("{KEY}\nssh-rsa AAAAB3 second\n"),
            })
        );
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new(
                    "authorized_keys permissions",
                    Some("0644 root"),
                    Some("0600 alice")
                ),
                AttrChange::new(".ssh permissions", Some("0755 alice"), Some("0700 alice")),
            ]
        );
        assert_eq!(
            summaries(&e),
            vec!["write /home/alice/.ssh/authorized_keys (2 keys)"]
        );
        let s = script(&e);
        assert!(s.contains("keel_dir=/home/alice/.ssh\n"));
        assert!(s.contains("chown -h \"$keel_user:\" \"$keel_dir\""));
        assert_parses(&s);
        // Absent file.
        let e = eval("user", &yaml, &format!("{}keys=absent\n", alice_present()));
        assert_eq!(e.diff.content.as_ref().unwrap().before, None);
        // An empty list empties the file.
        let e = eval(
            "user",
            "name: alice\nauthorized_keys: []\n",
            &format!(
                "{}keys_stat=600 alice\nkeys_dir_stat=700 alice\nkeys=b64:\n",
                alice_present()
            ),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    /// A YAML double-quoted scalar (JSON strings are YAML).
    fn yq(s: &str) -> String {
        serde_json::to_string(s).unwrap()
    }

    #[test]
    fn keys_are_written_as_the_user_in_a_temp_dir() {
        // As ourselves (root uses `runuser -u root`, others plain `sh -s`),
        // in a home under a temp dir whose name is hostile.
        let me = run_local("id -un").stdout.trim().to_string();
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home of 'x' $(touch pwned); \"y\"");
        let home_s = home.to_str().unwrap();
        let hostile = "ssh-rsa AAAA it's $(touch /tmp/keel-pwned) ; \"x\" `id`";
        let yaml = format!(
            "name: {me}\nhome: {}\nauthorized_keys: [{}, {}]\n",
            yq(home_s),
            yq(KEY),
            yq(hostile)
        );
        let r = load("user", &yaml);
        // The account line as the probe would show it for this home; the
        // rest of the fact comes from the real probe.
        let account = passwd(&format!("{me}:x:0:0::{home_s}:/bin/sh"));
        let probe = |r: &dyn Resource| {
            let out = run_local(&r.probe());
            assert_eq!(out.status, 0, "{}", out.stderr);
            let rest: String = out
                .stdout
                .lines()
                .filter(|l| !l.starts_with("passwd="))
                .map(|l| format!("{l}\n"))
                .collect();
            ProbeOutput::ok(format!("{account}{rest}"))
        };
        let e = r.evaluate(&probe(r.as_ref())).unwrap();
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(e.diff.content.as_ref().unwrap().before, None);
        assert_eq!(
            summaries(&e),
            vec![format!("write {home_s}/.ssh/authorized_keys (2 keys)")]
        );
        for c in &e.commands {
            let out = run_local(&format!("set -e\n{}", c.script));
            assert_eq!(out.status, 0, "{}: {}", c.summary, out.stderr);
        }
        let written = std::fs::read_to_string(home.join(".ssh/authorized_keys")).unwrap();
        assert_eq!(written, format!("{KEY}\n{hostile}\n"));
        assert!(!std::path::Path::new("/tmp/keel-pwned").exists());
        assert!(!dir.path().join("pwned").exists());
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&home.join(".ssh")), 0o700);
        assert_eq!(mode(&home.join(".ssh/authorized_keys")), 0o600);
        assert_eq!(
            std::fs::read_dir(home.join(".ssh")).unwrap().count(),
            1,
            "no temp file left"
        );
        // Probed again: exactly the keys, right modes: no-op.
        let e = r.evaluate(&probe(r.as_ref())).unwrap();
        assert_eq!(e.diff, Diff::noop());
    }

    #[test]
    fn sudo_rule_is_checked_before_install() {
        let e = eval(
            "user",
            "name: alice\nsudo: true\n",
            &format!("{}sudoers=absent\n", alice_present()),
        );
        assert_eq!(
            e.diff.attrs,
            vec![AttrChange::new("sudo", Some("false"), Some("true"))]
        );
        let s = script(&e);
        let check = s.find("visudo -cqf \"$keel_tmp\"").expect("visudo check");
        let mv = s
            .find("mv -f -- \"$keel_tmp\" /etc/sudoers.d/keel-alice")
            .expect("mv");
        assert!(check < mv, "checked before moved into place");
        // A dotted name (sudo's includedir skips it), private from the start.
        assert!(s.contains("$(umask 077 && mktemp -- /etc/sudoers.d/.keel-alice.keel.XXXXXX)"));
        let create = s.find("chmod 0600 \"$keel_tmp\"").expect("0600 first");
        let fill = s.find("base64 -d > \"$keel_tmp\"").expect("fill");
        let chown = s.find("chown -- root:root \"$keel_tmp\"").expect("chown");
        assert!(create < fill && fill < chown, "0600, content, owner");
        assert!(s.contains("chmod 0440 \"$keel_tmp\""));
        assert_parses(&s);
        // A modified file is rewritten.
        let e = eval(
            "user",
            "name: alice\nsudo: true\n",
            &format!(
                "{}sudoers_stat=440 root\nsudoers=b64:{}\n",
                alice_present(),
                b64("alice ALL=(ALL) ALL\n")
            ),
        );
        assert_eq!(e.diff.action(), Action::Update);
        // sudo: false removes it; unset leaves it.
        let with_file = format!(
            "{}sudoers_stat=440 root\nsudoers=b64:{}\n",
            alice_present(),
            b64("alice ALL=(ALL) NOPASSWD:ALL\n")
        );
        let e = eval("user", "name: alice\nsudo: false\n", &with_file);
        assert_eq!(summaries(&e), vec!["rm -f /etc/sudoers.d/keel-alice"]);
        let e = eval("user", "name: alice\n", &with_file);
        assert_eq!(e.diff.action(), Action::NoOp);
        let e = eval(
            "user",
            "name: alice\nsudo: false\n",
            &format!("{}sudoers=absent\n", alice_present()),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn sudo_check_really_blocks_a_broken_rule() {
        // With a fake `visudo` that rejects everything, nothing is installed.
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        let etc = dir.path().join("sudoers.d");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(
            bin.join("visudo"),
            "#!/bin/sh\necho 'parse error' >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::write(bin.join("chown"), "#!/bin/sh\nexit 0\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        for f in ["visudo", "chown"] {
            std::fs::set_permissions(bin.join(f), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let e = eval(
            "user",
            "name: alice\nsudo: true\n",
            &format!("{}sudoers=absent\n", alice_present()),
        );
        let s = script(&e).replace(SUDOERS_DIR, etc.to_str().unwrap());
        let out = run_local(&format!(
            "set -e\nPATH={}:$PATH\n{s}",
            q(bin.to_str().unwrap())
        ));
        assert_ne!(out.status, 0);
        assert!(out.stderr.contains("was not installed"), "{}", out.stderr);
        assert_eq!(
            std::fs::read_dir(&etc).unwrap().count(),
            0,
            "no file left behind"
        );
        // A visudo that accepts: installed with mode 0440.
        std::fs::write(bin.join("visudo"), "#!/bin/sh\nexit 0\n").unwrap();
        let out = run_local(&format!(
            "set -e\nPATH={}:$PATH\n{s}",
            q(bin.to_str().unwrap())
        ));
        assert_eq!(out.status, 0, "{}", out.stderr);
        let installed = etc.join("keel-alice");
        assert_eq!(
            std::fs::read_to_string(&installed).unwrap(),
            "alice ALL=(ALL) NOPASSWD:ALL\n"
        );
        assert_eq!(
            std::fs::metadata(&installed).unwrap().permissions().mode() & 0o777,
            0o440
        );
    }

    #[test]
    fn state_absent_removes_user_and_rule() {
        let e = eval(
            "user",
            "name: alice\nstate: absent\n",
            &format!(
                "{}sudoers_stat=440 root\nsudoers=b64:{}\n",
                passwd("alice:x:1001:1001::/home/alice:/bin/sh"),
                b64("alice ALL=(ALL) NOPASSWD:ALL\n")
            ),
        );
        assert_eq!(e.diff.action(), Action::Delete);
        assert_eq!(
            summaries(&e),
            vec!["userdel alice", "rm -f /etc/sudoers.d/keel-alice"]
        );
        let e = eval(
            "user",
            "name: alice\nstate: absent\nremove_home: true\n",
            &format!(
                "{}sudoers=absent\n",
                passwd("alice:x:1001:1001::/home/alice:/bin/sh")
            ),
        );
        assert_eq!(summaries(&e), vec!["userdel -r alice"]);
        let e = eval(
            "user",
            "name: alice\nstate: absent\n",
            "passwd_absent=1\nsudoers=absent\n",
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        assert!(e.commands.is_empty());
    }

    #[test]
    fn odd_probe_outputs() {
        let r = load("user", "name: alice\n");
        assert!(r.evaluate(&ProbeOutput::ok("")).is_err());
        assert!(
            r.evaluate(&ProbeOutput::ok("passwd=alice:x:1001\n"))
                .is_err()
        );
        assert!(
            r.evaluate(&ProbeOutput::ok("passwd=alice:x:a:b:c:d:e\n"))
                .is_err()
        );
        let err = r
            .evaluate(&ProbeOutput {
                stdout: String::new(),
                stderr: "getent passwd failed with status 1".into(),
                status: 1,
            })
            .unwrap_err();
        assert!(err.contains("status 1"), "{err}");
        // A comment with `=` and an empty groups line are fine.
        let e = r
            .evaluate(&ProbeOutput::ok(
                "passwd=alice:x:1:1:a=b,,,:/h:/bin/sh\ngroups=\n",
            ))
            .unwrap();
        assert_eq!(e.diff.action(), Action::NoOp);
        let r = load(
            "user",
            &format!("name: alice\nauthorized_keys: [\"{KEY}\"]\n"),
        );
        assert!(
            r.evaluate(&ProbeOutput::ok(format!(
                "{}keys=b64:!!\n",
                alice_present()
            )))
            .is_err()
        );
        let e = r
            .evaluate(&ProbeOutput::ok(format!(
                "{}keys=unreadable\n",
                alice_present()
            )))
            .unwrap();
        assert_eq!(e.diff.action(), Action::Update);
    }

    #[test]
    fn validation_errors() {
        let cases = [
            ("name: Alice\n", "not a valid user name"),
            ("name: \"a;b\"\n", "not a valid user name"),
            (
                "name: abcdefghijabcdefghijabcdefghijabc\n",
                "not a valid user name",
            ),
            ("name: a\nuid: x\n", "not a numeric id"),
            ("name: a\ngroup: \"$(x)\"\n", "not a valid group name"),
            ("name: a\ngroups: [ok, \"b c\"]\n", "not a valid group name"),
            ("name: a\nshell: bash\n", "not an absolute path"),
            ("name: a\nhome: home/a\n", "not an absolute path"),
            ("name: a\ncomment: \"a:b\"\n", "cannot contain `:`"),
            (
                "name: a\npassword_hash: hunter2\n",
                "does not look like a crypt(3) hash",
            ),
            (
                "name: a\npassword_hash: \"$y$a:b\"\n",
                "does not look like a crypt(3) hash",
            ),
            (
                "name: a\nauthorized_keys: [\"not a key\"]\n",
                "does not look like an SSH public key",
            ),
            (
                "name: a\nauthorized_keys: [\"ssh-rsa A\\nssh-rsa B\"]\n",
                "line break",
            ),
            ("name: a\nsudo: yes please\n", "expected true or false"),
            ("name: a\npasword_hash: x\n", "pasword_hash"),
        ];
        for (yaml, want) in cases {
            let e = try_load("user", yaml).unwrap_err();
            assert!(e.contains(want), "{yaml}: {e}");
        }
        // The rejected password is not echoed.
        let e = try_load("user", "name: a\npassword_hash: hunter2\n").unwrap_err();
        assert!(!e.contains("hunter2"));
        assert!(try_load("user", "name: _apt$\nsystem: true\n").is_ok());
        assert!(
            try_load(
                "user",
                "name: a\nauthorized_keys: ['from=\"10.0.0.1\" ssh-ed25519 AAAA c']\n"
            )
            .is_ok()
        );
    }

    #[test]
    fn links() {
        let r = load(
            "user",
            "name: alice\ngroup: staff\ngroups: [docker, staff]\nsudo: true\n",
        );
        let l = r.links();
        assert_eq!(
            l.provides,
            vec![Ref::User("alice".into()), Ref::Path("/home/alice".into())]
        );
        assert_eq!(
            l.needs,
            vec![
                Ref::Group("staff".into()),
                Ref::Group("docker".into()),
                Ref::Package("sudo".into())
            ]
        );
        assert_eq!(
            load("user", "name: a\nstate: absent\n").links(),
            Links::default()
        );
    }

    #[test]
    fn probe_runs_read_only_on_this_host() {
        let r = load(
            "user",
            &format!(
                "name: root\nauthorized_keys: [\"{KEY}\"]\nsudo: false\npassword_hash: '{HASH}'\n"
            ),
        );
        let out = run_local(&r.probe());
        assert_eq!(out.status, 0, "{}", out.stderr);
        let e = r.evaluate(&out).unwrap();
        assert_ne!(e.diff.action(), Action::Create);
        let r = load("user", "name: keel_no_such_user\n");
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert_eq!(e.diff.action(), Action::Create);
        assert_parses(&load("user", "name: a\nstate: absent\n").probe());
    }

    #[test]
    fn sudo_rules_written_by_hand_are_named() {
        let hand = "other_sudo=/etc/sudoers.d/alice:1\nother_sudo=/etc/sudoers:30\n";
        // `sudo: true`: keel's rule is added; the plan says the others stay.
        let e = eval(
            "user",
            "name: alice\nsudo: true\n",
            &format!("{}sudoers=absent\n{hand}", alice_present()),
        );
        assert_eq!(
            e.diff.attrs,
            vec![AttrChange::new("sudo", Some("false"), Some("true"))]
        );
        assert_eq!(
            e.diff.reason.as_deref(),
            Some(
                "`alice` already has a sudo rule that is not keel's (/etc/sudoers.d/alice:1, \
                 /etc/sudoers:30); it stays, and keel adds its own, /etc/sudoers.d/keel-alice"
            )
        );
        assert!(e.diff.unmanaged.is_empty());
        // `sudo: false`: nothing of keel's to remove, but the rules defeat it.
        let e = eval(
            "user",
            "name: alice\nsudo: false\n",
            &format!("{}sudoers=absent\n{hand}", alice_present()),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        let reason = e.diff.reason.unwrap();
        assert!(
            reason.starts_with("warning: `alice` keeps sudo through /etc/sudoers.d/alice:1, /etc/sudoers:30"),
            "{reason}"
        );
        assert_eq!(e.diff.unmanaged.len(), 1);
    }

    #[test]
    fn the_sudoers_probe_finds_the_users_rules_only() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a"), "# alice ALL=(ALL) ALL\nalice ALL=(ALL) NOPASSWD:ALL\nbob ALL=(ALL) ALL\n").unwrap();
        std::fs::write(d.join("keel-alice"), "alice ALL=(ALL) NOPASSWD:ALL\n").unwrap();
        std::fs::write(d.join("b.bak"), "alice ALL=(ALL) ALL\n").unwrap();
        // The probe with its directory pointed at the scratch one.
        let probe = Script::new(include_str!("user/sudoers_probe.sh"))
            .set("keel_path", d.join("keel-alice").to_str().unwrap())
            .set("keel_user", "alice")
            .render()
            .replace("/etc/sudoers.d/*", &format!("{}/*", q(d.to_str().unwrap())))
            .replace(" /etc/sudoers ", " ");
        let out = run_local(&probe);
        assert_eq!(out.status, 0, "{}", out.stderr);
        let found: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("other_sudo=")).collect();
        assert_eq!(found, [format!("other_sudo={}/a:2", d.display())]);
    }

    /// useradd -m keeps a home that exists: another owner's directory
    /// stays theirs and a file stays a file, so creating the user there is
    /// a plan error; a home of the declared uid is kept, and the plan says so.
    #[test]
    fn existing_home_of_a_user_to_create() {
        let absent = "passwd_absent=1\n";
        let e = eval(
            "user",
            "{name: dave, uid: 3001}",
            &format!("{absent}home=dir\nhome_uid=4444\nhome_owner=UNKNOWN\n"),
        );
        assert!(e.commands.is_empty(), "runs nothing");
        let err = e.diff.error.unwrap();
        assert!(err.contains("belongs to uid 4444, which no user has"), "{err}");
        assert!(err.contains("declare `uid: 4444`"), "{err}");

        let e = eval(
            "user",
            "name: dave",
            &format!("{absent}home=dir\nhome_uid=1000\nhome_owner=erin\n"),
        );
        assert!(e.diff.error.unwrap().contains("belongs to erin (uid 1000)"));

        // Left by a user removed earlier (keel prunes users but keeps their
        // homes), no uid declared: created, and the plan says whose it is.
        let e = eval(
            "user",
            "name: dave",
            &format!("{absent}home=dir\nhome_uid=1000\nhome_owner=UNKNOWN\n"),
        );
        assert!(e.diff.error.is_none(), "{:?}", e.diff.error);
        assert!(e.commands[0].script.contains("useradd"));
        let note = e.diff.reason.unwrap();
        assert!(note.contains("belongs to uid 1000, which no user has"), "{note}");
        assert!(note.contains("declare `uid: 1000` to be sure"), "{note}");

        let e = eval("user", "name: dave", &format!("{absent}home=other\n"));
        assert!(e.commands.is_empty());
        assert!(e.diff.error.unwrap().contains("other than a directory"));

        let e = eval(
            "user",
            "{name: dave, uid: 4444}",
            &format!("{absent}home=dir\nhome_uid=4444\nhome_owner=UNKNOWN\n"),
        );
        assert!(e.diff.error.is_none());
        assert_eq!(e.diff.action(), Action::Create);
        assert!(e.diff.reason.unwrap().contains("kept as it is"));
        assert!(e.commands[0].script.contains("useradd"));

        // Nothing there: created as usual.
        let e = eval("user", "name: dave", &format!("{absent}home=absent\n"));
        assert!(e.diff.error.is_none() && e.diff.reason.is_none());
    }

    /// The home probe, run here on real paths.
    #[test]
    fn home_probe_reports_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let probe = |p: &std::path::Path| {
            let script = Script::new(include_str!("user/home_probe.sh"))
                .set("keel_home", p.to_str().unwrap())
                .render();
            run_local(&script).stdout
        };
        let me = run_local("id -u").stdout.trim().to_string();
        let out = probe(dir.path());
        assert!(out.starts_with("home=dir\n"), "{out}");
        assert_eq!(kv(&out, "home_uid"), Some(me.as_str()));
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert_eq!(probe(&file), "home=other\n");
        assert_eq!(probe(&dir.path().join("none")), "home=absent\n");
        // The user probe runs it only for a user to create with a home.
        let r = load("user", "name: dave");
        assert!(r.probe().contains("home=absent"));
        let r = load("user", "{name: dave, create_home: false}");
        assert!(!r.probe().contains("home=absent"));
    }

    /// useradd and usermod refuse a uid another user has: a plan error
    /// naming that user, not an apply failure.
    #[test]
    fn a_uid_another_user_has_is_a_plan_error() {
        let e = eval("user", "{name: u3, uid: 3100}", "passwd_absent=1\nuid_holder=u_taken\n");
        assert!(e.commands.is_empty());
        let err = e.diff.error.unwrap();
        assert!(err.contains("user `u_taken` has it"), "{err}");
        let live = "passwd=u2:x:3101:3101::/home/u2:/bin/sh\nprimary=u2\ngroups=u2\n";
        let e = eval("user", "{name: u2, uid: 3100}", &format!("{live}uid_holder=u_taken\n"));
        assert!(e.commands.is_empty());
        assert!(e.diff.error.is_some());
        // Free: usermod as before.
        let e = eval("user", "{name: u2, uid: 3100}", live);
        assert!(e.diff.error.is_none());
        assert!(e.commands[0].script.contains("usermod -u 3100"));
        // The probe asks who has the uid, on this host: root has 0.
        let r = load("user", "{name: keel_no_such_user, uid: 0}");
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert!(e.diff.error.unwrap().contains("user `root` has it"));
    }
}

//! Resource kinds: what a host must look like, one file per kind.
//!
//! A kind is a typed, deserializable description of desired state that
//! implements [`Kind`]:
//! - `probe()` is a read-only shell script that prints the live state;
//! - `parse()` turns that output into a typed fact (absence is a value,
//!   not an error);
//! - `plan()` compares desired state with the fact and returns the typed
//!   difference together with the shell commands that close the gap (none
//!   when the difference is a no-op): the commands follow from the typed
//!   difference, never from its rendering.
//!
//! What kinds share (paths and permissions, accounts, apt, atomic replace,
//! crontab blocks) lives in [`common`]; no kind imports another kind.
//!
//! The engine only sees the object-safe [`Resource`] trait, implemented for
//! every `Kind`. Adding a kind means one new file plus one line in the
//! `kinds!` registration below, plus its fixture tests.

use crate::node::{Node, NodeError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::path::{Path, PathBuf};

pub mod common;
#[cfg(test)]
pub(crate) mod testing;

pub use common::{check_abs_path, kv, kv_lines, normalize_mode, parent_dir, unused_when_absent};

macro_rules! kinds {
    ($($module:ident :: $ty:ident),* $(,)?) => {
        $(pub mod $module;)*
        /// Every registered kind, in the order they are documented.
        pub static KINDS: &[KindEntry] = &[$(KindEntry::of::<$module::$ty>()),*];
    };
}

// The registry: one line per kind.
kinds! {
    file::File,
    directory::Directory,
    package::Package,
    service::Service,
    user::User,
    group::Group,
    line::Line,
    command::Command,
    sshd::Sshd,
    ufw::Ufw,
    cron::Cron,
    backup::Backup,
    hostname::Hostname,
    timezone::Timezone,
    sysctl::Sysctl,
    apt_repository::AptRepository,
    git::Git,
    docker::Docker,
    compose::Compose,
    certificate::Certificate,
    require::Require,
    check::Check,
}

/// Look up a kind by its YAML name.
pub fn kind(name: &str) -> Option<&'static KindEntry> {
    KINDS.iter().find(|k| k.name == name)
}

/// Names of every kind, for "did you mean" hints.
pub fn kind_names() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.name).collect()
}

/// A registered kind: its name and how to build it from YAML.
#[derive(Debug)]
pub struct KindEntry {
    pub name: &'static str,
    pub parse: fn(&Node) -> Result<Box<dyn Resource>, NodeError>,
}

impl KindEntry {
    pub const fn of<K: Kind + DeserializeOwned>() -> Self {
        KindEntry {
            name: K::KIND,
            parse: parse_kind::<K>,
        }
    }
}

fn parse_kind<K: Kind + DeserializeOwned>(node: &Node) -> Result<Box<dyn Resource>, NodeError> {
    let k: K = node.deserialize()?;
    Ok(Box::new(k))
}

// ---------------------------------------------------------------------------
// What kinds produce.

/// What a resource will do. A small closed set, as in Terraform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Already as desired.
    NoOp,
    /// Does not exist; will be created.
    Create,
    /// Exists; some attributes will change.
    Update,
    /// Exists; will be removed.
    Delete,
    /// A command that will run (its guard says so).
    Run,
}

impl Action {
    /// The one-character marker used in plans.
    pub fn symbol(self) -> char {
        match self {
            Action::NoOp => '=',
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
            Action::Run => '!',
        }
    }
    pub fn verb(self) -> &'static str {
        match self {
            Action::NoOp => "no change",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "remove",
            Action::Run => "will run",
        }
    }
    pub fn is_change(self) -> bool {
        self != Action::NoOp
    }
}

/// One attribute that differs: before → after. `None` means absent/unset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttrChange {
    pub name: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl AttrChange {
    pub fn new(
        name: &str,
        before: Option<impl Into<String>>,
        after: Option<impl Into<String>>,
    ) -> Self {
        AttrChange {
            name: name.to_string(),
            before: before.map(Into::into),
            after: after.map(Into::into),
        }
    }
}

/// The change of a text file's content; `before` is `None` when the file is
/// absent or its content could not be read as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContentChange {
    pub before: Option<String>,
    pub after: String,
}

/// The typed result of comparing desired state with a fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Diff {
    pub action: Option<Action>,
    pub attrs: Vec<AttrChange>,
    pub content: Option<ContentChange>,
    /// Why: for commands, what the guard found; for no-ops, optional detail.
    pub reason: Option<String>,
    /// Set when the fact cannot be complete yet because something this
    /// resource relies on does not exist on the host (a user that owns a
    /// file, the unit of a service whose package is not installed). The
    /// plan says "known after apply" and why.
    pub unknown: Option<String>,
    /// The resource cannot be brought to the desired state as things are
    /// (a requirement not met, a path that is a directory): the plan shows
    /// an error and apply does not run its commands.
    pub error: Option<String>,
    /// Live state beside the declared state that apply leaves alone (UFW
    /// rules keel did not add): not a change, but drift to report.
    pub unmanaged: Vec<String>,
}

impl Diff {
    pub fn noop() -> Self {
        Diff {
            action: Some(Action::NoOp),
            ..Diff::default()
        }
    }
    pub fn with_action(action: Action) -> Self {
        Diff {
            action: Some(action),
            ..Diff::default()
        }
    }
    pub fn action(&self) -> Action {
        self.action.unwrap_or(Action::NoOp)
    }
    pub fn attr(
        mut self,
        name: &str,
        before: Option<impl Into<String>>,
        after: Option<impl Into<String>>,
    ) -> Self {
        self.attrs.push(AttrChange::new(name, before, after));
        self
    }
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// A command to run on the host: a shell script (sent on stdin to `sh -s`)
/// and a one-line summary for logs and plans. Scripts may contain secrets;
/// only the summary is ever shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cmd {
    pub summary: String,
    #[serde(skip)]
    pub script: String,
}

impl Cmd {
    pub fn new(summary: impl Into<String>, script: impl Into<String>) -> Self {
        Cmd {
            summary: summary.into(),
            script: script.into(),
        }
    }
}

/// What a kind plans for one resource: the typed difference between
/// desired and live state, and the commands that close it (empty when the
/// difference is a no-op).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Planned {
    pub diff: Diff,
    pub commands: Vec<Cmd>,
}

impl Planned {
    pub fn new(diff: Diff, commands: Vec<Cmd>) -> Self {
        Planned { diff, commands }
    }
    /// A difference that needs no command (a no-op, a refusal, something
    /// known only after apply).
    pub fn only(diff: Diff) -> Self {
        Planned {
            diff,
            commands: Vec::new(),
        }
    }
}

impl From<(Diff, Vec<Cmd>)> for Planned {
    fn from((diff, commands): (Diff, Vec<Cmd>)) -> Self {
        Planned { diff, commands }
    }
}

/// Why a local file a resource names (a `source:` to upload, a template)
/// could not be used: the message says which file and why, with a hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LocalError(pub String);

impl From<LocalError> for String {
    fn from(e: LocalError) -> String {
        e.0
    }
}

/// Why a probe's output could not be turned into a fact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactError {
    /// The probe exited non-zero: its own message, or what failed.
    #[error("{message}")]
    ProbeFailed { status: i32, message: String },
    /// The output is not what the kind's probe prints.
    #[error("{0}")]
    Unexpected(String),
}

impl FactError {
    /// The same error with its message rewritten (to mask a credential).
    pub fn map_message(self, f: impl FnOnce(&str) -> String) -> Self {
        match self {
            FactError::ProbeFailed { status, message } => FactError::ProbeFailed {
                status,
                message: f(&message),
            },
            FactError::Unexpected(message) => FactError::Unexpected(f(&message)),
        }
    }
}

impl From<&str> for FactError {
    fn from(message: &str) -> Self {
        FactError::Unexpected(message.to_string())
    }
}

impl From<String> for FactError {
    fn from(message: String) -> Self {
        FactError::Unexpected(message)
    }
}

/// What a probe printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeOutput {
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
}

impl ProbeOutput {
    /// A probe that exited 0 and printed `stdout` (tests build facts with it).
    #[cfg(test)]
    pub fn ok(stdout: impl Into<String>) -> Self {
        ProbeOutput {
            stdout: stdout.into(),
            ..ProbeOutput::default()
        }
    }

    /// `Err` with the probe's own message (its stderr) when it exited
    /// non-zero; `what` names the probe when it printed nothing.
    pub fn check(&self, what: &str) -> Result<(), FactError> {
        if self.status == 0 {
            return Ok(());
        }
        let err = self.stderr.trim();
        Err(FactError::ProbeFailed {
            status: self.status,
            message: if err.is_empty() {
                format!("{what} failed (exit status {})", self.status)
            } else {
                err.to_string()
            },
        })
    }
}

/// Things a resource provides or relies on, from which the graph draws the
/// implicit edges a user expects.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ref {
    /// A path on the host. As a need, it is satisfied by the nearest
    /// provider of the path itself or any of its ancestors (a file after the
    /// directory that holds it, anything under a home after its user).
    Path(String),
    Package(String),
    User(String),
    Group(String),
    Service(String),
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Ref::Path(p) => write!(f, "path {p}"),
            Ref::Package(p) => write!(f, "package {p}"),
            Ref::User(p) => write!(f, "user {p}"),
            Ref::Group(p) => write!(f, "group {p}"),
            Ref::Service(p) => write!(f, "service {p}"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    pub provides: Vec<Ref>,
    pub needs: Vec<Ref>,
}

/// What a resource writes at one path, as far as it is known before the
/// run (the lockout analysis reads an sshd drop-in's settings from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Not known, or removed (a directory, `state: absent`, a source file).
    Unknown,
    /// The whole content of the file.
    Whole(String),
    /// One line put into the file (the `line` kind).
    Line(String),
}

/// One path a resource writes, changes or removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTouch {
    pub path: String,
    pub written: Written,
}

/// What a change of a resource touches on the host (see [`Kind::touches`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touches {
    /// Files and directories written, changed or removed.
    pub paths: Vec<PathTouch>,
    /// systemd units started, stopped, restarted or reloaded (by its own
    /// change or when notified).
    pub services: Vec<String>,
    /// Shell text run as given by the user (a command's `run`).
    pub commands: Vec<String>,
    /// Accounts whose login it changes (existence, shell, keys, sudo).
    pub accounts: Vec<String>,
}

impl Touches {
    /// A path whose content is not known ahead.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.paths.push(PathTouch {
            path: path.into(),
            written: Written::Unknown,
        });
        self
    }
    /// A path with what is written there.
    pub fn write(mut self, path: impl Into<String>, written: Written) -> Self {
        self.paths.push(PathTouch {
            path: path.into(),
            written,
        });
        self
    }
    pub fn service(mut self, unit: impl Into<String>) -> Self {
        self.services.push(unit.into());
        self
    }
    pub fn command(mut self, text: impl Into<String>) -> Self {
        self.commands.push(text.into());
        self
    }
    pub fn account(mut self, name: impl Into<String>) -> Self {
        self.accounts.push(name.into());
        self
    }
}

/// A problem with a resource's values found after loading (a mode that is not
/// octal, a relative path). `field` names the key it concerns, so the
/// diagnostic can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: Option<&'static str>,
    /// Deeper than a top-level field: keys and list indexes under `field`
    /// (`Invalid::field("rules", ..).at(["3", "allow"])` points at
    /// `rules[3].allow`). Segments that do not exist stop the walk at the
    /// deepest one that does.
    pub path: Vec<String>,
    pub message: String,
    pub help: Option<String>,
}

impl Invalid {
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        Invalid {
            field: Some(field),
            path: Vec::new(),
            message: message.into(),
            help: None,
        }
    }
    /// Point below the field: map keys, or list indexes as numbers.
    pub fn at<S: Into<String>>(mut self, path: impl IntoIterator<Item = S>) -> Self {
        self.path = path.into_iter().map(Into::into).collect();
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// What a kind may use while it is prepared at load time: local files (a
/// `source:` to upload) and template files, resolved against the directory
/// of the stack or module that declared the resource.
pub trait PrepareCx {
    /// Directory local paths are relative to.
    fn base_dir(&self) -> &Path;
    /// Read a local file (relative paths against `base_dir`).
    fn read_local(&self, path: &str) -> Result<Vec<u8>, LocalError>;
    /// Render a template file (relative paths against the templates folder
    /// of the module, or the stack's directory) with the resource's context.
    fn render_template(&mut self, path: &str) -> Result<String, LocalError>;
    /// The release the host is resolved for (`None`: the stack has none).
    fn release(&self) -> Option<crate::release::Context> {
        None
    }
    /// Resolve a local path to an absolute one.
    fn local_path(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir().join(p)
        }
    }
}

/// A resource kind. See the module docs.
pub trait Kind: Send + Sync + fmt::Debug + 'static {
    /// The YAML key of the kind, e.g. `"file"`.
    const KIND: &'static str;
    /// The live state, as parsed from the probe's output.
    type Fact: fmt::Debug + Send + Sync + 'static;

    /// The name in the resource's address `kind[name]`: the path of a file,
    /// the name of a package.
    fn name(&self) -> String;

    /// Fill in what needs local files or templates (load time).
    fn prepare(&mut self, _cx: &mut dyn PrepareCx) -> Result<(), Vec<Invalid>> {
        Ok(())
    }

    /// Semantic checks of the values (load time, after templating).
    fn check(&self) -> Vec<Invalid> {
        Vec::new()
    }

    /// What the resource provides and needs, for implicit graph edges.
    fn links(&self) -> Links {
        Links::default()
    }

    /// A read-only POSIX shell script that prints the live state.
    fn probe(&self) -> String;

    /// Parse the probe's output. Absence is a fact, not an error.
    fn parse(&self, out: &ProbeOutput) -> Result<Self::Fact, FactError>;

    /// Compare desired state with the fact: the typed difference and the
    /// commands that make the host match (none when it is a no-op).
    fn plan(&self, fact: &Self::Fact) -> Planned;

    /// Commands to run when notified by a changed resource, or `None` when
    /// this kind cannot be notified (a file, a package).
    fn notified(&self, _fact: &Self::Fact, _diff: &Diff) -> Option<Vec<Cmd>> {
        None
    }

    /// Whether this kind can be the target of `notify:`.
    fn notifiable(&self) -> bool {
        false
    }

    /// Whether the probe reads state that other resources of the same run
    /// may change (a command's guard): when something it depends on
    /// changes, the plan says "known after apply" and apply re-probes it.
    fn reads_other_state(&self) -> bool {
        false
    }

    /// A preflight check (`require`): when it fails before anything
    /// changes, the whole host is left untouched.
    fn precondition(&self) -> bool {
        false
    }

    /// What a change of this resource touches on the host: the paths it
    /// writes or removes, the services it acts on, the shell text it runs,
    /// the accounts it changes. Kinds only describe; one place
    /// ([`crate::lockout::exposure`]) decides whether that can cut keel's
    /// access, and apply then runs it under commit-confirmed (see
    /// [`crate::confirm`]) with a snapshot of exactly those things.
    fn touches(&self) -> Touches {
        Touches::default()
    }

    /// This resource lets someone log in (a user with authorized keys):
    /// it is applied before any change that can cut access.
    fn grants_access(&self) -> bool {
        false
    }

    /// When closing the difference to `fact` can run together with other
    /// resources' changes of the same batch key in one command (several
    /// packages in one `apt-get install`): its part of that command. Apply
    /// runs the batch instead of [`Kind::plan`]'s commands, and falls back
    /// to those one by one when the batch fails. `None` (the default): the
    /// resource always runs alone.
    fn batch(&self, _fact: &Self::Fact) -> Option<BatchItem> {
        None
    }
}

/// One resource's part of a batched command (see [`Kind::batch`]).
#[derive(Debug, Clone)]
pub struct BatchItem {
    /// Items with the same key can run in one command.
    pub key: &'static str,
    /// This resource's part (already quoted for the shell), e.g. `'curl'`.
    pub item: String,
    /// The one command for a batch's items, in order.
    pub script: fn(&[String]) -> String,
}

/// The result of evaluating a resource against its probe output.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub diff: Diff,
    pub commands: Vec<Cmd>,
    /// What to run when notified (only for notifiable kinds).
    pub on_notify: Vec<Cmd>,
    /// Its part of a batched command, when the change can be batched.
    pub batch: Option<BatchItem>,
}

/// The object-safe face of a [`Kind`], as the engine sees it.
pub trait Resource: Send + Sync + fmt::Debug {
    fn kind(&self) -> &'static str;
    fn name(&self) -> String;
    fn prepare(&mut self, cx: &mut dyn PrepareCx) -> Result<(), Vec<Invalid>>;
    fn check(&self) -> Vec<Invalid>;
    fn links(&self) -> Links;
    fn probe(&self) -> String;
    fn evaluate(&self, out: &ProbeOutput) -> Result<Evaluation, String>;
    /// The fact parsed from a probe's output in Rust's Debug form, for
    /// `keel show`.
    fn fact_debug(&self, out: &ProbeOutput) -> Result<String, FactError>;
    fn notifiable(&self) -> bool;
    fn reads_other_state(&self) -> bool;
    fn precondition(&self) -> bool;
    fn touches(&self) -> Touches;
    fn grants_access(&self) -> bool;
    /// For analyses that need a kind's typed settings (lockout checks).
    fn as_any(&self) -> &dyn std::any::Any;
}

impl<K: Kind> Resource for K {
    fn kind(&self) -> &'static str {
        K::KIND
    }
    fn name(&self) -> String {
        Kind::name(self)
    }
    fn prepare(&mut self, cx: &mut dyn PrepareCx) -> Result<(), Vec<Invalid>> {
        Kind::prepare(self, cx)
    }
    fn check(&self) -> Vec<Invalid> {
        Kind::check(self)
    }
    fn links(&self) -> Links {
        Kind::links(self)
    }
    fn probe(&self) -> String {
        Kind::probe(self)
    }
    fn evaluate(&self, out: &ProbeOutput) -> Result<Evaluation, String> {
        let fact = self.parse(out).map_err(|e| e.to_string())?;
        let Planned { diff, commands } = self.plan(&fact);
        let commands = if diff.action().is_change() {
            commands
        } else {
            Vec::new()
        };
        let on_notify = self.notified(&fact, &diff).unwrap_or_default();
        let batch = if commands.is_empty() {
            None
        } else {
            Kind::batch(self, &fact)
        };
        Ok(Evaluation {
            diff,
            commands,
            on_notify,
            batch,
        })
    }
    fn fact_debug(&self, out: &ProbeOutput) -> Result<String, FactError> {
        self.parse(out).map(|f| format!("{f:#?}"))
    }
    fn notifiable(&self) -> bool {
        Kind::notifiable(self)
    }
    fn reads_other_state(&self) -> bool {
        Kind::reads_other_state(self)
    }
    fn precondition(&self) -> bool {
        Kind::precondition(self)
    }
    fn touches(&self) -> Touches {
        Kind::touches(self)
    }
    fn grants_access(&self) -> bool {
        Kind::grants_access(self)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

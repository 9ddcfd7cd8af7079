//! Stacks: what a set of hosts must look like.
//!
//! ```yaml
//! name: web
//! targets: [web]                 # groups or hosts of the inventory
//! vars: { app_dir: /srv/app }
//! secrets:
//!   db_password: { env: DB_PASSWORD }          # or { file: path } or { command: "pass show db" }
//! uses:
//!   - module: hardening
//!     with: { ssh_port: 2222 }
//! resources:
//!   - file: { path: /etc/motd, content: "hello {{facts.hostname}}\n" }
//! release: "{{vars.release}}"     # optional: the version deployed (see crate::release)
//! state_dir: /var/lib/keel        # optional: where keel keeps release records on hosts
//! prune: force                    # optional: prune files changed by hand too (as `--force-prune`)
//! serial: 1                       # optional: hosts changed at once (count or "30%"), see super::rollout
//! max_fail: 0                     # optional: failed hosts the run tolerates (count or "30%")
//! ```

use super::entry::{self, Origin, ResourceDecl, UseDecl};
use super::{IgnoredNode, doc_error};
use crate::diag::{Diag, Diagnostics, SourceFile};
use crate::node::{Node, Span, Spanned};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a secret's value comes from. Read on the machine keel runs on.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretSource {
    /// An environment variable.
    Env(String),
    /// A local file (relative to the stack); one trailing newline is removed.
    File(String),
    /// A command run with `sh -c` locally (e.g. a password manager's CLI);
    /// its stdout, less one trailing newline.
    Command(String),
}

#[derive(Debug, Clone)]
pub struct SecretDecl {
    pub name: String,
    pub span: Span,
    pub source: SecretSource,
    /// Seconds a `command` source may take (`timeout:`); the default is
    /// [`crate::secret::COMMAND_TIMEOUT_SECS`].
    pub timeout: Option<u64>,
}

/// A secret's declaration as written: one source, and for a command an
/// optional `timeout:` in seconds.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SecretSpec {
    env: Option<String>,
    file: Option<String>,
    command: Option<String>,
    timeout: Option<u64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
/// A stack: what a set of hosts must look like.
pub(crate) struct StackDoc {
    /// The stack's name.
    name: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    /// Groups or hosts of the inventory the stack applies to.
    #[serde(default)]
    targets: Vec<Spanned<String>>,
    #[serde(default)]
    #[allow(dead_code)]
    #[schemars(schema_with = "crate::schema::fields::vars")]
    vars: IgnoredNode,
    /// Secrets, read on the machine keel runs on: `{ env: VAR }`,
    /// `{ file: path }` or `{ command: "pass show db" }`.
    #[serde(default)]
    secrets: BTreeMap<String, Spanned<SecretSpec>>,
    /// More folders of modules, relative to the stack (see
    /// [`super::modules_path`]).
    #[serde(default)]
    module_path: Vec<Spanned<String>>,
    #[serde(default)]
    #[allow(dead_code)]
    #[schemars(schema_with = "crate::schema::entries::uses")]
    uses: IgnoredNode,
    #[serde(default)]
    #[allow(dead_code)]
    #[schemars(schema_with = "crate::schema::entries::resources")]
    resources: IgnoredNode,
    /// The release deployed (a template, e.g. `"{{vars.release}}"`).
    #[serde(default)]
    release: Option<Spanned<String>>,
    /// Where keel keeps release records on hosts (absolute).
    #[serde(default)]
    state_dir: Option<Spanned<String>>,
    /// `force`: pruning removes files changed by hand since keel wrote
    /// them, as `--force-prune` does for every run of this stack.
    #[serde(default)]
    prune: Option<Spanned<PruneMode>>,
    /// How many hosts change at once: a count, or a percentage of the
    /// run's hosts (`"30%"`); each batch's checks pass before the next.
    #[serde(default)]
    #[allow(dead_code)]
    #[schemars(schema_with = "super::rollout::schema")]
    serial: IgnoredNode,
    /// How many hosts of the run may fail before it stops (a count or a
    /// percentage); hosts not started are reported as not applied.
    #[serde(default)]
    #[allow(dead_code)]
    #[schemars(schema_with = "super::rollout::schema")]
    max_fail: IgnoredNode,
}

/// `prune:` in a stack: how pruning treats what was changed by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PruneMode {
    /// Remove files changed by hand too (as `--force-prune`).
    Force,
}

/// A loaded stack.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub path: PathBuf,
    pub source: SourceFile,
    pub targets: Vec<Spanned<String>>,
    pub vars: Option<Node>,
    pub secrets: Vec<SecretDecl>,
    pub uses: Vec<UseDecl>,
    pub resources: Vec<ResourceDecl>,
    /// The stack's folder (absolute): relative paths, `modules/`.
    pub dir: PathBuf,
    /// `module_path:` folders, relative to [`Stack::dir`].
    pub module_path: Vec<Spanned<String>>,
    /// The release deployed (a template, rendered per host).
    pub release: Option<Spanned<String>>,
    /// Where release records are kept on hosts (absolute).
    pub state_dir: Option<Spanned<String>>,
    /// `prune: force`: every run prunes as with `--force-prune`.
    pub prune_force: bool,
    /// `serial:` and `max_fail:`: how the run goes across hosts.
    pub rollout: super::rollout::Rollout,
}

impl Stack {
    /// Load a stack. Problems are collected; the stack is returned whenever
    /// the file could be read and parsed, so later stages can report theirs.
    pub fn load(path: &Path) -> (Option<Stack>, Diagnostics) {
        let (src, node) = match super::read_source(path) {
            Ok(x) => x,
            Err(d) => return (None, d),
        };
        let mut diags = Diagnostics::new();
        if !check_shape(&src, &node, &mut diags) {
            return (None, diags);
        }
        let doc: StackDoc = match node.deserialize() {
            Ok(d) => d,
            Err(e) => {
                diags.push(doc_error(&src, &node, &e, "stack"));
                // Keep going: what can be read is checked on its own.
                partial_doc(&node)
            }
        };
        let dir = stack_dir(path);
        let origin = Origin {
            source: src.clone(),
            base_dir: dir.clone(),
            templates_dir: dir.join("templates"),
        };
        let vars = node
            .get("vars")
            .filter(|v| v.value != crate::node::Value::Null)
            .cloned();
        if let Some(v) = &vars
            && v.as_map().is_none()
        {
            diags.push(Diag::at(
                "keel::schema",
                &src,
                v.span,
                format!("`vars` must be a map, found {}", v.type_name()),
                "here",
            ));
        }
        check_name_and_targets(&src, &node, &mut diags);
        let uses = entry::parse_uses(&origin, node.get("uses"), &mut diags);
        let resources = entry::parse_resources(&origin, node.get("resources"), &mut diags);
        check_release_settings(&src, &doc, &mut diags);
        let secrets = secret_decls(&src, doc.secrets, &mut diags);
        let rollout = super::rollout::parse(&src, &node, &mut diags);
        let stack = Stack {
            rollout,
            release: doc.release,
            state_dir: doc.state_dir,
            prune_force: doc.prune.is_some_and(|p| p.value == PruneMode::Force),
            name: doc.name.value,
            path: path.to_path_buf(),
            source: src,
            targets: doc.targets,
            vars,
            secrets,
            uses,
            resources,
            dir,
            module_path: doc.module_path,
        };
        (Some(stack), diags)
    }
}

/// The file must hold a map: an empty file or a list gets an error that
/// shows what a stack looks like. `false` when loading cannot go on.
fn check_shape(src: &SourceFile, node: &Node, diags: &mut Diagnostics) -> bool {
    if node.value == crate::node::Value::Null {
        diags.push(
            Diag::at("keel::schema", src, node.span, "the stack file is empty", "here").with_help(
                "a stack needs at least `name:`, `targets:` and `resources:`, e.g.\n  name: web\n  targets: [web]\n  resources:\n    - package: { name: nginx }",
            ),
        );
        return false;
    }
    if node.as_seq().is_some() {
        diags.push(
            Diag::at("keel::schema", src, node.span, "a stack is a map (name, targets, resources), found a list", "a list starts here")
                .with_help("put the resources under `resources:`, next to `name:` and `targets:`, e.g.\n  name: web\n  targets: [web]\n  resources:\n    - package: { name: nginx }"),
        );
        return false;
    }
    true
}

/// What can be read of a stack whose document has errors, so the rest of
/// it is still checked.
fn partial_doc(node: &Node) -> StackDoc {
    StackDoc {
        name: node
            .get("name")
            .and_then(|n| n.deserialize().ok())
            .unwrap_or_else(|| Spanned::new(node.span, String::new())),
        description: None,
        targets: node
            .get("targets")
            .and_then(|n| n.deserialize().ok())
            .unwrap_or_default(),
        vars: IgnoredNode,
        secrets: super::readable_entries(node, "secrets"),
        module_path: node
            .get("module_path")
            .and_then(|n| n.deserialize().ok())
            .unwrap_or_default(),
        uses: IgnoredNode,
        resources: IgnoredNode,
        release: node.get("release").and_then(|n| n.deserialize().ok()),
        state_dir: node.get("state_dir").and_then(|n| n.deserialize().ok()),
        prune: node.get("prune").and_then(|n| n.deserialize().ok()),
        serial: IgnoredNode,
        max_fail: IgnoredNode,
    }
}

/// The stack's folder, absolute, so `modules/` one level up is found from
/// any directory.
fn stack_dir(path: &Path) -> PathBuf {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    // Absolute, so `modules/` one level up is found from any directory.
    std::path::absolute(&dir).unwrap_or(dir)
}

/// The declared secrets, each with exactly one source.
fn secret_decls(
    src: &SourceFile,
    decls: BTreeMap<String, Spanned<SecretSpec>>,
    diags: &mut Diagnostics,
) -> Vec<SecretDecl> {
    let mut secrets = Vec::new();
    for (name, s) in decls {
        let mut bad = |msg: String| {
            diags.push(Diag::at("keel::schema", src, s.span, msg, "here"));
        };
        let spec = s.value;
        let source = match (spec.env, spec.file, spec.command) {
            (Some(v), None, None) => SecretSource::Env(v),
            (None, Some(v), None) => SecretSource::File(v),
            (None, None, Some(v)) => SecretSource::Command(v),
            _ => {
                bad(format!(
                    "secret `{name}`: give exactly one of `env`, `file` or `command`"
                ));
                continue;
            }
        };
        let (what, value) = match &source {
            SecretSource::Env(v) => ("env", v),
            SecretSource::File(v) => ("file", v),
            SecretSource::Command(v) => ("command", v),
        };
        if value.trim().is_empty() {
            bad(format!("secret `{name}`: `{what}` is empty"));
        }
        match spec.timeout {
            Some(_) if what != "command" => bad(format!(
                "secret `{name}`: `timeout` applies to a `command` source only"
            )),
            Some(0) => bad(format!(
                "secret `{name}`: `timeout` must be at least 1 (seconds)"
            )),
            _ => {}
        }
        secrets.push(SecretDecl {
            name,
            span: s.span,
            source,
            timeout: spec.timeout,
        });
    }
    secrets
}

/// `state_dir` is absolute, and a stack with a `release` has a name that
/// can name the release record.
fn check_release_settings(src: &SourceFile, doc: &StackDoc, diags: &mut Diagnostics) {
    if let Some(sd) = &doc.state_dir
        && !sd.value.starts_with('/')
        && !crate::template::Templates::is_template(&sd.value)
    {
        diags.push(
            Diag::at(
                "keel::schema",
                src,
                sd.span,
                "`state_dir` must be an absolute path",
                "here",
            )
            .with_help("e.g. `state_dir: /var/lib/keel` (the default)"),
        );
    }
    if doc.release.is_some()
        && let Err(e) = crate::release::check_value(&doc.name.value)
    {
        diags.push(
            Diag::at(
                "keel::release",
                src,
                doc.name.span,
                format!("a stack with a `release` needs a name usable as a file name: it {e}"),
                "this name",
            )
            .with_help("the release record is kept on each host as releases/NAME.json"),
        );
    }
}

/// `name:` must say something and `targets:`, when written, must name at
/// least one host or group (an empty list would plan nothing, silently).
fn check_name_and_targets(src: &SourceFile, node: &Node, diags: &mut Diagnostics) {
    if let Some(n) = node.get("name")
        && n.as_scalar_text().is_some_and(|t| t.trim().is_empty())
    {
        diags.push(
            Diag::at("keel::schema", src, n.span, "`name` is empty", "here")
                .with_help("name the stack, e.g. `name: web`"),
        );
    }
    if let Some(t) = node.get("targets")
        && t.as_seq().is_some_and(|s| s.is_empty())
    {
        diags.push(
            Diag::at(
                "keel::schema",
                src,
                t.span,
                "`targets` is empty: the stack would apply to no host",
                "here",
            )
            .with_help("list the inventory's groups or hosts, e.g. `targets: [web]`"),
        );
    }
}

//! Resolve: inventory × stack × modules → the resources of one host.
//!
//! For each target host, variables are merged (stack < groups < host),
//! module uses are expanded with their typed inputs, every string of every
//! resource is rendered as a template, and the result is deserialized into
//! the resource's kind, prepared (template files, uploads) and checked. All
//! problems are collected as diagnostics pointing at the YAML.
//!
//! Taint: when the stack has secrets, every template (strings, module
//! inputs, template files) is rendered a second time against a context in
//! which each secret and each `sensitive` module input is a random canary
//! of its own. A rendered value that differs depends on a secret — however
//! it got there — and makes its resource sensitive; the value is kept
//! ([`Instance::tainted`]) so the plan masks it whatever its length.

use crate::config::entry::{Origin, ResourceDecl, UseDecl};
use crate::config::inventory::{Host, Inventory};
use crate::config::module::Module;
use crate::config::stack::Stack;
use crate::diag::{Diag, Diagnostics, SourceFile};
use crate::graph::unresolved::Unresolved;
use crate::node::{Node, Span, Spanned, Value};
use crate::resources::{Invalid, LocalError, PrepareCx, Resource};
use crate::secret::Secret;
use crate::template::{Ctx, RenderData, Templates};
use serde_json::{Map, Value as J, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Everything loaded for a run.
#[derive(Debug, Clone)]
pub struct Project {
    pub inventory: Inventory,
    pub stack: Stack,
    pub modules: BTreeMap<String, Module>,
    /// Declarations dropped at load time (an unknown kind, a module that
    /// did not load): references to what they declare are not dangling.
    pub dropped: Unresolved,
    /// The folder the bundled modules in use were written to: kept while
    /// the project lives (their templates are read when resolving).
    /// Never read: owning it is its whole job (dropping the last handle
    /// deletes the folder).
    #[expect(dead_code, reason = "a guard: it keeps the folder alive")]
    pub bundled: Option<std::sync::Arc<tempfile::TempDir>>,
    /// Values given on the command line (`--set`, a rollback).
    pub overrides: Overrides,
    /// Which groups list which hosts and groups, made once from
    /// `inventory` (which is not changed after load).
    pub groups: crate::config::inventory::GroupIndex,
}

/// What the command line sets over the stack and inventory.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--set KEY=VALUE`: vars at the highest precedence.
    pub vars: BTreeMap<String, String>,
    /// Per host: the release to apply instead of the stack's `release:`
    /// (`keel rollback`).
    pub release: BTreeMap<String, String>,
}

impl Project {
    /// A host's groups in variable-precedence order
    /// ([`crate::config::inventory::Inventory::host_groups`]), from the
    /// index made at load: in the size of the host's own groups.
    pub fn host_groups(&self, host: &str) -> Vec<String> {
        self.groups.host_groups(&self.inventory, host)
    }

    /// Load the inventory, the stack and every module it uses (recursively).
    /// Fails with every problem found.
    pub fn load(stack_path: &Path, inventory_path: &Path) -> Result<Project, Diagnostics> {
        match Project::load_partial(stack_path, inventory_path) {
            (Some(p), d) if d.is_empty() => Ok(p),
            (_, d) => Err(d),
        }
    }

    /// Load what can be loaded, with every problem found: the project is
    /// returned whenever the stack file parsed, so later stages (resolving,
    /// the graph) can report their problems in the same run.
    pub fn load_partial(
        stack_path: &Path,
        inventory_path: &Path,
    ) -> (Option<Project>, Diagnostics) {
        let mut diags = Diagnostics::new();
        let (inventory, d) = Inventory::load(inventory_path);
        // Without a stack file, the inventory was looked for beside a path
        // that is not one: its absence is no news, the stack's is (an
        // inventory that is there but broken is still reported).
        if stack_path.is_file() || inventory_path.exists() {
            diags.extend(d);
        }
        let (stack, d) = Stack::load(stack_path);
        diags.extend(d);
        let Some(stack) = stack else {
            return (None, diags);
        };
        let crate::config::modules_path::Loaded {
            modules,
            missing,
            bundled,
        } = crate::config::modules_path::load_all(&stack, &mut diags);
        for t in &stack.targets {
            if !inventory.knows(&t.value) && !inventory.hosts.is_empty() {
                let names: Vec<String> = inventory
                    .hosts
                    .keys()
                    .chain(inventory.groups.keys())
                    .cloned()
                    .collect();
                diags.push(
                    Diag::at(
                        "keel::unknown-target",
                        &stack.source,
                        t.span,
                        format!(
                            "target `{}` is neither a host nor a group of the inventory",
                            t.value
                        ),
                        "unknown target",
                    )
                    .with_help(crate::suggest::closest_hint(&t.value, names.iter())),
                );
            }
        }
        let has_targets_key = stack
            .source
            .text()
            .lines()
            .any(|l| l.starts_with("targets:"));
        if stack.targets.is_empty() && !has_targets_key {
            diags.push(
                Diag::at(
                    "keel::schema",
                    &stack.source,
                    Span::default(),
                    "the stack has no targets",
                    "here",
                )
                .with_help("add `targets: [GROUP or HOST]`"),
            );
        }
        let mut dropped = Unresolved {
            anything: !missing.is_empty(),
            ..Unresolved::default()
        };
        dropped_entries(&stack.source, &stack.resources, &stack.uses, &mut dropped);
        for m in modules.values() {
            dropped_entries(&m.source, &m.resources, &m.uses, &mut dropped);
        }
        let project = Project {
            groups: crate::config::inventory::GroupIndex::new(&inventory),
            inventory,
            stack,
            modules,
            dropped,
            bundled,
            overrides: Overrides::default(),
        };
        project.check_module_cycles(&mut diags);
        (Some(project), diags)
    }

    fn check_module_cycles(&self, diags: &mut Diagnostics) {
        // `done`: modules whose uses were all walked without a cycle. Without
        // it every path was walked again: 24 modules each using the next
        // twice are 16 million paths.
        fn visit(
            p: &Project,
            name: &str,
            path: &mut Vec<String>,
            diags: &mut Diagnostics,
            reported: &mut bool,
            done: &mut BTreeSet<String>,
        ) {
            if *reported || done.contains(name) {
                return;
            }
            let Some(m) = p.modules.get(name) else { return };
            for u in &m.uses {
                if let Some(i) = path.iter().position(|n| n == &u.module.value) {
                    let mut cycle: Vec<String> = path[i..].to_vec();
                    cycle.push(u.module.value.clone());
                    diags.push(
                        Diag::at(
                            "keel::module-cycle",
                            &u.origin.source,
                            u.module.span,
                            format!("modules use each other in a cycle: {}", cycle.join(" → ")),
                            "closes the cycle",
                        )
                        .with_help("a module cannot use itself, directly or through others"),
                    );
                    *reported = true;
                    return;
                }
                path.push(u.module.value.clone());
                visit(p, &u.module.value, path, diags, reported, done);
                path.pop();
            }
            if !*reported {
                done.insert(name.to_string());
            }
        }
        let mut reported = false;
        let mut done = BTreeSet::new();
        for u in &self.stack.uses {
            let mut path = vec![u.module.value.clone()];
            visit(
                self,
                &u.module.value,
                &mut path,
                diags,
                &mut reported,
                &mut done,
            );
        }
    }

    /// The kinds a module declares, with the modules it uses (anything, when
    /// one of them did not load).
    fn module_kinds(&self, m: &Module, out: &mut Unresolved, seen: &mut BTreeSet<String>) {
        if !seen.insert(m.name.clone()) {
            return;
        }
        for r in &m.resources {
            out.resource(r.kind.name, None);
        }
        for u in &m.uses {
            match self.modules.get(&u.module.value) {
                Some(inner) => self.module_kinds(inner, out, seen),
                None => out.anything = true,
            }
        }
    }

    /// The hosts a run targets, narrowed by `--limit HOST|GROUP`.
    pub fn target_hosts(&self, limit: Option<&str>) -> Result<Vec<String>, Diagnostics> {
        let mut hosts = BTreeSet::new();
        for t in &self.stack.targets {
            hosts.extend(self.inventory.expand(&t.value));
        }
        if let Some(limit) = limit {
            if !self.inventory.knows(limit) {
                let names: Vec<String> = self
                    .inventory
                    .hosts
                    .keys()
                    .chain(self.inventory.groups.keys())
                    .cloned()
                    .collect();
                return Err(Diag::plain(
                    "keel::limit",
                    format!("--limit `{limit}` is neither a host nor a group of the inventory"),
                )
                .with_help(crate::suggest::closest_hint(limit, names.iter()))
                .into());
            }
            let allowed = self.inventory.expand(limit);
            hosts.retain(|h| allowed.contains(h));
        }
        // Natural order (`web-2` before `web-10`) in every output that follows it.
        let mut hosts: Vec<String> = hosts.into_iter().collect();
        hosts.sort_by(|a, b| crate::natural::cmp(a, b));
        Ok(hosts)
    }
}

/// Entries of a file's `resources:` and `uses:` that the loader dropped
/// (reported then): a resource with an unknown kind counts as one of the
/// closest kind (the one a reference would name), anything else as unknown.
fn dropped_entries(
    src: &SourceFile,
    resources: &[ResourceDecl],
    uses: &[UseDecl],
    out: &mut Unresolved,
) {
    let Ok(node) = Node::parse(src.text()) else {
        return;
    };
    let kept: BTreeSet<(usize, usize)> = resources
        .iter()
        .map(|r| r.span)
        .chain(uses.iter().map(|u| u.span))
        .map(|s| (s.offset, s.len))
        .collect();
    let kinds = crate::resources::kind_names();
    for key in ["resources", "uses"] {
        let Some(list) = node.get(key).filter(|l| l.value != Value::Null) else {
            continue;
        };
        let Some(items) = list.as_seq() else {
            out.anything = true;
            continue;
        };
        for item in items {
            if kept.contains(&(item.span.offset, item.span.len)) {
                continue;
            }
            let first = item
                .as_map()
                .and_then(|m| m.first())
                .and_then(|(k, _)| k.as_scalar_text());
            let kind = match first {
                Some(k) if key == "resources" => kinds
                    .iter()
                    .map(|c| (strsim::jaro_winkler(k, c), *c))
                    .filter(|(s, _)| *s > 0.8)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, c)| c),
                _ => None,
            };
            match kind {
                Some(k) => out.resource(k, None),
                None => out.anything = true,
            }
        }
    }
}

/// Host facts used in templates, as gathered by [`crate::probe::FACTS_SCRIPT`].
pub type Facts = serde_json::Value;

/// Placeholder facts for offline work (validate, graph). Two different sets
/// are used to find out whether a stack's rendering depends on facts.
pub fn placeholder_facts(variant: u8) -> Facts {
    if variant == 0 {
        json!({"hostname": "keel-placeholder", "fqdn": "keel-placeholder", "os": {"id": "debian", "version_id": "12", "codename": "bookworm", "pretty_name": "Debian GNU/Linux 12 (bookworm)", "family": "debian"}, "arch": "x86_64", "cpus": 2, "memory_mb": 2048, "kernel": "6.1.0", "user": "root"})
    } else {
        json!({"hostname": "keel-other", "fqdn": "keel-other.example", "os": {"id": "ubuntu", "version_id": "24.04", "codename": "noble", "pretty_name": "Ubuntu 24.04", "family": "debian"}, "arch": "aarch64", "cpus": 64, "memory_mb": 65536, "kernel": "6.8.0", "user": "keel"})
    }
}

/// One resource of a host, ready for the graph.
#[derive(Debug)]
pub struct Instance {
    /// `kind[name]`, or `kind[id]` with an explicit id.
    pub address: String,
    pub resource: Box<dyn Resource>,
    pub depends_on: Vec<Reference>,
    pub notify: Vec<Reference>,
    /// Module instance path (`base`, `base.ssh`), when declared in a module.
    pub module: Option<String>,
    pub origin: Origin,
    pub span: Span,
    /// Rendered from a secret: values are shown as `(sensitive)`.
    pub sensitive: bool,
    /// The rendered values that depend on a secret (taint), whatever their
    /// length: the plan shows them as `(sensitive)`.
    pub tainted: Vec<Secret>,
    /// A stable text of the desired state, for hashing saved plans.
    pub desired: String,
    /// The rendered settings, for pointing diagnostics at a field.
    pub body: Node,
}

/// A reference to other resources (`depends_on`, `notify`) with the file
/// it is written in: a module use's `depends_on` is written in the stack
/// (or the parent module), not in the file of the resources it applies to.
#[derive(Debug, Clone)]
pub struct Reference {
    pub value: String,
    pub span: Span,
    pub source: SourceFile,
    /// The module instance whose use wrote it (`- module: x` with
    /// `depends_on:`), for messages about the use rather than each resource.
    pub by_use: Option<String>,
}

/// The resources of one host.
#[derive(Debug, Default)]
pub struct Resolved {
    pub host: String,
    pub instances: Vec<Instance>,
    /// Module instance path → indexes of its resources (nested included).
    pub modules: BTreeMap<String, Vec<usize>>,
    /// Module instance path → where it is used, for diagnostics.
    pub module_uses: BTreeMap<String, (SourceFile, Span)>,
    /// Resources that were declared but failed to resolve (their errors are
    /// reported): references to them are not dangling.
    pub unresolved: Unresolved,
    /// What a `when:` left out of this host (`file[/etc/x]`, `module.web`).
    pub skipped: Vec<String>,
    /// The release this host is resolved for, when the stack has one.
    pub release: Option<crate::release::Context>,
    /// The stack's ledger on this host and what the plan prunes.
    pub ledger: Option<crate::ledger::model::HostLedger>,
}

/// Inputs of a host's resolution.
pub struct HostInput<'a> {
    pub project: &'a Project,
    pub host: &'a Host,
    pub facts: &'a Facts,
    /// Secret values by name (placeholders when offline).
    pub secrets: &'a BTreeMap<String, Secret>,
    pub templates: &'a Templates,
}

/// Resolve the resources of one host.
pub fn resolve_host(input: &HostInput) -> Result<Resolved, Diagnostics> {
    let (resolved, diags) = resolve_host_partial(input);
    diags.into_result(resolved)
}

/// Resolve what resolves, with every problem found: the resources that
/// failed are left out (and listed in [`Resolved::unresolved`]), so the
/// graph of the others can still be checked in the same run.
pub fn resolve_host_partial(input: &HostInput) -> (Resolved, Diagnostics) {
    // A host's templates together may render only so much (a loop over a
    // list, each item rendering megabytes, filled the memory).
    crate::template::per_host_budget(|| resolve_partial(input))
}

fn resolve_partial(input: &HostInput) -> (Resolved, Diagnostics) {
    let mut diags = Diagnostics::new();
    let project = input.project;
    let vars = merged_vars(input, &mut diags);
    let host = input.host;
    let groups = project.host_groups(&host.name);
    let secrets_json: Map<String, J> = input
        .secrets
        .iter()
        .map(|(k, v)| (k.clone(), J::String(v.expose().to_string())))
        .collect();
    let base_ctx = json!({
        "vars": vars,
        "host": {
            "name": host.name,
            "address": host.address,
            "user": host.user,
            "port": host.port.unwrap_or(22),
            "groups": groups,
        },
        "facts": input.facts,
        "secrets": secrets_json,
    });
    // Taint: when the stack has secrets (or a module has sensitive inputs),
    // every template is rendered a second time with each secret replaced by
    // a random canary of its own; a value that differs depends on a secret.
    let taint = !input.secrets.is_empty()
        || project
            .modules
            .values()
            .any(|m| m.inputs.iter().any(|i| i.sensitive));
    let canary_ctx = taint.then(|| {
        let mut c = base_ctx.clone();
        let canaries: Map<String, J> = input
            .secrets
            .keys()
            .map(|k| (k.clone(), J::String(crate::secret::canary())))
            .collect();
        c["secrets"] = J::Object(canaries);
        c
    });
    let release = release_of(input, &base_ctx, &mut diags);
    let mut base_ctx = base_ctx;
    let mut canary_ctx = canary_ctx;
    if let Some(r) = &release {
        for c in std::iter::once(&mut base_ctx).chain(canary_ctx.as_mut()) {
            c["release"] = J::String(r.version.clone());
        }
    }
    let mut out = Resolved {
        host: host.name.clone(),
        unresolved: project.dropped.clone(),
        release,
        ..Resolved::default()
    };
    let scope = Scope {
        ctx: Ctx::new(base_ctx),
        canary_ctx: canary_ctx.map(Ctx::new),
        module: None,
        extra_depends: Vec::new(),
        chain: Vec::new(),
    };
    let mut r = Resolver {
        input,
        out: &mut out,
        diags: &mut diags,
        index: HashMap::new(),
        module_uses: 0,
    };
    r.expand(&scope, &project.stack.uses, &project.stack.resources, 0);
    (out, diags)
}

fn merged_vars(input: &HostInput, diags: &mut Diagnostics) -> J {
    let mut vars = Map::new();
    let mut merge = |node: &Node| {
        if let J::Object(m) = node.to_json() {
            for (k, v) in m {
                vars.insert(k, v);
            }
        }
    };
    if let Some(v) = &input.project.stack.vars {
        merge(v);
    }
    for g in input.project.host_groups(&input.host.name) {
        if let Some(Some((_, v))) = input.project.inventory.groups.get(&g).map(|g| &g.vars) {
            merge(v);
        }
    }
    if let Some((_, v)) = &input.host.vars {
        merge(v);
    }
    for (k, v) in &input.project.overrides.vars {
        vars.insert(k.clone(), J::String(v.clone()));
    }
    let _ = diags;
    J::Object(vars)
}

/// The release of a host: the stack's `release:` rendered with its vars
/// (or a rollback's value), checked.
fn release_of(
    input: &HostInput,
    ctx: &J,
    diags: &mut Diagnostics,
) -> Option<crate::release::Context> {
    let stack = &input.project.stack;
    let decl = stack.release.as_ref()?;
    let version = match input.project.overrides.release.get(&input.host.name) {
        Some(v) => v.clone(),
        None => match input.templates.render(&decl.value, ctx) {
            Ok(v) => v.trim().to_string(),
            Err(e) => {
                let mut d = inline_template_diag(&stack.source, decl.span, &decl.value, &e);
                let hint = "the release is usually given on the command line, e.g. `keel apply STACK --set release=v1.0.0`";
                d.help = Some(match d.help.take() {
                    Some(h) => format!("{h}\n{hint}"),
                    None => hint.to_string(),
                });
                diags.push(d);
                // Resolution goes on with a stand-in, so each use of
                // `{{release}}` is not reported again.
                "keel-release-not-set".to_string()
            }
        },
    };
    if let Err(e) = crate::release::check_value(&version) {
        diags.push(
            Diag::at(
                "keel::release",
                &stack.source,
                decl.span,
                format!("the release `{}` {e}", version.escape_debug()),
                "the release",
            )
            .with_help("give a version such as `v2.1.0`, e.g. `keel apply --set release=v2.1.0`"),
        );
        return None;
    }
    let state_dir = match render_state_dir(stack, input.templates, ctx) {
        Ok(d) => d,
        Err(d) => {
            diags.push(*d);
            return None;
        }
    };
    Some(crate::release::Context {
        stack: stack.name.clone(),
        version,
        state_dir,
    })
}

/// The stack's `state_dir` rendered with `ctx` (absolute), or the default.
fn render_state_dir(
    stack: &crate::config::stack::Stack,
    templates: &Templates,
    ctx: &J,
) -> Result<String, Box<Diag>> {
    let Some(sd) = &stack.state_dir else {
        return Ok(crate::release::DEFAULT_STATE_DIR.to_string());
    };
    match templates.render(&sd.value, ctx) {
        Ok(d) if d.starts_with('/') && !d.contains('\0') => Ok(d),
        Ok(d) => Err(Box::new(
            Diag::at(
                "keel::release",
                &stack.source,
                sd.span,
                format!(
                    "`state_dir` must be an absolute path, found `{}`",
                    d.escape_debug()
                ),
                "here",
            )
            .with_help("e.g. `state_dir: /var/lib/keel` (the default)"),
        )),
        Err(e) => Err(Box::new(inline_template_diag(
            &stack.source,
            sd.span,
            &sd.value,
            &e,
        ))),
    }
}

/// Where the release records of the stack are on `host` (its `state_dir`
/// rendered with the host's vars, no facts or secrets), for commands that
/// read them without planning (`keel rollback`).
pub fn state_dir_of(project: &Project, host: &Host) -> Result<String, Diagnostics> {
    // One engine for every call (a plan asks once per host): making one
    // registers every helper.
    static ENGINE: std::sync::OnceLock<Templates> = std::sync::OnceLock::new();
    let templates = ENGINE.get_or_init(Templates::new);
    let facts = placeholder_facts(0);
    let secrets = BTreeMap::new();
    let input = HostInput {
        project,
        host,
        facts: &facts,
        secrets: &secrets,
        templates,
    };
    let mut diags = Diagnostics::new();
    let vars = merged_vars(&input, &mut diags);
    let ctx = json!({
        "vars": vars,
        "host": {
            "name": host.name,
            "address": host.address,
            "user": host.user,
            "port": host.port.unwrap_or(22),
            "groups": project.host_groups(&host.name),
        },
    });
    render_state_dir(&project.stack, templates, &ctx).map_err(|d| {
        let mut all = Diagnostics::new();
        all.push(*d);
        all
    })
}

#[derive(Clone)]
struct Scope {
    /// Made once per scope, rendered with as it is ([`Ctx`]).
    ctx: Ctx,
    /// The same context with every secret (and sensitive module input)
    /// replaced by a canary; `None` when nothing is secret.
    canary_ctx: Option<Ctx>,
    module: Option<String>,
    /// `depends_on` of the enclosing module uses.
    extra_depends: Vec<Reference>,
    /// Names of the modules being expanded, outermost first.
    chain: Vec<String>,
}

impl Scope {
    /// This scope with `each` set to one item of a loop. An item that
    /// comes from a secret is a canary in the canary context.
    fn with_each(&self, item: &Item) -> Scope {
        let mut s = self.clone();
        let each = json!({"key": item.key, "value": item.value, "index": item.index});
        if let J::Object(m) = s.ctx.data_mut() {
            m.insert("each".into(), each.clone());
        }
        if let Some(J::Object(m)) = s.canary_ctx.as_mut().map(Ctx::data_mut) {
            let each = if item.tainted {
                json!({"key": crate::secret::canary(), "value": crate::secret::canary(), "index": item.index})
            } else {
                each
            };
            m.insert("each".into(), each);
        }
        s
    }
}

/// One item of a `for_each:`.
struct Item {
    key: String,
    value: J,
    index: usize,
    /// The list or map depends on a secret.
    tainted: bool,
}

/// The module instance paths a resource of `path` belongs to: `a`,
/// `a.b[x]` and, for an instance of a loop, the loop as a whole (`a.b`).
/// Dots inside `[…]` (keys like `api.example.com`) do not split.
fn module_prefixes(path: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in path.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '.' if depth == 0 => {
                parts.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&path[start..]);
    let mut out = Vec::new();
    for i in 1..=parts.len() {
        let last = parts[i - 1];
        if let Some(open) = last.find('[') {
            let mut base = parts[..i - 1].to_vec();
            base.push(&last[..open]);
            out.push(base.join("."));
        }
        out.push(parts[..i].join("."));
    }
    out
}

struct Resolver<'a, 'b> {
    input: &'a HostInput<'a>,
    out: &'b mut Resolved,
    diags: &'b mut Diagnostics,
    /// address → index in `out.instances` (a merge finds its instance
    /// here: scanning every instance per duplicate was quadratic) and the
    /// span of its first declaration (in that instance's source).
    index: HashMap<String, (usize, Span)>,
    /// Module uses expanded so far for this host (see [`MAX_MODULE_USES`]).
    module_uses: usize,
}

/// Deepest nesting of modules using modules.
const MAX_MODULE_DEPTH: usize = 16;

/// Most module uses expanded for one host: modules that each use the next
/// several times multiply (10 uses each, 8 deep, are 100 million).
const MAX_MODULE_USES: usize = 10_000;

impl Resolver<'_, '_> {
    fn expand(
        &mut self,
        scope: &Scope,
        uses: &[UseDecl],
        resources: &[ResourceDecl],
        depth: usize,
    ) {
        // Uses are prepared first: their `outputs:` are part of the context
        // of this scope's resources (and of later uses' inputs). Their own
        // resources are expanded after this scope's, as before.
        let mut here = scope.clone();
        let mut pending = Vec::new();
        let first_use_diag = self.diags.len();
        let too_deep = depth > MAX_MODULE_DEPTH;
        if let Some(first) = uses.first()
            && too_deep
            && !scope.chain.iter().any(|m| m == &first.module.value)
        {
            // A cycle is reported at load time; a deep chain would silently
            // lose its deeper resources.
            self.diags.push(
                Diag::at(
                    "keel::module-depth",
                    &first.origin.source,
                    first.module.span,
                    format!("modules nest more than {MAX_MODULE_DEPTH} levels deep here"),
                    "too deep",
                )
                .with_help("flatten the modules: use this one from the stack instead"),
            );
        }
        for u in uses.iter().filter(|_| !too_deep) {
            self.module_uses += 1;
            if self.module_uses > MAX_MODULE_USES {
                if self.module_uses == MAX_MODULE_USES + 1 {
                    self.diags.push(
                        Diag::at(
                            "keel::module-uses",
                            &u.origin.source,
                            u.module.span,
                            format!(
                                "more than {MAX_MODULE_USES} module uses for one host: modules using modules several times multiply"
                            ),
                            "one too many",
                        )
                        .with_help("use each module once per host where you can"),
                    );
                }
                break;
            }
            let before = pending.len();
            self.module_use(&here, u, &mut pending);
            // Outputs of a single instance (not of a `for_each` loop).
            if u.for_each.is_none() && pending.len() == before + 1 {
                self.outputs(&mut here, u, &pending[before]);
            }
        }
        let first_resource_diag = self.diags.len();
        for decl in resources {
            self.resource(&here, decl);
        }
        // Report the resources' problems before the uses', as they read.
        self.diags.0[first_use_diag..].rotate_left(first_resource_diag - first_use_diag);
        for (inner, name) in pending {
            if let Some(module) = self.input.project.modules.get(&name) {
                self.expand(&inner, &module.uses, &module.resources, depth + 1);
            }
        }
    }

    /// Render a module instance's `outputs:` in its scope and expose them
    /// to the calling scope as `modules.INSTANCE`.
    fn outputs(&mut self, caller: &mut Scope, u: &UseDecl, (inner, name): &(Scope, String)) {
        let Some(mut node) = self
            .input
            .project
            .modules
            .get(name)
            .and_then(|m| m.outputs.clone())
        else {
            return;
        };
        let src = self.input.project.modules[name].source.clone();
        let rendered = self.render_node(inner, &mut node, &src);
        if !rendered.ok {
            return;
        }
        let instance = u.instance().to_string();
        let put = |ctx: &mut J, value: J| {
            if let J::Object(m) = ctx
                && let J::Object(mods) = m.entry("modules").or_insert_with(|| J::Object(Map::new()))
            {
                mods.insert(instance.clone(), value);
            }
        };
        put(caller.ctx.data_mut(), node.to_json());
        if let Some(c) = caller.canary_ctx.as_mut() {
            put(
                c.data_mut(),
                rendered.canary.map_or(J::Null, |n| n.to_json()),
            );
        }
    }

    /// Render every template string of `node` in place. With a canary
    /// context, also render a pristine copy against it: the values that
    /// differ are tainted, and the copy is returned (module inputs are
    /// built from it).
    fn render_node(&mut self, scope: &Scope, node: &mut Node, src: &SourceFile) -> Rendered {
        let templates = self.input.templates;
        let ctx = &scope.ctx;
        let mut canary_node = scope.canary_ctx.as_ref().map(|_| node.clone());
        let mut errors = Vec::new();
        let mut real: Vec<Option<J>> = Vec::new();
        render_strings(node, &mut |s: &mut String, span: Span| {
            if s.contains('\0') {
                errors.push(Diag::at(
                    "keel::schema",
                    src,
                    span,
                    "a NUL byte cannot be sent to a host",
                    "here",
                ));
                return None;
            }
            if !Templates::is_template(s) {
                return None;
            }
            match render_typed(templates, s, ctx, span) {
                // A variable or secret brought a NUL byte in: refused here,
                // at the value, never dropped later (`shell::q`).
                Ok((_, json)) if has_nul(&json) => {
                    errors.push(
                        Diag::at(
                            "keel::schema",
                            src,
                            span,
                            "this value contains a NUL byte once rendered; a NUL byte cannot be sent to a host",
                            "rendered from here",
                        )
                        .with_help(
                            "a variable or secret used here holds a NUL byte (\\0): remove it from that value",
                        ),
                    );
                    real.push(None);
                    None
                }
                Ok((value, json)) => {
                    real.push(Some(json));
                    Some(value)
                }
                Err(e) => {
                    let mut d = inline_template_diag(src, span, s, &e);
                    if let Some(v) = &e.variable {
                        d = d.with_help(variable_hint(v, ctx.data()));
                    }
                    errors.push(d);
                    real.push(None);
                    None
                }
            }
        });
        let mut tainted = Vec::new();
        if let (Some(cnode), Some(cctx)) = (canary_node.as_mut(), scope.canary_ctx.as_ref()) {
            let mut i = 0;
            render_strings(cnode, &mut |s: &mut String, span| {
                if s.contains('\0') || !Templates::is_template(s) {
                    return None;
                }
                let canary = render_typed(templates, s, cctx, span).ok();
                if let Some(Some(r)) = real.get(i) {
                    tainted_leaves(r, canary.as_ref().map(|(_, j)| j), &mut tainted);
                }
                i += 1;
                canary.map(|(v, _)| v)
            });
        }
        let ok = errors.is_empty();
        for e in errors {
            self.diags.push(e);
        }
        Rendered {
            ok,
            tainted,
            canary: canary_node,
        }
    }

    /// A declared resource that failed: references to it are not dangling.
    fn failed(&mut self, decl: &ResourceDecl) {
        self.failed_named(decl, None);
    }

    /// A resource that parsed and then failed (a bad mode, a setting its
    /// kind refuses): its name is known, so only references to exactly
    /// it are kept quiet, and a dangling one beside it is still reported.
    fn failed_named(&mut self, decl: &ResourceDecl, name: Option<String>) {
        // An `id:` still holding a template is not known: its whole kind
        // is kept quiet, as for a resource that did not parse.
        let address = match &decl.id {
            Some(id) if id.value.contains("{{") => None,
            Some(id) => Some(id.value.clone()),
            None => name,
        }
        .map(|id| format!("{}[{id}]", decl.kind.name));
        self.out.unresolved.resource(decl.kind.name, address);
    }

    /// A declared resource: one per item of its `for_each:`, each kept
    /// only when its `when:` holds.
    fn resource(&mut self, scope: &Scope, decl: &ResourceDecl) {
        let src = &decl.origin.source;
        let Some(fe) = &decl.for_each else {
            return self.resource_when(scope, decl);
        };
        match self.loop_items(scope, fe, src) {
            Some(items) => {
                for item in &items {
                    self.resource_when(&scope.with_each(item), decl);
                }
            }
            None => self.failed(decl),
        }
    }

    fn resource_when(&mut self, scope: &Scope, decl: &ResourceDecl) {
        let src = &decl.origin.source;
        if let Some(w) = &decl.when {
            match self.condition(scope, w, src) {
                Some(true) => {}
                Some(false) => {
                    let address = self.skipped_address(scope, decl);
                    self.out
                        .unresolved
                        .resource(decl.kind.name, address.clone());
                    let what = address.unwrap_or_else(|| {
                        let (l, _) = src.line_col(decl.span.offset);
                        format!("{} ({}:{l})", decl.kind.name, src.name)
                    });
                    self.out.skipped.push(what);
                    return;
                }
                None => return self.failed(decl),
            }
        }
        self.resource_one(scope, decl);
    }

    /// The address of a resource left out by its condition, when it can
    /// be told without errors (its templates may need what the host lacks).
    fn skipped_address(&mut self, scope: &Scope, decl: &ResourceDecl) -> Option<String> {
        if let Some(id) = &decl.id {
            return self
                .input
                .templates
                .render(&id.value, &scope.ctx)
                .ok()
                .map(|id| format!("{}[{id}]", decl.kind.name));
        }
        let mut body = decl.body.clone();
        let mut ok = true;
        render_strings(&mut body, &mut |s, span| {
            if !Templates::is_template(s) {
                return None;
            }
            match render_typed(self.input.templates, s, &scope.ctx, span) {
                Ok((v, _)) => Some(v),
                Err(_) => {
                    ok = false;
                    None
                }
            }
        });
        let res = ok.then(|| (decl.kind.parse)(&body).ok()).flatten()?;
        Some(format!("{}[{}]", decl.kind.name, res.name()))
    }

    /// The items of a `for_each:`: a list or a map, written in the YAML
    /// or given by one expression (`"{{vars.sites}}"`).
    fn loop_items(&mut self, scope: &Scope, fe: &Node, src: &SourceFile) -> Option<Vec<Item>> {
        let mut node = fe.clone();
        let rendered = self.render_node(scope, &mut node, src);
        if !rendered.ok {
            return None;
        }
        let tainted = !rendered.tainted.is_empty();
        let from_expr = Templates::is_template(fe.as_scalar_text().unwrap_or_default());
        let mut items = Vec::new();
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        let mut add = |this: &mut Self, key: String, value: J, span: Span| {
            if let Some(first) = seen.get(&key) {
                let mut d = Diag::at(
                    "keel::for-each",
                    src,
                    span,
                    format!("`for_each` has the key `{key}` twice"),
                    if from_expr { "this value has it twice" } else { "again here" },
                )
                .with_help(
                    "each item of a loop needs its own key: it names the instance (`kind[…]`, `module.NAME[KEY]`); remove the duplicate or give it another `key:`",
                );
                if !from_expr && *first != span {
                    d = d.with_note(*first, "first here");
                }
                this.diags.push(d);
                return false;
            }
            seen.insert(key.clone(), span);
            let index = items.len();
            items.push(Item {
                key,
                value,
                index,
                tainted,
            });
            true
        };
        let mut ok = true;
        match &node.value {
            Value::Seq(list) => {
                for item in list {
                    let key = match &item.value {
                        Value::Map(_) => item
                            .get("key")
                            .or_else(|| item.get("name"))
                            .and_then(Node::as_scalar_text),
                        _ => item.as_scalar_text(),
                    };
                    match key {
                        Some(k) => ok &= add(self, k.to_string(), item.to_json(), item.span),
                        None => {
                            self.diags.push(
                                Diag::at(
                                    "keel::for-each",
                                    src,
                                    item.span,
                                    format!(
                                        "a `for_each` item needs a key, found {}{}",
                                        item.type_name(),
                                        if item.as_map().is_some() {
                                            " without `key:` or `name:`"
                                        } else {
                                            ""
                                        }
                                    ),
                                    "no key",
                                )
                                .with_help("loop over scalars (`[a, b]`), over maps that have a `key:` or `name:`, or over a map (`{ a: …, b: … }`, the keys are its keys)"),
                            );
                            ok = false;
                        }
                    }
                }
            }
            Value::Map(entries) => {
                for (k, v) in entries {
                    let key = k.as_scalar_text().unwrap_or_default().to_string();
                    ok &= add(self, key, v.to_json(), k.span);
                }
            }
            _ => {
                self.diags.push(
                    Diag::at(
                        "keel::for-each",
                        src,
                        fe.span,
                        format!(
                            "`for_each` needs a list or a map, found {}",
                            if tainted { "a value from a secret" } else { node.type_name() }
                        ),
                        "not a list or map",
                    )
                    .with_help("write a list (`for_each: [a, b]`), a map, or one expression that gives one (`for_each: \"{{vars.sites}}\"`)"),
                );
                ok = false;
            }
        }
        ok.then_some(items)
    }

    /// A `when:` condition: `true`/`false`, or a template that renders to
    /// exactly one of them. `None` when it is broken (reported).
    fn condition(&mut self, scope: &Scope, w: &Node, src: &SourceFile) -> Option<bool> {
        let help = "a condition renders to `true` or `false`, e.g. `when: \"{{eq facts.os.id 'debian'}}\"`, `\"{{contains host.groups 'web'}}\"`, `\"{{not vars.legacy}}\"`";
        let mut node = w.clone();
        let rendered = self.render_node(scope, &mut node, src);
        if !rendered.ok {
            return None;
        }
        match &node.value {
            Value::Bool(b, t)
                if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") =>
            {
                return Some(*b);
            }
            Value::Str(t) if t.trim() == "true" || t.trim() == "false" => {
                return Some(t.trim() == "true");
            }
            _ => {}
        }
        let found = match (&node.value, rendered.tainted.is_empty()) {
            (_, false) => "a value from a secret".to_string(),
            (Value::Str(t), _) if t.len() <= 60 => format!("`{t}`"),
            (Value::Int(_, t) | Value::Float(_, t) | Value::Bool(_, t), _) => format!("`{t}`"),
            (v, _) => Node::new(w.span, v.clone()).type_name().to_string(),
        };
        self.diags.push(
            Diag::at(
                "keel::when",
                src,
                w.span,
                format!("`when` must be `true` or `false`, found {found}"),
                "not a boolean",
            )
            .with_help(help),
        );
        None
    }

    fn resource_one(&mut self, scope: &Scope, decl: &ResourceDecl) {
        let src = &decl.origin.source;
        let mut body = decl.body.clone();
        let rendered = self.render_node(scope, &mut body, src);
        if !rendered.ok {
            return self.failed(decl);
        }
        let mut tainted = rendered.tainted;
        let mut res = match (decl.kind.parse)(&body) {
            Ok(r) => r,
            Err(e) => {
                self.diags.push(with_common_keys(e).to_diag(
                    src,
                    decl.kind_span,
                    &format!("invalid `{}`", decl.kind.name),
                ));
                return self.failed(decl);
            }
        };
        let mut cx = Cx {
            origin: &decl.origin,
            ctx: &scope.ctx,
            release: self.out.release.as_ref(),
            templates: self.input.templates,
            canary_ctx: scope.canary_ctx.as_ref(),
            tainted: Vec::new(),
            failures: Vec::new(),
        };
        let prepared = res.prepare(&mut cx);
        tainted.append(&mut cx.tainted);
        let failures = std::mem::take(&mut cx.failures);
        let sensitive = !tainted.is_empty();
        let tainted: Vec<Secret> = tainted.into_iter().map(Secret::new).collect();
        if let Err(invalid) = prepared {
            self.report_invalid(decl, &body, invalid, &failures);
            return self.failed_named(decl, Some(res.name()));
        }
        let problems = res.check();
        if !problems.is_empty() {
            for i in problems {
                self.diags.push(invalid_diag(decl, &body, &i));
            }
            return self.failed_named(decl, Some(res.name()));
        }
        let Some(address) = self.address_of(scope, decl, res.as_ref()) else {
            return self.failed(decl);
        };
        let here = decl.id.as_ref().map_or(decl.kind_span, |i| i.span);
        if self.index.contains_key(&address) {
            let desired = format!("{res:?}");
            self.merge_or_refuse(scope, decl, &address, &desired, here, (sensitive, &tainted));
            return;
        }
        let mut depends_on = render_refs(self, scope, &decl.depends_on, src, None);
        depends_on.extend(scope.extra_depends.iter().cloned());
        let notify = render_refs(self, scope, &decl.notify, src, None);
        let desired = format!("{res:?}");
        let idx = self.out.instances.len();
        self.register_in_module(scope, idx, true);
        self.index.insert(address.clone(), (idx, here));
        self.out.instances.push(Instance {
            address,
            resource: res,
            depends_on,
            notify,
            module: scope.module.clone(),
            origin: decl.origin.clone(),
            span: decl.span,
            sensitive,
            tainted,
            desired,
            body,
        });
    }

    /// Report what `prepare` found invalid; an error inside a template
    /// file points into that file.
    fn report_invalid(
        &mut self,
        decl: &ResourceDecl,
        body: &Node,
        invalid: Vec<Invalid>,
        failures: &[(String, Diag)],
    ) {
        for i in invalid {
            // An error inside a template file points into that file.
            let d = match failures.iter().find(|(m, _)| *m == i.message) {
                Some((_, d)) => {
                    let mut used = invalid_diag(decl, body, &i)
                        .with_message(format!("the template of this `{}`", decl.kind.name));
                    used.code = "keel::template";
                    used.label = "rendered here".into();
                    used.help = None;
                    d.clone().with_related(used)
                }
                None => invalid_diag(decl, body, &i),
            };
            self.diags.push(d);
        }
    }

    /// A resource's address: `KIND[id]` (its `id:` rendered) or
    /// `KIND[name]`; `None` when its `id:` does not render (reported).
    fn address_of(
        &mut self,
        scope: &Scope,
        decl: &ResourceDecl,
        res: &dyn Resource,
    ) -> Option<String> {
        let src = &decl.origin.source;
        Some(match &decl.id {
            Some(id) => match self.input.templates.render(&id.value, &scope.ctx) {
                Ok(id) => format!("{}[{id}]", decl.kind.name),
                Err(e) => {
                    self.diags
                        .push(inline_template_diag(src, id.span, &id.value, &e));
                    return None;
                }
            },
            None => format!("{}[{}]", decl.kind.name, res.name()),
        })
    }

    /// The same resource declared identically twice (two modules that
    /// both need `package[nginx]`) is one resource: merge the edges.
    /// Declared again with other settings: refused.
    fn merge_or_refuse(
        &mut self,
        scope: &Scope,
        decl: &ResourceDecl,
        address: &str,
        desired: &str,
        here: Span,
        (sensitive, tainted): (bool, &[Secret]),
    ) {
        let src = &decl.origin.source;
        if let Some(&(idx, _)) = self
            .index
            .get(address)
            .filter(|(i, _)| self.out.instances[*i].desired == desired)
        {
            let mut depends_on = render_refs(self, scope, &decl.depends_on, src, None);
            depends_on.extend(scope.extra_depends.iter().cloned());
            let notify = render_refs(self, scope, &decl.notify, src, None);
            self.register_in_module(scope, idx, false);
            let inst = &mut self.out.instances[idx];
            inst.depends_on.extend(depends_on);
            inst.notify.extend(notify);
            inst.sensitive |= sensitive;
            inst.tainted.extend(tainted.iter().cloned());
            return;
        }
        let Some(&(first, first_span)) = self.index.get(address) else {
            return;
        };
        let first_src = &self.out.instances[first].origin.source;
        let (l, c) = first_src.line_col(first_span.offset);
        let mut d = Diag::at(
            "keel::duplicate",
            src,
            here,
            format!("duplicate resource address `{address}`"),
            "declared again here",
        )
        .with_help(format!(
            "`{address}` is first declared at {}:{l}:{c} with other settings; a host can hold each resource once — declare it identically (then it is merged) or in one place",
            first_src.name
        ));
        if first_src.name == src.name {
            d = d.with_note(first_span, "first declared here");
        }
        self.diags.push(d);
    }

    /// Count a resource in its module instance and every enclosing one.
    /// A `new` instance is in none yet (no search: one per resource of a
    /// module was quadratic in the module's size).
    fn register_in_module(&mut self, scope: &Scope, idx: usize, new: bool) {
        if let Some(m) = &scope.module {
            for prefix in module_prefixes(m) {
                let members = self.out.modules.entry(prefix).or_default();
                if new || !members.contains(&idx) {
                    members.push(idx);
                }
            }
        }
    }

    /// A module use that was not expanded: what it declares is unknown here.
    fn failed_use(&mut self, module: &Module) {
        let mut kinds = Unresolved::default();
        self.input
            .project
            .module_kinds(module, &mut kinds, &mut BTreeSet::new());
        self.out.unresolved.merge(&kinds);
    }

    /// A module use: one instance per item of its `for_each:`
    /// (`module.NAME[KEY]`), each kept only when its `when:` holds; each
    /// instance's scope is prepared and pushed on `pending` (with the
    /// module's name) to be expanded later.
    fn module_use(&mut self, scope: &Scope, u: &UseDecl, pending: &mut Vec<(Scope, String)>) {
        let Some(module) = self.input.project.modules.get(&u.module.value) else {
            return; // reported at load time (and in `Project::dropped`)
        };
        let src = &u.origin.source;
        let base = match &scope.module {
            Some(parent) => format!("{parent}.{}", u.instance()),
            None => u.instance().to_string(),
        };
        let Some(fe) = &u.for_each else {
            return self.module_use_when(scope, u, base, pending);
        };
        let Some(items) = self.loop_items(scope, fe, src) else {
            return self.failed_use(module);
        };
        // `module.NAME` is every instance of the loop (none, if empty).
        self.out
            .module_uses
            .entry(base.clone())
            .or_insert_with(|| (src.clone(), u.module.span));
        for item in &items {
            let instance = format!("{base}[{}]", item.key);
            self.module_use_when(&scope.with_each(item), u, instance, pending);
        }
    }

    fn module_use_when(
        &mut self,
        scope: &Scope,
        u: &UseDecl,
        instance: String,
        pending: &mut Vec<(Scope, String)>,
    ) {
        let Some(module) = self.input.project.modules.get(&u.module.value) else {
            return;
        };
        if let Some(w) = &u.when {
            match self.condition(scope, w, &u.origin.source) {
                Some(true) => {}
                Some(false) => {
                    // Known, with nothing on this host: `module.NAME` is no dangling reference.
                    self.out
                        .module_uses
                        .entry(instance.clone())
                        .or_insert_with(|| (u.origin.source.clone(), u.module.span));
                    self.out.skipped.push(format!("module.{instance}"));
                    return;
                }
                None => return self.failed_use(module),
            }
        }
        self.module_use_one(scope, u, instance, pending);
    }

    fn module_use_one(
        &mut self,
        scope: &Scope,
        u: &UseDecl,
        instance: String,
        pending: &mut Vec<(Scope, String)>,
    ) {
        let Some(module) = self.input.project.modules.get(&u.module.value) else {
            return;
        };
        if scope.chain.contains(&u.module.value) {
            return; // a cycle of modules: reported at load time
        }
        let src = &u.origin.source;
        if self.out.module_uses.contains_key(&instance) {
            self.diags.push(
                Diag::at(
                    "keel::duplicate",
                    src,
                    u.id.as_ref().map_or(u.module.span, |i| i.span),
                    format!("module instance `module.{instance}` is used twice"),
                    "second use",
                )
                .with_help("give each use of the same module a distinct `id:`"),
            );
            return self.failed_use(module);
        }
        self.out
            .module_uses
            .insert(instance.clone(), (src.clone(), u.module.span));
        // Inputs: `with` values rendered in the caller's scope.
        let mut with = u
            .with
            .clone()
            .unwrap_or_else(|| Node::new(u.span, Value::Map(Vec::new())));
        let rendered = self.render_node(scope, &mut with, src);
        if !rendered.ok {
            return self.failed_use(module);
        }
        let Some((inputs, canary_inputs)) =
            self.module_inputs(u, module, &with, rendered.canary.as_ref())
        else {
            return self.failed_use(module);
        };
        let inner = self.module_scope(scope, u, module, instance, (inputs, canary_inputs));
        pending.push((inner, module.name.clone()));
    }

    /// The inputs of a module use, from its rendered `with:` (and their
    /// canary rendering): unknown inputs, wrong types and missing ones are
    /// reported; `None` when one is.
    fn module_inputs(
        &mut self,
        u: &UseDecl,
        module: &Module,
        with: &Node,
        canary_with: Option<&Node>,
    ) -> Option<(Map<String, J>, Map<String, J>)> {
        let src = &u.origin.source;
        let mut inputs = Map::new();
        let mut canary_inputs = Map::new();
        let declared: Vec<String> = module.inputs.iter().map(|i| i.name.clone()).collect();
        for (k, v) in with.as_map().unwrap_or_default() {
            let key = k.as_scalar_text().unwrap_or_default();
            if !declared.iter().any(|d| d == key) {
                self.diags.push(
                    Diag::at(
                        "keel::module-input",
                        src,
                        k.span,
                        format!("module `{}` has no input `{key}`", module.name),
                        "unknown input",
                    )
                    .with_help(crate::suggest::closest_hint(key, declared.iter())),
                );
                continue;
            }
            let _ = v;
        }
        let mut failed = false;
        for decl in &module.inputs {
            let given = with.get(&decl.name);
            let value = match given {
                Some(v) => {
                    if !decl.ty.accepts(v) {
                        self.diags.push(Diag::at(
                            "keel::module-input",
                            src,
                            v.span,
                            format!(
                                "input `{}` of module `{}` must be {}, found {}",
                                decl.name,
                                module.name,
                                decl.ty.name(),
                                v.type_name()
                            ),
                            "wrong type",
                        ));
                        failed = true;
                        continue;
                    }
                    let canary = canary_with
                        .and_then(|c| c.get(&decl.name))
                        .map_or(J::Null, |c| typed_json(c, decl.ty));
                    canary_inputs.insert(decl.name.clone(), canary);
                    typed_json(v, decl.ty)
                }
                None => match &decl.default {
                    Some(d) => typed_json(d, decl.ty),
                    None if decl.required => {
                        let desc = decl
                            .description
                            .as_deref()
                            .map(|d| format!(" ({d})"))
                            .unwrap_or_default();
                        self.diags.push(
                            Diag::at(
                                "keel::module-input",
                                src,
                                u.module.span,
                                format!(
                                    "module `{}` needs input `{}`{desc}",
                                    module.name, decl.name
                                ),
                                "missing input",
                            )
                            .with_help(format!(
                                "add it under `with:`, e.g. `with: {{ {}: ... }}`",
                                decl.name
                            )),
                        );
                        failed = true;
                        continue;
                    }
                    None => J::Null,
                },
            };
            if decl.sensitive {
                // Whatever it is, it counts as a secret.
                canary_inputs.insert(decl.name.clone(), J::String(crate::secret::canary()));
            } else if !canary_inputs.contains_key(&decl.name) {
                canary_inputs.insert(decl.name.clone(), value.clone());
            }
            inputs.insert(decl.name.clone(), value);
        }
        (!failed).then_some((inputs, canary_inputs))
    }

    /// The scope a module instance's resources are resolved in: its inputs
    /// and name (not the loop of its caller), and what its use depends on.
    fn module_scope(
        &mut self,
        scope: &Scope,
        u: &UseDecl,
        module: &Module,
        instance: String,
        (inputs, canary_inputs): (Map<String, J>, Map<String, J>),
    ) -> Scope {
        let src = &u.origin.source;
        let module_json = json!({"name": module.name, "instance": instance});
        let mut ctx = scope.ctx.clone();
        // A module sees its inputs, not the loop of its caller (`each`).
        if let J::Object(m) = ctx.data_mut() {
            m.insert("inputs".into(), J::Object(inputs));
            m.insert("module".into(), module_json.clone());
            m.remove("each");
        }
        let canary_ctx = scope.canary_ctx.clone().map(|mut c| {
            if let J::Object(m) = c.data_mut() {
                m.insert("inputs".into(), J::Object(canary_inputs));
                m.insert("module".into(), module_json);
                m.remove("each");
            }
            c
        });
        let mut extra = scope.extra_depends.clone();
        extra.extend(render_refs(
            self,
            scope,
            &u.depends_on,
            src,
            Some(&instance),
        ));
        let mut chain = scope.chain.clone();
        chain.push(module.name.clone());
        Scope {
            ctx,
            canary_ctx,
            module: Some(instance),
            extra_depends: extra,
            chain,
        }
    }
}

/// A rendered node: whether it rendered, the values that depend on a
/// secret, and the canary rendering (when there are secrets).
struct Rendered {
    ok: bool,
    tainted: Vec<String>,
    canary: Option<Node>,
}

fn typed_json(node: &Node, ty: crate::config::module::InputType) -> J {
    use crate::config::module::InputType;
    match (ty, &node.value) {
        (InputType::Int, Value::Str(s)) => s.trim().parse::<i64>().map(J::from).unwrap_or(J::Null),
        (InputType::Bool, Value::Str(s)) => J::Bool(s == "true"),
        (InputType::String, Value::Int(_, t) | Value::Float(_, t)) => J::String(t.clone()),
        _ => node.to_json(),
    }
}

fn render_refs(
    r: &mut Resolver,
    scope: &Scope,
    refs: &[Spanned<String>],
    src: &SourceFile,
    by_use: Option<&str>,
) -> Vec<Reference> {
    let mut out = Vec::new();
    let reference = |d: &Spanned<String>, value: String| Reference {
        value,
        span: d.span,
        source: src.clone(),
        by_use: by_use.map(str::to_string),
    };
    for d in refs {
        if !Templates::is_template(&d.value) {
            out.push(reference(d, d.value.clone()));
            continue;
        }
        match r.input.templates.render(&d.value, &scope.ctx) {
            Ok(v) => out.push(reference(d, v)),
            Err(e) => r
                .diags
                .push(inline_template_diag(src, d.span, &d.value, &e)),
        }
    }
    out
}

/// Render every string scalar of a node; `f` returns the new value, if any.
fn render_strings(node: &mut Node, f: &mut dyn FnMut(&mut String, Span) -> Option<Value>) {
    let span = node.span;
    match &mut node.value {
        Value::Str(s) => {
            if let Some(new) = f(s, span) {
                node.value = new;
            }
        }
        Value::Seq(items) => items.iter_mut().for_each(|n| render_strings(n, f)),
        Value::Map(entries) => entries.iter_mut().for_each(|(_, v)| render_strings(v, f)),
        _ => {}
    }
}

/// A rendered text as a value: a plain integer or boolean becomes one, so
/// `uid: "{{vars.uid}} "`-like mixed strings still reach integer fields.
fn text_value(new: String) -> Value {
    if let Ok(i) = new.trim().parse::<i64>()
        && new.trim() == new
    {
        Value::Int(i, new)
    } else if new == "true" || new == "false" {
        Value::Bool(new == "true", new)
    } else {
        Value::Str(new)
    }
}

/// Render one string: a string that is exactly one expression keeps the
/// type of its value (a list, a map, a number, a boolean); any other
/// template renders to text. Returns the value and its JSON (to compare
/// with the canary rendering).
fn render_typed<C: RenderData + ?Sized>(
    templates: &Templates,
    s: &str,
    ctx: &C,
    span: Span,
) -> Result<(Value, J), crate::template::TemplateError> {
    let text = templates.render(s, ctx)?;
    match templates.render_value(s, ctx)? {
        Some(J::String(t)) => Ok((text_value(t.clone()), J::String(t))),
        Some(v) => Ok((Node::from_json(&v, span).value, v)),
        None => Ok((text_value(text.clone()), J::String(text))),
    }
}

/// Whether a rendered value holds a NUL byte anywhere.
fn has_nul(v: &J) -> bool {
    match v {
        J::String(s) => s.contains('\0'),
        J::Array(a) => a.iter().any(has_nul),
        J::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// The scalars of a rendered value that depend on a secret: those that
/// differ from the canary rendering (all of a part whose shape differs).
fn tainted_leaves(real: &J, canary: Option<&J>, out: &mut Vec<String>) {
    match (real, canary) {
        (J::Array(r), Some(J::Array(c))) if r.len() == c.len() => {
            r.iter()
                .zip(c)
                .for_each(|(r, c)| tainted_leaves(r, Some(c), out));
        }
        (J::Object(r), Some(J::Object(c))) => {
            r.iter().for_each(|(k, v)| tainted_leaves(v, c.get(k), out));
        }
        (r, Some(c)) if r == c => {}
        (J::Array(r), _) => r.iter().for_each(|v| tainted_leaves(v, None, out)),
        (J::Object(r), _) => r.values().for_each(|v| tainted_leaves(v, None, out)),
        (J::String(s), _) => out.push(s.clone()),
        (J::Null, _) => {}
        (other, _) => out.push(other.to_string()),
    }
}

fn variable_hint(var: &str, ctx: &J) -> String {
    let mut parts: Vec<&str> = var.split('.').collect();
    let leaf = parts.pop().unwrap_or_default().to_string();
    let mut cur = ctx;
    for p in &parts {
        match cur.get(p) {
            Some(v) => cur = v,
            None if parts.first() == Some(&"each") => {
                return "`each` is defined only in a resource or module use with `for_each:`"
                    .to_string();
            }
            None => {
                return format!(
                    "`{}` is not defined here; the template context has {}",
                    parts.join("."),
                    keys_of(ctx)
                );
            }
        }
    }
    let known: Vec<String> = cur
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let prefix = if parts.is_empty() {
        String::new()
    } else {
        format!("{}.", parts.join("."))
    };
    if known.is_empty() {
        return format!(
            "nothing is defined under `{}`; define it in the stack's or inventory's `vars`",
            parts.join(".")
        );
    }
    let hint = crate::suggest::closest_hint(&leaf, known.iter());
    if parts.is_empty() {
        // A bare name: the context's top level, where variables are not.
        let vars = ctx.get("vars").and_then(J::as_object);
        if leaf == "release" {
            return "`release` is defined when the stack declares `release:` (e.g. `release: \"{{vars.release}}\"`)".to_string();
        }
        if vars.is_some_and(|v| v.contains_key(&leaf)) {
            return format!("variables are under `vars.`: write `vars.{leaf}`");
        }
        return format!(
            "a template reads `vars.NAME`, `inputs.NAME`, `host.…`, `facts.…`, `secrets.NAME` or `each.…` in a loop; the context has {}",
            keys_of(ctx)
        );
    }
    format!("{hint} (under `{prefix}`; define missing vars in the stack or inventory)")
}

fn keys_of(v: &J) -> String {
    v.as_object()
        .map(|m| {
            m.keys()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn with_common_keys(mut e: crate::node::NodeError) -> crate::node::NodeError {
    if e.found.is_some() && !e.expected.is_empty() && !e.message.starts_with("unknown value") {
        e.expected
            .extend_from_slice(crate::config::entry::COMMON_KEYS);
    }
    e
}

fn invalid_diag(decl: &ResourceDecl, body: &Node, i: &Invalid) -> Diag {
    let mut node = i.field.and_then(|f| body.get(f));
    for seg in &i.path {
        let next = node.and_then(|n| match (n.as_seq(), seg.parse::<usize>()) {
            (Some(items), Ok(ix)) => items.get(ix),
            _ => n.get(seg),
        });
        match next {
            Some(n) => node = Some(n),
            None => break,
        }
    }
    let span = node.map_or(decl.kind_span, |n| n.span);
    let d = Diag::at(
        "keel::invalid",
        &decl.origin.source,
        span,
        format!("invalid `{}`: {}", decl.kind.name, i.message),
        "here",
    );
    match &i.help {
        Some(h) => d.with_help(h.clone()),
        None => d,
    }
}

fn with_hint(message: String, hint: Option<&str>) -> String {
    match hint {
        Some(h) => format!("{message}; {h}"),
        None => message,
    }
}

/// The [`PrepareCx`] of a resource: its origin's folders and template context.
struct Cx<'a> {
    origin: &'a Origin,
    ctx: &'a Ctx,
    release: Option<&'a crate::release::Context>,
    templates: &'a Templates,
    canary_ctx: Option<&'a Ctx>,
    /// Rendered template files that depend on a secret.
    tainted: Vec<String>,
    /// Errors inside template files, located in the file: the message the
    /// kind receives, and the diagnostic to report instead of it.
    failures: Vec<(String, Diag)>,
}

impl PrepareCx for Cx<'_> {
    fn base_dir(&self) -> &Path {
        &self.origin.base_dir
    }
    fn release(&self) -> Option<crate::release::Context> {
        self.release.cloned()
    }
    fn read_local(&self, path: &str) -> Result<Vec<u8>, LocalError> {
        let p = self.local_path(path);
        crate::loaded::note(&p);
        crate::config::local_file::read(&p, crate::config::local_file::MAX_DATA_BYTES)
            .map_err(|e| LocalError(with_hint(e.message("local file "), e.hint())))
    }
    fn render_template(&mut self, path: &str) -> Result<String, LocalError> {
        // `templates/` of the module or stack folder first, then the folder itself.
        let p = if Path::new(path).is_absolute() {
            PathBuf::from(path)
        } else {
            let in_templates = self.origin.templates_dir.join(path);
            if in_templates.exists() {
                in_templates
            } else {
                self.origin.base_dir.join(path)
            }
        };
        crate::loaded::note(&p);
        let bytes =
            crate::config::local_file::read(&p, crate::config::local_file::MAX_CONFIG_BYTES)
                .map_err(|e| LocalError(with_hint(e.message("template "), e.hint())))?;
        let src = match SourceFile::from_bytes(crate::config::display_path(&p), bytes) {
            Ok(s) => s,
            Err(d) => {
                let message = d.one_line();
                self.failures
                    .extend(d.0.into_iter().map(|d| (message.clone(), d)));
                return Err(LocalError(message));
            }
        };
        let text = src.text();
        let rendered = self.templates.render(text, self.ctx).map_err(|e| {
            let message = format!("template {}: {e}", src.name);
            if let Some(d) = template_file_diag(&src, &e, self.ctx.data()) {
                self.failures.push((message.clone(), d));
            }
            LocalError(message)
        })?;
        if let Some(c) = self.canary_ctx
            && self.templates.render(text, c).ok().as_ref() != Some(&rendered)
        {
            self.tainted.push(rendered.clone());
        }
        Ok(rendered)
    }
}

/// An error inside a template file, pointing at its line and column there
/// (the `{{...}}` expression when the error is on one).
fn template_file_diag(
    src: &SourceFile,
    e: &crate::template::TemplateError,
    ctx: &J,
) -> Option<Diag> {
    let (line, col) = (e.line?, e.column?);
    let offset = src.offset_of(line, col);
    let len = expression_len(&src.text()[offset..]);
    let label = if e.variable.is_some() {
        "not defined"
    } else {
        "here"
    };
    let d = Diag::at(
        "keel::template",
        src,
        Span { offset, len },
        format!("template error in {}: {}", src.name, e.message),
        label,
    );
    Some(match &e.variable {
        Some(v) => d.with_help(variable_hint(v, ctx)),
        None => d,
    })
}

/// Length of the template expression starting at `rest`: `{{...}}` up to
/// its closing braces on the same line, else one character.
fn expression_len(rest: &str) -> usize {
    match rest.strip_prefix("{{") {
        Some(inner) => inner
            .split('\n')
            .next()
            .and_then(|l| l.find("}}"))
            .map_or(2, |end| end + 4),
        None => rest.chars().next().map_or(0, char::len_utf8),
    }
}

/// An error in a template written in the YAML itself: at the expression
/// inside the string when it can be found there, else at the string with
/// the template's line and column in the message.
fn inline_template_diag(
    src: &SourceFile,
    span: Span,
    template: &str,
    e: &crate::template::TemplateError,
) -> Diag {
    let label = if e.variable.is_some() {
        "not defined"
    } else {
        "in this template"
    };
    match span_in_scalar(src, span, template, e) {
        Some(at) => Diag::at(
            "keel::template",
            src,
            at,
            format!("template error: {}", e.message),
            label,
        ),
        None => Diag::at(
            "keel::template",
            src,
            span,
            format!("template error: {e}"),
            "in this template",
        ),
    }
}

/// Where a template error is in the source of the YAML string holding the
/// template: by position when the string is written as is (plain or quoted
/// without escapes), else by finding the `{{...}}` expression it names
/// (block scalars, escapes).
fn span_in_scalar(
    src: &SourceFile,
    span: Span,
    template: &str,
    e: &crate::template::TemplateError,
) -> Option<Span> {
    let (line, col) = (e.line?, e.column?);
    let mut start = 0;
    for _ in 1..line.max(1) {
        start += template[start..].find('\n')? + 1;
    }
    let line_text = template[start..].split('\n').next().unwrap_or_default();
    let pos = start
        + line_text
            .char_indices()
            .nth(col.saturating_sub(1))
            .map_or(line_text.len(), |(i, _)| i);
    let rest = &template[pos..];
    let len = expression_len(rest);
    let raw = src.text().get(span.offset..span.offset + span.len)?;
    for q in ["", "\"", "'"] {
        let inner = raw.strip_prefix(q).and_then(|r| r.strip_suffix(q));
        if inner == Some(template) {
            return Some(Span {
                offset: span.offset + q.len() + pos,
                len,
            });
        }
    }
    if !rest.starts_with("{{") {
        return None;
    }
    let expr = &rest[..len];
    let nth = template[..pos].matches(expr).count();
    let (i, _) = raw.match_indices(expr).nth(nth)?;
    Some(Span {
        offset: span.offset + i,
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_prefixes_keep_keys_whole_and_name_the_loop() {
        assert_eq!(module_prefixes("web"), ["web"]);
        assert_eq!(module_prefixes("web.tls"), ["web", "web.tls"]);
        assert_eq!(
            module_prefixes("site[api.example.com].tls"),
            ["site", "site[api.example.com]", "site[api.example.com].tls"]
        );
        assert_eq!(
            module_prefixes("a.b[x]"),
            ["a", "a.b", "a.b[x]"],
            "an instance of a loop counts in the loop as a whole"
        );
    }

    #[test]
    fn one_expression_keeps_its_type_and_text_stays_text() {
        let t = Templates::new();
        let ctx = json!({"vars": {"l": ["a", "b"], "n": 8080, "s": "0644", "m": {"k": 1}}});
        let v = |s: &str| render_typed(&t, s, &ctx, Span::default()).unwrap().0;
        assert!(matches!(v("{{vars.l}}"), Value::Seq(ref i) if i.len() == 2));
        assert!(matches!(v("{{vars.m}}"), Value::Map(ref m) if m.len() == 1));
        assert!(matches!(v("{{vars.n}}"), Value::Int(8080, _)));
        assert!(matches!(v("{{vars.s}}"), Value::Int(644, ref t) if t == "0644"));
        assert_eq!(
            v("{{vars.l}} and more"),
            Value::Str("[a, b] and more".into())
        );
        assert_eq!(v("{{eq vars.n 8080}}"), Value::Bool(true, "true".into()));
    }

    #[test]
    fn taint_of_typed_values_is_per_scalar() {
        let mut out = Vec::new();
        tainted_leaves(
            &json!(["public", "s3cret-value", {"k": "other-secret"}]),
            Some(&json!(["public", "canary-1", {"k": "canary-2"}])),
            &mut out,
        );
        assert_eq!(out, ["s3cret-value", "other-secret"]);
        let mut out = Vec::new();
        tainted_leaves(&json!(["a-secret", 7]), Some(&json!("canary")), &mut out);
        assert_eq!(out, ["a-secret", "7"], "a different shape taints it all");
        let mut out = Vec::new();
        tainted_leaves(&json!({"same": 1}), Some(&json!({"same": 1})), &mut out);
        assert!(out.is_empty());
    }

    /// Resolve `stack` (one host `h` in group `web`) with placeholder facts.
    fn resolve(stack: &str) -> (Resolved, Diagnostics) {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("inventory.yaml");
        std::fs::write(
            &inv,
            "hosts:\n  h: { transport: local }\ngroups:\n  web: { hosts: [h] }\n",
        )
        .unwrap();
        let path = dir.path().join("stack.yaml");
        std::fs::write(&path, stack).unwrap();
        let project = Project::load(&path, &inv).unwrap_or_else(|d| panic!("{d:?}"));
        let host = project.inventory.hosts.get("h").unwrap().clone();
        let facts = placeholder_facts(0);
        let secrets = BTreeMap::new();
        let templates = Templates::new();
        resolve_host_partial(&HostInput {
            project: &project,
            host: &host,
            facts: &facts,
            secrets: &secrets,
            templates: &templates,
        })
    }

    /// The host's context is made once per scope and rendered with as it
    /// is: copying it for each of a stack's templates was most of a
    /// render's cost.
    #[test]
    fn templates_render_without_copying_the_context() {
        let before = crate::template::tests::copies();
        let (r, d) = resolve(
            "name: t\ntargets: [all]\nresources:\n  - file: { path: \"/tmp/{{host.name}}\", content: \"{{host.name}} {{facts.os.id}}\" }\n  - directory: { path: \"/srv/{{each.value}}\", for_each: [a, b] }\n  - package: { name: \"{{#if true}}jq{{/if}}\", depends_on: [\"file[/tmp/{{host.name}}]\"] }\n",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(r.instances.len(), 4);
        assert_eq!(r.instances[3].depends_on[0].value, "file[/tmp/h]");
        assert_eq!(crate::template::tests::copies(), before);
    }

    /// `state_dir_of` (once per host in a plan) makes no template engine
    /// per call.
    #[test]
    fn the_state_dir_engine_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("inventory.yaml");
        std::fs::write(&inv, "hosts:\n  h: { transport: local }\n").unwrap();
        let path = dir.path().join("stack.yaml");
        std::fs::write(
            &path,
            "name: t\ntargets: [all]\nstate_dir: \"/var/lib/{{host.name}}\"\nresources: []\n",
        )
        .unwrap();
        let project = Project::load(&path, &inv).unwrap_or_else(|d| panic!("{d:?}"));
        let host = project.inventory.hosts.get("h").unwrap();
        let before = crate::template::tests::engines();
        for _ in 0..3 {
            assert_eq!(state_dir_of(&project, host).unwrap(), "/var/lib/h");
        }
        assert!(crate::template::tests::engines() - before <= 1);
    }

    #[test]
    fn loops_and_conditions_per_host() {
        let (r, d) = resolve(
            r#"name: t
targets: [web]
vars: { users: [ { name: ann, shell: /bin/sh }, { name: bob } ] }
resources:
  - group: { for_each: "{{vars.users}}", name: "{{each.key}}" }
  - file:
      for_each: { a: 1, b: 2 }
      path: "/tmp/{{each.key}}-{{each.index}}"
      content: "{{each.value}}"
      when: "{{or (eq each.key 'a') (contains host.groups 'db')}}"
  - package: { name: nginx, when: "{{eq facts.os.id 'debian'}}" }
"#,
        );
        assert!(d.is_empty(), "{d:?}");
        let addrs: Vec<&str> = r.instances.iter().map(|i| i.address.as_str()).collect();
        assert_eq!(
            addrs,
            [
                "group[ann]",
                "group[bob]",
                "file[/tmp/a-0]",
                "package[nginx]"
            ]
        );
        assert_eq!(r.skipped, ["file[/tmp/b-1]"]);
        assert!(
            r.unresolved.may_declare("file[/tmp/b-1]"),
            "no dangling reference"
        );
    }

    #[test]
    fn loop_and_condition_errors() {
        let (r, d) = resolve(
            r#"name: t
targets: [web]
resources:
  - group: { for_each: 3, name: x }
  - group: { for_each: [a, a], name: "{{each.key}}" }
  - group: { for_each: [{ gid: 1 }], name: x }
  - group: { name: y, when: "yes" }
"#,
        );
        assert!(r.instances.is_empty());
        let text = format!("{d:?}");
        for s in [
            "needs a list or a map, found an integer",
            "has the key `a` twice",
            "needs a key, found a map without `key:` or `name:`",
            "must be `true` or `false`, found `yes`",
        ] {
            assert!(text.contains(s), "`{s}` missing from {text}");
        }
        assert_eq!(d.0.len(), 4, "{text}");
    }

    /// A resource that parsed but failed keeps quiet only references to
    /// itself: a dangling reference of the same kind is still reported in
    /// the same run. One whose `id:` or name did not parse hides its kind.
    #[test]
    fn failed_resource_hides_only_its_own_address() {
        let (r, d) = resolve(
            r#"name: t
targets: [web]
resources:
  - file: { path: /etc/x, content: x, mode: "999" }
  - directory: { path: /srv/a, mode: "0999", id: "{{vars.nope}}" }
  - group: { nme: typo }
"#,
        );
        assert_eq!(d.0.len(), 3, "{d:?}");
        assert!(r.unresolved.may_declare("file[/etc/x]"));
        assert!(!r.unresolved.may_declare("file[/nothere]"));
        assert!(r.unresolved.may_declare("directory[/anything]"));
        assert!(r.unresolved.may_declare("group[anything]"));
    }

    #[test]
    fn each_outside_a_loop_says_where_it_exists() {
        let (_, d) =
            resolve("name: t\ntargets: [web]\nresources:\n  - group: { name: \"{{each.key}}\" }\n");
        let text = format!("{d:?}");
        assert!(
            text.contains("only in a resource or module use with `for_each:`"),
            "{text}"
        );
    }
}

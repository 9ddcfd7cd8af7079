//! Resolve: inventory × stack × modules → the resources of one host.
//!
//! For each target host, variables are merged (stack < groups < host),
//! module uses are expanded with their typed inputs, every string of every
//! resource is rendered as a template, and the result is deserialized into
//! the resource's kind, prepared (template files, uploads) and checked. All
//! problems are collected as diagnostics pointing at the YAML.

use crate::config::entry::{Origin, ResourceDecl, UseDecl};
use crate::config::inventory::{Host, Inventory};
use crate::config::module::Module;
use crate::config::node::{Node, Span, Spanned, Value};
use crate::config::stack::Stack;
use crate::diag::{Diag, Diagnostics, SourceFile};
use crate::resources::{Invalid, PrepareCx, Resource};
use crate::secret::Secret;
use crate::template::Templates;
use serde_json::{Map, Value as J, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Everything loaded for a run.
#[derive(Debug, Clone)]
pub struct Project {
    pub inventory: Inventory,
    pub stack: Stack,
    pub modules: BTreeMap<String, Module>,
}

impl Project {
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
        diags.extend(d);
        let (stack, d) = Stack::load(stack_path);
        diags.extend(d);
        let Some(stack) = stack else {
            return (None, diags);
        };
        let mut modules = BTreeMap::new();
        let dirs = stack.module_dirs();
        let mut pending: Vec<UseDecl> = stack.uses.clone();
        let mut missing = BTreeSet::new();
        while let Some(u) = pending.pop() {
            let name = &u.module.value;
            if modules.contains_key(name) || missing.contains(name) {
                continue;
            }
            match dirs.iter().map(|d| d.join(name)).find(|d| d.is_dir()) {
                Some(dir) => match Module::load(name, &dir) {
                    (Some(m), d) => {
                        diags.extend(d);
                        pending.extend(m.uses.iter().cloned());
                        modules.insert(name.clone(), m);
                    }
                    (None, d) => {
                        diags.extend(d);
                        missing.insert(name.clone());
                    }
                },
                None => {
                    missing.insert(name.clone());
                    let known = available_modules(&dirs);
                    diags.push(
                        Diag::at(
                            "keel::unknown-module",
                            &u.origin.source,
                            u.module.span,
                            format!("module `{name}` not found"),
                            "no such module",
                        )
                        .with_help(format!(
                            "modules are folders with a module.yaml under {}; {}",
                            dirs.iter()
                                .map(|d| crate::config::display_path(d))
                                .collect::<Vec<_>>()
                                .join(" or "),
                            crate::config::closest_hint(name, known.iter())
                        )),
                    );
                }
            }
        }
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
                    .with_help(crate::config::closest_hint(&t.value, names.iter())),
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
        let project = Project {
            inventory,
            stack,
            modules,
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
                .with_help(crate::config::closest_hint(limit, names.iter()))
                .into());
            }
            let allowed = self.inventory.expand(limit);
            hosts.retain(|h| allowed.contains(h));
        }
        Ok(hosts.into_iter().collect())
    }

    /// Every source file, for scanning and hashing.
    pub fn sources(&self) -> Vec<&SourceFile> {
        let mut v = vec![&self.stack.source];
        v.extend(self.modules.values().map(|m| &m.source));
        v
    }
}

fn available_modules(dirs: &[PathBuf]) -> Vec<String> {
    let mut names = Vec::new();
    for d in dirs {
        if let Ok(rd) = std::fs::read_dir(d) {
            names.extend(
                rd.filter_map(|e| e.ok())
                    .filter(|e| e.path().join("module.yaml").exists())
                    .map(|e| e.file_name().to_string_lossy().into_owned()),
            );
        }
    }
    names.sort();
    names
}

/// Host facts used in templates, as gathered by [`crate::probe::facts_script`].
pub type Facts = serde_json::Value;

/// Placeholder facts for offline work (validate, graph). Two different sets
/// are used to find out whether a stack's rendering depends on facts.
pub fn placeholder_facts(variant: u8) -> Facts {
    if variant == 0 {
        json!({"hostname": "keel-placeholder", "fqdn": "keel-placeholder", "os": {"id": "debian", "version_id": "12", "codename": "bookworm", "pretty_name": "Debian GNU/Linux 12 (bookworm)", "family": "debian"}, "arch": "x86_64", "cpus": 2, "memory_mb": 2048, "kernel": "6.1.0"})
    } else {
        json!({"hostname": "keel-other", "fqdn": "keel-other.example", "os": {"id": "ubuntu", "version_id": "24.04", "codename": "noble", "pretty_name": "Ubuntu 24.04", "family": "debian"}, "arch": "aarch64", "cpus": 64, "memory_mb": 65536, "kernel": "6.8.0"})
    }
}

/// One resource of a host, ready for the graph.
#[derive(Debug)]
pub struct Instance {
    /// `kind[name]`, or `kind[id]` with an explicit id.
    pub address: String,
    pub resource: Box<dyn Resource>,
    pub depends_on: Vec<Spanned<String>>,
    pub notify: Vec<Spanned<String>>,
    /// Module instance path (`base`, `base.ssh`), when declared in a module.
    pub module: Option<String>,
    pub origin: Origin,
    pub span: Span,
    /// Rendered from a secret: values are shown as `(sensitive)`.
    pub sensitive: bool,
    /// A stable text of the desired state, for hashing saved plans.
    pub desired: String,
    /// The rendered settings, for pointing diagnostics at a field.
    pub body: Node,
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
    let mut diags = Diagnostics::new();
    let project = input.project;
    let vars = merged_vars(input, &mut diags);
    let host = input.host;
    let groups = project.inventory.host_groups(&host.name);
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
    let mut out = Resolved {
        host: host.name.clone(),
        ..Resolved::default()
    };
    let scope = Scope {
        ctx: base_ctx,
        module: None,
        sensitive_inputs: BTreeSet::new(),
        extra_depends: Vec::new(),
        chain: Vec::new(),
    };
    let mut r = Resolver {
        input,
        out: &mut out,
        diags: &mut diags,
        seen: BTreeMap::new(),
        module_uses: 0,
    };
    r.expand(&scope, &project.stack.uses, &project.stack.resources, 0);
    diags.into_result(out)
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
    for g in input.project.inventory.host_groups(&input.host.name) {
        if let Some(Some((_, v))) = input.project.inventory.groups.get(&g).map(|g| &g.vars) {
            merge(v);
        }
    }
    if let Some((_, v)) = &input.host.vars {
        merge(v);
    }
    let _ = diags;
    J::Object(vars)
}

struct Scope {
    ctx: J,
    module: Option<String>,
    sensitive_inputs: BTreeSet<String>,
    /// `depends_on` of the enclosing module uses.
    extra_depends: Vec<Spanned<String>>,
    /// Names of the modules being expanded, outermost first.
    chain: Vec<String>,
}

struct Resolver<'a, 'b> {
    input: &'a HostInput<'a>,
    out: &'b mut Resolved,
    diags: &'b mut Diagnostics,
    /// address → (source, span) of its first declaration.
    seen: BTreeMap<String, (SourceFile, Span)>,
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
        for decl in resources {
            self.resource(scope, decl);
        }
        let Some(first) = uses.first() else { return };
        if depth > MAX_MODULE_DEPTH {
            // A cycle is reported at load time; a deep chain would silently
            // lose its deeper resources.
            if !scope.chain.iter().any(|m| m == &first.module.value) {
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
            return;
        }
        for u in uses {
            self.module_uses += 1;
            if self.module_uses > MAX_MODULE_USES {
                if self.module_uses > MAX_MODULE_USES + 1 {
                    return; // reported once
                }
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
                return;
            }
            self.module_use(scope, u, depth);
        }
    }

    fn render_node(&mut self, scope: &Scope, node: &mut Node, src: &SourceFile) -> (bool, bool) {
        let templates = self.input.templates;
        let mut sensitive = false;
        let mut ok = true;
        let ctx = &scope.ctx;
        let sens_inputs = &scope.sensitive_inputs;
        let mut errors = Vec::new();
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
            if refers_to_secret(s, sens_inputs) {
                sensitive = true;
            }
            match templates.render(s, ctx) {
                Ok(r) => Some(r),
                Err(e) => {
                    let mut d = Diag::at(
                        "keel::template",
                        src,
                        span,
                        format!("template error: {e}"),
                        "in this template",
                    );
                    if let Some(v) = &e.variable {
                        d = d.with_help(variable_hint(v, ctx));
                    }
                    errors.push(d);
                    None
                }
            }
        });
        if !errors.is_empty() {
            ok = false;
            for e in errors {
                self.diags.push(e);
            }
        }
        (ok, sensitive)
    }

    fn resource(&mut self, scope: &Scope, decl: &ResourceDecl) {
        let src = &decl.origin.source;
        let mut body = decl.body.clone();
        let (ok, mut sensitive) = self.render_node(scope, &mut body, src);
        if !ok {
            return;
        }
        let mut res = match (decl.kind.parse)(&body) {
            Ok(r) => r,
            Err(e) => {
                self.diags.push(Diag::from_node(
                    src,
                    decl.kind_span,
                    &with_common_keys(e),
                    &format!("invalid `{}`", decl.kind.name),
                ));
                return;
            }
        };
        let mut cx = Cx {
            origin: &decl.origin,
            ctx: &scope.ctx,
            templates: self.input.templates,
            sensitive: false,
            sensitive_inputs: &scope.sensitive_inputs,
        };
        let prepared = res.prepare(&mut cx);
        sensitive |= cx.sensitive;
        if let Err(invalid) = prepared {
            for i in invalid {
                self.diags.push(invalid_diag(decl, &body, &i));
            }
            return;
        }
        let problems = res.check();
        if !problems.is_empty() {
            for i in problems {
                self.diags.push(invalid_diag(decl, &body, &i));
            }
            return;
        }
        let address = match &decl.id {
            Some(id) => format!("{}[{}]", decl.kind.name, id.value),
            None => format!("{}[{}]", decl.kind.name, res.name()),
        };
        let here = decl.id.as_ref().map_or(decl.kind_span, |i| i.span);
        // The same resource declared identically twice (two modules that
        // both need `package[nginx]`) is one resource: merge the edges.
        if self.seen.contains_key(&address) {
            let desired = format!("{res:?}");
            if let Some(idx) = self
                .out
                .instances
                .iter()
                .position(|i| i.address == address && i.desired == desired)
            {
                let mut depends_on = render_refs(self, scope, &decl.depends_on, src);
                depends_on.extend(scope.extra_depends.iter().cloned());
                let notify = render_refs(self, scope, &decl.notify, src);
                self.register_in_module(scope, idx);
                let inst = &mut self.out.instances[idx];
                inst.depends_on.extend(depends_on);
                inst.notify.extend(notify);
                inst.sensitive |= sensitive;
                return;
            }
        }
        if let Some((first_src, first_span)) = self.seen.get(&address) {
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
                d = d.with_note(*first_span, "first declared here");
            }
            self.diags.push(d);
            return;
        }
        self.seen.insert(address.clone(), (src.clone(), here));
        let mut depends_on = render_refs(self, scope, &decl.depends_on, src);
        depends_on.extend(scope.extra_depends.iter().cloned());
        let notify = render_refs(self, scope, &decl.notify, src);
        let desired = format!("{res:?}");
        let idx = self.out.instances.len();
        self.register_in_module(scope, idx);
        self.out.instances.push(Instance {
            address,
            resource: res,
            depends_on,
            notify,
            module: scope.module.clone(),
            origin: decl.origin.clone(),
            span: decl.span,
            sensitive,
            desired,
            body,
        });
    }

    /// Count a resource in its module instance and every enclosing one.
    fn register_in_module(&mut self, scope: &Scope, idx: usize) {
        if let Some(m) = &scope.module {
            let parts: Vec<&str> = m.split('.').collect();
            for i in 1..=parts.len() {
                let members = self.out.modules.entry(parts[..i].join(".")).or_default();
                if !members.contains(&idx) {
                    members.push(idx);
                }
            }
        }
    }

    fn module_use(&mut self, scope: &Scope, u: &UseDecl, depth: usize) {
        let Some(module) = self.input.project.modules.get(&u.module.value) else {
            return; // reported at load time
        };
        if scope.chain.contains(&u.module.value) {
            return; // a cycle of modules: reported at load time
        }
        let src = &u.origin.source;
        let instance = match &scope.module {
            Some(parent) => format!("{parent}.{}", u.instance()),
            None => u.instance().to_string(),
        };
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
            return;
        }
        self.out
            .module_uses
            .insert(instance.clone(), (src.clone(), u.module.span));
        // Inputs: `with` values rendered in the caller's scope.
        let mut with = u
            .with
            .clone()
            .unwrap_or_else(|| Node::new(u.span, Value::Map(Vec::new())));
        let (ok, with_sensitive) = self.render_node(scope, &mut with, src);
        if !ok {
            return;
        }
        let mut inputs = Map::new();
        let mut sensitive_inputs = BTreeSet::new();
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
                    .with_help(crate::config::closest_hint(key, declared.iter())),
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
                    if with_sensitive && contains_secret_ref(u.with.as_ref(), &decl.name) {
                        sensitive_inputs.insert(decl.name.clone());
                    }
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
                sensitive_inputs.insert(decl.name.clone());
            }
            inputs.insert(decl.name.clone(), value);
        }
        if failed {
            return;
        }
        let mut ctx = scope.ctx.clone();
        if let J::Object(m) = &mut ctx {
            m.insert("inputs".into(), J::Object(inputs));
            m.insert(
                "module".into(),
                json!({"name": module.name, "instance": instance}),
            );
        }
        let mut extra = scope.extra_depends.clone();
        extra.extend(render_refs(self, scope, &u.depends_on, src));
        let mut chain = scope.chain.clone();
        chain.push(module.name.clone());
        let inner = Scope {
            ctx,
            module: Some(instance),
            sensitive_inputs,
            extra_depends: extra,
            chain,
        };
        self.expand(&inner, &module.uses, &module.resources, depth + 1);
    }
}

/// Whether a template string refers to a secret, directly or through a
/// sensitive module input.
fn refers_to_secret(s: &str, sensitive_inputs: &BTreeSet<String>) -> bool {
    s.contains("secrets.")
        || s.contains("secrets/")
        || sensitive_inputs
            .iter()
            .any(|i| s.contains(&format!("inputs.{i}")))
}

fn contains_secret_ref(with: Option<&Node>, key: &str) -> bool {
    let Some(v) = with.and_then(|w| w.get(key)) else {
        return false;
    };
    let mut found = false;
    let mut v = v.clone();
    render_strings(&mut v, &mut |s: &mut String, _| {
        if s.contains("secrets.") {
            found = true;
        }
        None
    });
    found
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
) -> Vec<Spanned<String>> {
    let mut out = Vec::new();
    for d in refs {
        if !Templates::is_template(&d.value) {
            out.push(d.clone());
            continue;
        }
        match r.input.templates.render(&d.value, &scope.ctx) {
            Ok(v) => out.push(Spanned::new(d.span, v)),
            Err(e) => r.diags.push(Diag::at(
                "keel::template",
                src,
                d.span,
                format!("template error: {e}"),
                "in this template",
            )),
        }
    }
    out
}

/// Render every string scalar of a node; `f` returns the new text, if any.
/// A rendered template that is a plain integer or boolean becomes one, so
/// `uid: "{{vars.uid}}"` reaches an integer field.
fn render_strings(node: &mut Node, f: &mut dyn FnMut(&mut String, Span) -> Option<String>) {
    let span = node.span;
    match &mut node.value {
        Value::Str(s) => {
            if let Some(new) = f(s, span) {
                node.value = if let Ok(i) = new.trim().parse::<i64>()
                    && new.trim() == new
                {
                    Value::Int(i, new)
                } else if new == "true" || new == "false" {
                    Value::Bool(new == "true", new)
                } else {
                    Value::Str(new)
                };
            }
        }
        Value::Seq(items) => items.iter_mut().for_each(|n| render_strings(n, f)),
        Value::Map(entries) => entries.iter_mut().for_each(|(_, v)| render_strings(v, f)),
        _ => {}
    }
}

fn variable_hint(var: &str, ctx: &J) -> String {
    let mut parts: Vec<&str> = var.split('.').collect();
    let leaf = parts.pop().unwrap_or_default().to_string();
    let mut cur = ctx;
    for p in &parts {
        match cur.get(p) {
            Some(v) => cur = v,
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
    let hint = crate::config::closest_hint(&leaf, known.iter());
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

fn with_common_keys(mut e: crate::config::node::NodeError) -> crate::config::node::NodeError {
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
    ctx: &'a J,
    templates: &'a Templates,
    sensitive: bool,
    sensitive_inputs: &'a BTreeSet<String>,
}

impl PrepareCx for Cx<'_> {
    fn base_dir(&self) -> &Path {
        &self.origin.base_dir
    }
    fn read_local(&self, path: &str) -> Result<Vec<u8>, String> {
        let p = self.local_path(path);
        crate::config::local_file::read(&p, crate::config::local_file::MAX_DATA_BYTES)
            .map_err(|e| with_hint(e.message("local file "), e.hint()))
    }
    fn render_template(&mut self, path: &str) -> Result<String, String> {
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
        let text =
            crate::config::local_file::read_text(&p, crate::config::local_file::MAX_CONFIG_BYTES)
                .map_err(|e| with_hint(e.message("template "), e.hint()))?;
        if refers_to_secret(&text, self.sensitive_inputs) {
            self.sensitive = true;
        }
        self.templates
            .render(&text, self.ctx)
            .map_err(|e| format!("template {}: {e}", crate::config::display_path(&p)))
    }
}

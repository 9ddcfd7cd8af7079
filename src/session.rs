//! A run across hosts: the pipeline from a loaded project to per-host plans.
//!
//! `Session::open` validates offline (every target host resolved and
//! graphed with placeholder facts and secrets, every problem collected:
//! the graph is checked on the resources that resolved even when others
//! failed, so no stage hides another's problems),
//! reads the secrets and prepares the redactor. `plan_all` then runs, per
//! host and in parallel (bounded): connect → lock (apply only, SSH hosts:
//! [`crate::lock`]) → facts (only when templates use them) → resolve →
//! graph → probe (one round trip) → diff → plan. The lock comes before any
//! read, so an apply plans from a state no other apply is changing.
//! [`apply_all()`] applies the planned hosts the same way, and [`finish`]
//! lets go of their locks and connections.

use crate::config::inventory::{Host, TransportKind};
use crate::diag::{Diag, Diagnostics};
use crate::graph::{self, Graph};
use crate::plan::{self, HostPlan, HostWork, ResourcePlan, RoundTrips, Summary};
use crate::probe;
use crate::resolve::{self, Facts, HostInput, Project, Resolved};
use crate::resources::{Evaluation, ProbeOutput};
use crate::secret::{self, Redactor, Secret};
use crate::template::Templates;
use crate::transport::Transport;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod apply_all;
mod apply_one;
pub mod batches;
mod hosts_check;
mod verify_target;
pub use apply_all::{apply_all, finish};
pub(crate) use hosts_check::on_calling_thread;
pub use verify_target::check_target;

/// The offline result of validating a project for its target hosts.
pub struct Validated {
    pub hosts: Vec<String>,
    /// Per host: whether rendering depends on host facts.
    pub facts_needed: BTreeMap<String, bool>,
    /// Per host: the resolved resources and graph with placeholder facts.
    pub offline: BTreeMap<String, (Resolved, Graph)>,
    /// Resources of the hosts that resolved and graphed, counted whether
    /// `offline` is kept or not (`keel validate`).
    pub resources: usize,
    /// Reported, but not stopping the run (lockout risks you accepted).
    pub warnings: Diagnostics,
}

/// Resolve and graph every target host offline; collect every problem.
/// The lockout analysis' refusals are warnings instead when
/// `allow_lockout_risk` (or the host's own setting) says so. Each host's
/// offline resolution and graph are kept in [`Validated::offline`] only
/// when `keep` (`keel graph`, `--target`): a plan resolves each host
/// again, and 1,000 hosts' stacks held at once were most of its memory.
pub fn validate_with(
    project: &Project,
    limit: Option<&str>,
    allow_lockout_risk: bool,
    keep: bool,
) -> Result<Validated, Diagnostics> {
    let hosts = project.target_hosts(limit)?;
    let placeholders: BTreeMap<String, Secret> = project
        .stack
        .secrets
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                // Shaped to pass the checks a real value passes where
                // secrets usually go (a crypt(3) hash starts with `$`).
                Secret::new(format!("$keel$placeholder-secret-{}", s.name)),
            )
        })
        .collect();
    let mut diags = Diagnostics::new();
    let mut per_host: Vec<(String, Diagnostics)> = Vec::new();
    let mut facts_needed = BTreeMap::new();
    let mut offline = BTreeMap::new();
    let mut resources = 0;
    let mut warnings = Diagnostics::new();
    let shared = hosts_check::Shared {
        project,
        placeholders: &placeholders,
        allow_lockout_risk,
        keep,
    };
    for (name, check) in hosts_check::check_hosts(&shared, &hosts) {
        per_host.extend(check.problems.into_iter().map(|d| (name.clone(), d)));
        let Some(needs) = check.facts_needed else {
            continue;
        };
        facts_needed.insert(name.clone(), needs);
        for d in check.lockout {
            if d.warning {
                warnings.push(d);
            } else {
                diags.push(d);
            }
        }
        resources += check.resources;
        if let Some(o) = check.offline {
            offline.insert(name, o);
        }
    }
    let known = hosts
        .iter()
        .filter(|h| project.inventory.hosts.contains_key(*h))
        .count();
    diags.extend(name_hosts(per_host, known));
    // Only when every target is known (unknown ones are reported at load).
    let all_known = !project.stack.targets.is_empty()
        && project
            .stack
            .targets
            .iter()
            .all(|t| project.inventory.knows(&t.value));
    if hosts.is_empty() && diags.is_empty() && all_known {
        diags.push(
            Diag::at(
                "keel::no-hosts",
                &project.stack.source,
                project
                    .stack
                    .targets
                    .first()
                    .map(|t| t.span)
                    .unwrap_or_default(),
                "the stack's targets match no host of the inventory",
                "targets",
            )
            .with_help("check `targets:`, the inventory's groups, and --limit"),
        );
    }
    dedupe(&mut diags);
    dedupe(&mut warnings);
    diags.into_result(Validated {
        hosts,
        facts_needed,
        offline,
        resources,
        warnings,
    })
}

/// Load and validate in one go, reporting the problems of every stage
/// together (a broken resource in the stack does not hide a missing input
/// in a module or a typo in the inventory): lockout refusals are warnings
/// when allowed, and `overrides` are the values from the command line
/// (`--set`, a rollback).
pub fn check_overridden(
    stack: &std::path::Path,
    inventory: &std::path::Path,
    limit: Option<&str>,
    allow_lockout_risk: bool,
    overrides: &resolve::Overrides,
) -> Result<(Project, Validated), Diagnostics> {
    check_keeping(
        stack,
        inventory,
        (limit, allow_lockout_risk),
        overrides,
        true,
    )
}

/// [`check_overridden`], keeping the offline resolutions only when `keep`
/// (see [`validate_with`]).
pub fn check_keeping(
    stack: &std::path::Path,
    inventory: &std::path::Path,
    (limit, allow_lockout_risk): (Option<&str>, bool),
    overrides: &resolve::Overrides,
    keep: bool,
) -> Result<(Project, Validated), Diagnostics> {
    let (project, mut diags) = Project::load_partial(stack, inventory);
    let Some(mut project) = project else {
        return Err(diags);
    };
    project.overrides = overrides.clone();
    match validate_with(&project, limit, allow_lockout_risk, keep) {
        Ok(v) if diags.is_empty() => return Ok((project, v)),
        Ok(_) => {}
        Err(d) => diags.extend(d),
    }
    dedupe(&mut diags);
    Err(diags)
}

/// Problems found while resolving each host, each reported once; one that
/// only some hosts have (a variable one host lacks) names those hosts.
fn name_hosts(per_host: Vec<(String, Diagnostics)>, total: usize) -> Diagnostics {
    type Key = (Option<String>, Option<(usize, usize)>, String);
    let mut order: Vec<(Key, Diag, Vec<String>)> = Vec::new();
    let mut index: BTreeMap<Key, usize> = BTreeMap::new();
    for (host, ds) in per_host {
        for d in ds.0 {
            let key = (
                d.source.as_ref().map(|s| s.name.clone()),
                d.span.map(|s| (s.offset, s.len)),
                d.message.clone(),
            );
            match index.get(&key) {
                Some(&i) => {
                    if !order[i].2.contains(&host) {
                        order[i].2.push(host.clone());
                    }
                }
                None => {
                    index.insert(key.clone(), order.len());
                    order.push((key, d, vec![host.clone()]));
                }
            }
        }
    }
    let mut out = Diagnostics::new();
    for (_, mut d, hosts) in order {
        if total > 1 && hosts.len() < total {
            let names: Vec<String> = hosts.iter().take(5).map(|h| format!("`{h}`")).collect();
            let more = hosts.len().saturating_sub(5);
            d.message = format!(
                "{} (only on host{} {}{}: {} of {total} hosts)",
                d.message,
                if hosts.len() == 1 { "" } else { "s" },
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                },
                hosts.len()
            );
        }
        out.push(d);
    }
    out
}

/// The same problem found on several hosts is reported once.
fn dedupe(diags: &mut Diagnostics) {
    let mut seen = BTreeSet::new();
    diags.0.retain(|d| {
        seen.insert((
            d.source.as_ref().map(|s| s.name.clone()),
            d.span.map(|s| (s.offset, s.len)),
            d.message.clone(),
        ))
    });
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct Options {
    pub limit: Option<String>,
    pub parallel: usize,
    pub connect_timeout: Duration,
    /// Seconds before an unconfirmed SSH/firewall change reverts.
    pub confirm_timeout: u64,
    /// Lockout refusals become warnings.
    pub allow_lockout_risk: bool,
    /// Take each SSH host's lock (`keel apply`), waiting this long for it;
    /// `None`: no lock (`keel plan`).
    pub lock: Option<crate::lock::Wait>,
    /// `--target` and `--tags`: plan only these (and what they need).
    pub selection: graph::select::Selection,
    /// `--set` vars and a rollback's releases.
    pub overrides: resolve::Overrides,
    /// `--force-prune`: prune files changed by hand too ([`crate::ledger`]).
    pub force_prune: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limit: None,
            parallel: 8,
            connect_timeout: Duration::from_secs(15),
            confirm_timeout: crate::confirm::DEFAULT_TIMEOUT,
            allow_lockout_risk: false,
            lock: None,
            selection: Default::default(),
            overrides: resolve::Overrides::default(),
            force_prune: false,
        }
    }
}

/// A validated project with its secrets, ready to plan and apply.
pub struct Session {
    pub project: Project,
    pub validated: Validated,
    pub secrets: BTreeMap<String, Secret>,
    pub redactor: Redactor,
    pub templates: Templates,
    pub options: Options,
}

impl Session {
    /// Run the checks a host's work declares (none: no report), on the
    /// connection its apply used, with the host's inventory address for
    /// the checks made from this machine.
    pub async fn run_checks(&self, w: &HostWork) -> Vec<crate::check::CheckReport> {
        let checks = crate::check::checks_of(w);
        if checks.is_empty() {
            return Vec::new();
        }
        let address = self
            .project
            .inventory
            .hosts
            .get(&w.host)
            .map(|h| h.address.clone())
            .unwrap_or_default();
        let tainted = crate::check::tainted_in(&w.resolved);
        crate::check::run_host(
            &w.host,
            &address,
            &checks,
            w.conn(),
            &self.redactor,
            &tainted,
        )
        .await
    }

    /// Load and validate offline, then read the secrets.
    pub fn open(
        stack: &std::path::Path,
        inventory: &std::path::Path,
        options: Options,
    ) -> Result<Session, Diagnostics> {
        let (project, validated) = check_keeping(
            stack,
            inventory,
            (options.limit.as_deref(), options.allow_lockout_risk),
            &options.overrides,
            !options.selection.is_empty(), // for check_selection only
        )?;

        let mut diags = Diagnostics::new();
        let mut secrets = BTreeMap::new();
        for decl in &project.stack.secrets {
            match secret::read(decl, &project.stack.dir) {
                Ok(v) => {
                    secrets.insert(decl.name.clone(), v);
                }
                Err(e) => diags.push(
                    Diag::at(
                        "keel::secret",
                        &project.stack.source,
                        decl.span,
                        e,
                        "this secret",
                    )
                    .with_help(secret_help(&decl.source)),
                ),
            }
        }
        diags.extend(check_selection(&project, &validated, &options.selection));
        let redactor = Redactor::new(secrets.values().cloned().collect());
        // Validation is done with them; each host is resolved again with its facts.
        let validated = Validated {
            offline: BTreeMap::new(),
            ..validated
        };
        diags.into_result(Session {
            project,
            validated,
            secrets,
            redactor,
            templates: Templates::new(),
            options,
        })
    }
}

/// `--target` addresses and `--tags` that name nothing on any target host
/// (checked on the offline resolution): errors with a "did you mean".
fn check_selection(
    project: &Project,
    validated: &Validated,
    sel: &graph::select::Selection,
) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if sel.is_empty() {
        return diags;
    }
    let mut found = BTreeSet::new();
    let mut hints: BTreeMap<String, String> = BTreeMap::new();
    let mut tags = BTreeSet::new();
    for (resolved, _) in validated.offline.values() {
        let named = graph::select::named(project, resolved, sel);
        tags.extend(named.tags_seen);
        let unknown: BTreeSet<&String> = named.unknown_targets.iter().map(|(t, _)| t).collect();
        found.extend(sel.targets.iter().filter(|t| !unknown.contains(t)).cloned());
        for (t, hint) in named.unknown_targets {
            hints.entry(t).or_insert(hint);
        }
    }
    for t in &sel.targets {
        if !found.contains(t) {
            diags.push(
                Diag::plain(
                    "keel::target",
                    format!("`{t}` names no resource of any target host"),
                )
                .with_help(hints.get(t).cloned().unwrap_or_else(|| {
                    "addresses are written `kind[name]`, `module.NAME` or `module.NAME.kind[name]`; `keel graph` lists them".into()
                })),
            );
        }
    }
    for t in &sel.tags {
        if !tags.contains(t) {
            diags.push(
                Diag::plain(
                    "keel::target",
                    format!("--tags `{t}`: no resource or module use has this tag"),
                )
                .with_help(crate::suggest::closest_hint(t, tags.iter())),
            );
        }
    }
    diags
}

/// Narrow a host's resources to the selection and what it needs.
fn select(
    project: &Project,
    resolved: Resolved,
    graph: Graph,
    sel: &graph::select::Selection,
) -> Result<(Resolved, Graph), Diagnostics> {
    if sel.is_empty() {
        return Ok((resolved, graph));
    }
    let named = graph::select::named(project, &resolved, sel);
    let keep = graph::select::closure(&graph, &named.roots);
    let resolved = graph::select::subset(resolved, &keep);
    let graph = graph::build(&resolved)?;
    Ok((resolved, graph))
}

fn failed_host(host: &str, transport: String, error: String) -> HostWork {
    HostWork {
        host: host.to_string(),
        transport: None,
        reconnected: Default::default(),
        resolved: Resolved::default(),
        graph: None,
        evals: Vec::new(),
        lock: None,
        plan: HostPlan {
            host: host.to_string(),
            transport,
            round_trips: RoundTrips::default(),
            error: Some(error),
            desired_hash: String::new(),
            resources: Vec::new(),
            summary: Summary {
                errors: 1,
                ..Summary::default()
            },
            skipped: Vec::new(),
            release: None,
        },
    }
}

/// Plan one host: connect (and lock) → facts → resolve → graph → probe →
/// diff → plan. A host that fails a step gets an error in its plan.
pub async fn plan_host(s: &Session, name: &str) -> HostWork {
    let Some(host) = s.project.inventory.hosts.get(name) else {
        return failed_host(name, String::new(), "not in the inventory".into());
    };
    let started = Instant::now();
    let (transport, lock) = match open_locked(s, host).await {
        Ok(t) => t,
        Err(e) => return failed_host(name, describe_host(host), s.redactor.redact(&e)),
    };
    let described = transport.describe();
    tracing::info!(host = name, "connected: {described}");
    let mut trips = RoundTrips::default();
    let (resolved, graph) = match facts_and_resolve(s, host, transport.as_ref(), &mut trips).await {
        Ok(x) => x,
        Err(e) => return failed_host(name, described, e),
    };
    let before = transport.round_trips();
    let (outputs, release) = match probe_host(transport.as_ref(), &resolved).await {
        Ok(x) => x,
        Err(e) => {
            let mut w = failed_host(name, described, s.redactor.redact(&e));
            w.transport = Some(transport);
            return w;
        }
    };
    trips.probe = transport.round_trips() - before;
    tracing::info!(
        host = name,
        "probed {} resources in {} round trip(s), {:.2}s",
        resolved.instances.len() + usize::from(resolved.release.is_some()),
        trips.probe,
        started.elapsed().as_secs_f64()
    );
    let keyed = outputs
        .iter()
        .map(plan::fingerprint)
        .collect::<Result<Vec<_>, _>>()
        .and_then(|prints| Ok((prints, plan::desired_hash(&resolved)?)));
    let (prints, desired_hash) = match keyed {
        Ok(k) => k,
        Err(e) => {
            let mut w = failed_host(name, described, e);
            w.transport = Some(transport);
            return w;
        }
    };
    let (evals, resources) = evaluate_all(s, &resolved, &graph, &outputs, &prints);
    HostWork {
        host: name.to_string(),
        plan: HostPlan {
            host: name.to_string(),
            transport: described,
            round_trips: trips,
            error: preflight_error(&resolved, &resources),
            desired_hash,
            summary: summary_of(&resources),
            resources,
            skipped: resolved.skipped.clone(),
            release,
        },
        transport: Some(transport),
        reconnected: Default::default(),
        resolved,
        graph: Some(graph),
        evals,
        lock,
    }
}

/// Gather the host's facts (only when its templates use them), then
/// resolve its resources and build their graph, narrowed to the selection.
/// `Err` is the host's error, redacted.
async fn facts_and_resolve(
    s: &Session,
    host: &Host,
    transport: &dyn Transport,
    trips: &mut RoundTrips,
) -> Result<(Resolved, Graph), String> {
    let facts: Facts = if s
        .validated
        .facts_needed
        .get(&host.name)
        .copied()
        .unwrap_or(false)
    {
        let before = transport.round_trips();
        let f = probe::gather_facts(transport)
            .await
            .map_err(|e| format!("cannot gather facts: {}", s.redactor.redact(&e.to_string())))?;
        trips.facts = transport.round_trips() - before;
        f
    } else {
        resolve::placeholder_facts(0)
    };
    let input = HostInput {
        project: &s.project,
        host,
        facts: &facts,
        secrets: &s.secrets,
        templates: &s.templates,
    };
    let problem = |d: Diagnostics| s.redactor.redact(&d.one_line());
    let mut resolved = resolve::resolve_host(&input).map_err(problem)?;
    // What the stack no longer declares but its ledger lists: removals.
    let run = crate::ledger::PruneRun {
        project: &s.project,
        narrowed: !s.options.selection.is_empty(),
        force: s.options.force_prune,
        allow_lockout_risk: s.options.allow_lockout_risk,
    };
    crate::ledger::add_prunes(&run, host, transport, &mut resolved)
        .await
        .map_err(|e| s.redactor.redact(&e))?;
    let graph = graph::build(&resolved).map_err(problem)?;
    select(&s.project, resolved, graph, &s.options.selection).map_err(problem)
}

/// Read the live state of every resource in one round trip, with the
/// release record last (and the release plan made from it). `Err` is not
/// redacted yet.
async fn probe_host(
    transport: &dyn Transport,
    resolved: &Resolved,
) -> Result<(Vec<ProbeOutput>, Option<crate::release::ReleasePlan>), String> {
    let mut probes: Vec<String> = resolved
        .instances
        .iter()
        .map(|i| i.resource.probe())
        .collect();
    // The release record is read in the same round trip, last.
    if let Some(r) = &resolved.release {
        probes.push(crate::release::read_script(r));
    }
    let mut outputs = probe::run_batch(transport, &probes)
        .await
        .map_err(|e| e.to_string())?;
    let record = resolved.release.as_ref().and_then(|_| outputs.pop());
    let release = match (&resolved.release, record) {
        (Some(r), Some(out)) => Some(crate::release::plan_of(r, &out.stdout)?),
        _ => None,
    };
    Ok((outputs, release))
}

/// A failed preflight check (not waiting on this run's changes) leaves
/// the whole host untouched: the host's error naming every one.
pub fn preflight_error(resolved: &Resolved, resources: &[ResourcePlan]) -> Option<String> {
    let preflight: Vec<String> = resources
        .iter()
        .zip(&resolved.instances)
        .filter(|(r, i)| {
            (i.resource.precondition() || crate::ledger::is_pruned(resolved, &i.address))
                && r.error.is_some()
                && r.known_after_apply.is_none()
        })
        .map(|(r, _)| format!("{}: {}", r.address, r.error.as_deref().unwrap_or_default()))
        .collect();
    (!preflight.is_empty()).then(|| {
        format!(
            "preflight failed, the host is left untouched: {}",
            preflight.join("; ")
        )
    })
}

/// The counts of a host's plan: each action, and the errors.
fn summary_of(resources: &[ResourcePlan]) -> Summary {
    let mut summary = Summary::default();
    for r in resources {
        if r.error.is_some() {
            summary.errors += 1;
        } else {
            summary.count(r.action);
        }
    }
    summary
}

/// Connect to a host and, when the run locks hosts (apply) and it is
/// reached over SSH, take its lock before anything is read.
async fn open_locked(
    s: &Session,
    host: &Host,
) -> Result<(Arc<dyn Transport>, Option<crate::lock::HostLock>), String> {
    let timeout = s.options.connect_timeout;
    let Some(wait) = s
        .options
        .lock
        .filter(|_| host.transport == TransportKind::Ssh)
    else {
        return crate::connect::connect(host, timeout)
            .await
            .map(|t| (t, None))
            .map_err(|e| e.to_string());
    };
    let ssh = crate::connect::connect_host(host, timeout)
        .await
        .map_err(|e| e.to_string())?;
    let name = host.name.clone();
    let lock = crate::lock::acquire(ssh.clone(), &host.name, wait, move |holder| {
        let how = match wait {
            crate::lock::Wait::Upto(d) => format!("up to {} s (--lock-timeout)", d.as_secs()),
            _ => "until it is free (Ctrl-C to stop)".into(),
        };
        eprintln!("keel: {name} is locked by another keel apply ({holder}); waiting {how}");
    })
    .await
    .map_err(|e| e.to_string())?;
    Ok((ssh, Some(lock)))
}

fn describe_host(h: &Host) -> String {
    match h.transport {
        TransportKind::Local => "local".into(),
        TransportKind::Ssh => format!("ssh {}@{}:{}", h.user, h.address, h.port.unwrap_or(22)),
    }
}

/// Evaluate every resource against its probe output, in declaration order.
pub fn evaluate_all(
    s: &Session,
    resolved: &Resolved,
    graph: &Graph,
    outputs: &[ProbeOutput],
    prints: &[String],
) -> (Vec<Option<Evaluation>>, Vec<ResourcePlan>) {
    let mut evals: Vec<Result<Evaluation, String>> = resolved
        .instances
        .iter()
        .zip(outputs)
        .map(|(i, o)| i.resource.evaluate(o))
        .collect();
    crate::ledger::show_removals(resolved, outputs, &mut evals);
    let changing: Vec<bool> = evals
        .iter()
        .map(|e| e.as_ref().map_or(true, |e| e.diff.action().is_change()))
        .collect();
    let first_changing = graph.first_marked_ancestors(&changing);
    let mut plans = Vec::new();
    for (i, e) in evals.iter().enumerate() {
        match e {
            Ok(ev) => plans.push(plan::resource_plan(
                resolved,
                graph,
                i,
                ev,
                prints[i].clone(),
                first_changing[i],
                &s.redactor,
            )),
            Err(msg) => {
                let inst = &resolved.instances[i];
                let masker = plan::Masker {
                    redactor: &s.redactor,
                    tainted: &inst.tainted,
                };
                plans.push(ResourcePlan {
                    address: masker.mask(&inst.address),
                    kind: inst.resource.kind().into(),
                    name: masker.mask(&inst.resource.name()),
                    module: inst.module.clone(),
                    action: crate::resources::Action::NoOp,
                    symbol: "?".into(),
                    attributes: Vec::new(),
                    diff: None,
                    reason: None,
                    known_after_apply: None,
                    sensitive: inst.sensitive,
                    depends_on: Vec::new(),
                    commands: Vec::new(),
                    fingerprint: prints[i].clone(),
                    unmanaged: Vec::new(),
                    error: Some(masker.mask(&format!(
                        "cannot read its live state: {msg}{}",
                        if outputs[i].stderr.trim().is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", outputs[i].stderr.trim())
                        }
                    ))),
                });
            }
        }
    }
    (evals.into_iter().map(Result::ok).collect(), plans)
}

/// Plan every target host, at most `parallel` at a time.
pub async fn plan_all(
    s: Arc<Session>,
    on_host_done: impl Fn(&HostWork) + Send + Sync + 'static,
) -> Vec<HostWork> {
    let sem = Arc::new(tokio::sync::Semaphore::new(s.options.parallel.max(1)));
    let on_done = Arc::new(on_host_done);
    let mut tasks = Vec::new();
    for h in s.validated.hosts.clone() {
        let s = s.clone();
        let sem = sem.clone();
        let on_done = on_done.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await;
            let w = plan_host(&s, &h).await;
            on_done(&w);
            w
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        match t.await {
            Ok(w) => out.push(w),
            Err(e) => out.push(failed_host(
                "?",
                String::new(),
                format!("internal error: {e}"),
            )),
        }
    }
    out
}

/// What to do about a secret that could not be read, by its source.
fn secret_help(source: &crate::config::stack::SecretSource) -> String {
    use crate::config::stack::SecretSource;
    match source {
        SecretSource::Env(var) => {
            format!("set the variable before running keel: `export {var}=...` (or read it from a file or a command: README, \"Secrets\")")
        }
        SecretSource::File(path) => format!(
            "put the value in {path} (relative to the stack's folder), or change the secret's source"
        ),
        SecretSource::Command(_) => {
            "fix the command: run it by hand to see what it prints, or raise `timeout:` if it needs longer".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::resolve::placeholder_facts;
    use serde_json::Value;

    /// The keys (and value types) of a JSON value, recursively.
    fn shape(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
            }
            Value::Number(_) => "number".into(),
            Value::String(_) => "string".into(),
            other => other.clone(),
        }
    }

    /// Whether validation finds that each host's stack uses facts (then a
    /// plan gathers them), for `stack` over hosts `a` (group `web`) and `b`.
    fn facts_needed(stack: &str) -> Vec<(String, bool)> {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("inventory.yaml");
        std::fs::write(
            &inv,
            "hosts:\n  a: { transport: local }\n  b: { transport: local }\ngroups:\n  web: { hosts: [a] }\n",
        )
        .unwrap();
        let path = dir.path().join("stack.yaml");
        std::fs::write(&path, stack).unwrap();
        let project =
            crate::resolve::Project::load(&path, &inv).unwrap_or_else(|d| panic!("{d:?}"));
        let v =
            super::validate_with(&project, None, false, false).unwrap_or_else(|d| panic!("{d:?}"));
        v.facts_needed.into_iter().collect()
    }

    #[test]
    fn validation_learns_which_hosts_use_facts() {
        let head = "name: t\ntargets: [all]\nresources:\n";
        let both = |a: bool, b: bool| vec![("a".to_string(), a), ("b".to_string(), b)];
        assert_eq!(
            facts_needed(&format!(
                "{head}  - file: {{ path: \"/tmp/{{{{host.name}}}}\", content: x }}\n"
            )),
            both(false, false)
        );
        assert_eq!(
            facts_needed(&format!(
                "{head}  - package: {{ name: nginx, when: \"{{{{eq facts.os.id 'debian'}}}}\" }}\n"
            )),
            both(true, true)
        );
        // Only where the rendering reaches the facts: behind a condition
        // on the host's groups, or in a resource's content.
        assert_eq!(
            facts_needed(&format!(
                "{head}  - file: {{ path: /tmp/x, content: \"{{{{#if (contains host.groups 'web')}}}}{{{{facts.arch}}}}{{{{/if}}}}\" }}\n"
            )),
            both(true, false)
        );
    }

    /// Validation renders with placeholder facts: they must have exactly the
    /// fields the real ones have, or a stack using `facts.user` fails
    /// validation although it plans fine (it did).
    #[test]
    fn placeholder_facts_have_the_shape_of_real_facts() {
        let real = shape(&crate::probe::parse_facts(""));
        for variant in [0, 1] {
            assert_eq!(
                shape(&placeholder_facts(variant)),
                real,
                "variant {variant}"
            );
        }
    }
}

//! `keel apply`: plan, confirm, apply hosts in parallel, summarise.

use super::inventory_path;
use crate::apply::{self, HostOutcome, Outcome, Progress};
use crate::exit::Exit;
use crate::plan::{self, saved};
use crate::session::Session;
use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub struct ApplyArgs {
    pub subset: super::Subset,
    pub confirm_timeout: u64,
    pub allow_lockout_risk: bool,
    pub target: PathBuf,
    pub inventory: Option<PathBuf>,
    pub limit: Option<String>,
    pub yes: bool,
    pub json: bool,
    pub parallel: usize,
    pub lock_timeout: Option<u64>,
    /// `--set` vars and a rollback's releases.
    pub overrides: crate::resolve::Overrides,
}

fn is_saved_plan(p: &std::path::Path) -> bool {
    if p.extension().is_some_and(|e| e == "json") {
        return true;
    }
    // A JSON document with the plan's version key; a YAML stack written
    // in flow style also starts with `{`, so look for the key.
    crate::config::local_file::read_text(p, crate::config::local_file::MAX_DATA_BYTES)
        .map(|t| t.trim_start().starts_with('{') && t.contains("\"format_version\""))
        .unwrap_or(false)
}

struct Bars {
    bars: BTreeMap<String, ProgressBar>,
}

impl Progress for Bars {
    fn step(&self, host: &str, address: &str) {
        if let Some(b) = self.bars.get(host) {
            b.set_message(address.to_string());
            b.inc(1);
        }
    }
}

/// Read a saved plan: its seal, then the files it was made from; show what
/// it applies and from where before anything else is read.
fn load_saved(file: &std::path::Path) -> Result<plan::Plan, Exit> {
    let saved = saved::load(file).map_err(|e| {
        match e.diag() {
            Some(d) => super::report(&d.into()),
            None => eprintln!("keel: refusing to apply {}: {e}", file.display()),
        }
        Exit::Error
    })?;
    eprint!("{}", saved::describe(file, &saved.plan));
    let changed = saved::check_sources(&saved);
    if !changed.is_empty() {
        for e in &changed {
            eprintln!("keel: refusing to apply {}: {e}", file.display());
        }
        return Err(Exit::Error);
    }
    Ok(saved.plan)
}

/// Whether a person is watching: stdin and stderr on a terminal, not CI.
fn interactive() -> bool {
    std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none_or(|v| v.is_empty())
}

/// Let go of every host lock, then close every connection.
async fn finish(works: &[crate::session::HostWork]) {
    for w in works {
        w.release_lock().await;
    }
    for w in works {
        let later = w.reconnected.lock().ok().and_then(|g| g.clone());
        if let Some(t) = later {
            t.close().await;
        }
        if let Some(t) = &w.transport {
            t.close().await;
        }
    }
}

fn confirm() -> bool {
    eprint!("Apply these changes? Only `yes` is accepted: ");
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    line.trim() == "yes"
}

pub async fn run(a: ApplyArgs) -> Exit {
    let saved_plan = if is_saved_plan(&a.target) {
        if !a.overrides.vars.is_empty() {
            eprintln!(
                "keel: {} is a saved plan: it records the --set values it was made with; drop --set",
                a.target.display()
            );
            return Exit::Error;
        }
        if a.inventory.is_some() || a.limit.is_some() {
            eprintln!(
                "keel: {} is a saved plan: it records its own inventory and limit; drop -i/--inventory and -l/--limit",
                a.target.display()
            );
            return Exit::Error;
        }
        match load_saved(&a.target) {
            Ok(p) => Some(p),
            Err(code) => return code,
        }
    } else {
        None
    };
    let (stack, inv, limit, selection, overrides) = match &saved_plan {
        Some(p) => (
            PathBuf::from(&p.stack_path),
            PathBuf::from(&p.inventory_path),
            p.limit.clone(),
            crate::graph::select::Selection {
                targets: p.targets.clone(),
                tags: p.tags.clone(),
            },
            crate::resolve::Overrides {
                vars: p.set.clone(),
                release: p.release_override.clone(),
            },
        ),
        None => (
            a.target.clone(),
            inventory_path(a.inventory.as_deref(), &a.target),
            a.limit.clone(),
            a.subset.selection(),
            a.overrides.clone(),
        ),
    };
    if saved_plan.is_some() && (!a.subset.targets.is_empty() || !a.subset.tags.is_empty()) {
        eprintln!(
            "keel: --target and --tags cannot narrow a saved plan: it is applied exactly as planned (plan again with them)"
        );
        return Exit::Error;
    }
    let s: Arc<Session> = match super::plan::open_with(
        &stack,
        &inv,
        crate::session::Options {
            limit,
            parallel: a.parallel,
            confirm_timeout: a.confirm_timeout,
            allow_lockout_risk: a.allow_lockout_risk,
            lock: Some(crate::lock::Wait::from_flag(a.lock_timeout, interactive())),
            selection,
            overrides,
            ..Default::default()
        },
    ) {
        Ok(s) => Arc::new(s),
        Err(code) => return code,
    };
    let works = super::plan::plan_hosts(s.clone()).await;
    let doc = super::plan::document(&s, &inv, &works);

    if let Some(sp) = &saved_plan {
        // Refuse if anything differs from the saved plan.
        let fresh: BTreeMap<&str, &plan::HostPlan> =
            doc.hosts.iter().map(|h| (h.host.as_str(), h)).collect();
        let mut stale = Vec::new();
        if sp.hosts.len() != doc.hosts.len() {
            stale.push(saved::Stale::Hosts {
                host: sp
                    .hosts
                    .iter()
                    .map(|h| h.host.clone())
                    .collect::<Vec<_>>()
                    .join(","),
            });
        }
        for h in &sp.hosts {
            match fresh.get(h.host.as_str()) {
                Some(f) => {
                    if let Err(e) = saved::check_host(h, f) {
                        stale.push(e);
                    }
                }
                None => stale.push(saved::Stale::Hosts {
                    host: h.host.clone(),
                }),
            }
        }
        if !stale.is_empty() {
            for e in &stale {
                eprintln!("keel: refusing to apply {}: {e}", a.target.display());
            }
            finish(&works).await;
            return Exit::Error;
        }
    }

    if !a.json {
        super::out(&plan::render::plan(&doc, false));
    }
    if doc.has_errors() {
        eprintln!("keel: some hosts could not be planned; nothing was applied.");
        finish(&works).await;
        return Exit::Error;
    }
    if !doc.changes {
        let checks = super::verify::after_apply(&s, &works, &[], a.json).await;
        if a.json {
            super::out(&format!(
                "{}\n",
                serde_json::json!({"plan": doc, "outcome": [], "checks": checks})
            ));
        }
        finish(&works).await;
        return Exit::error_if(checks.iter().any(|c| !c.passed));
    }
    if saved_plan.is_none() && !a.yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "keel: refusing to apply without confirmation: pass --yes (or run in a terminal)."
            );
            finish(&works).await;
            return Exit::Error;
        }
        if !confirm() {
            eprintln!("Apply cancelled.");
            finish(&works).await;
            return Exit::Error;
        }
    }

    // Apply hosts in parallel, bounded.
    let mp = MultiProgress::new();
    let mut bars = BTreeMap::new();
    for w in &works {
        let pb = mp.add(ProgressBar::new(w.resolved.instances.len() as u64));
        pb.set_style(
            ProgressStyle::with_template("{prefix:>12} [{bar:20}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        pb.set_prefix(w.host.clone());
        pb.enable_steady_tick(Duration::from_millis(200));
        bars.insert(w.host.clone(), pb);
    }
    let bars = Arc::new(Bars { bars });
    let sem = Arc::new(tokio::sync::Semaphore::new(s.options.parallel.max(1)));
    let works = Arc::new(works);
    let mut tasks = Vec::new();
    for idx in 0..works.len() {
        let (works, s, sem, bars) = (works.clone(), s.clone(), sem.clone(), bars.clone());
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire().await;
            let w = &works[idx];
            let mut outcome = if w.plan.summary.changes() == 0 {
                HostOutcome {
                    host: w.host.clone(),
                    resources: Vec::new(),
                    error: None,
                    round_trips: 0,
                }
            } else {
                apply_one(w, &s, bars.as_ref()).await
            };
            if let Err(e) = crate::release::record_after_apply(w, &outcome).await {
                let e = crate::apply::mask_for_host(w, &s.redactor, &e);
                outcome.error = Some(match outcome.error.take() {
                    Some(other) => format!("{e}\n{other}"),
                    None => e,
                });
            }
            outcome
        }));
    }

    let mut outcomes = Vec::new();
    for t in tasks {
        match t.await {
            Ok(o) => outcomes.push(o),
            Err(e) => outcomes.push(HostOutcome {
                host: "?".into(),
                resources: Vec::new(),
                error: Some(format!("internal error: {e}")),
                round_trips: 0,
            }),
        }
    }
    for b in bars.bars.values() {
        b.finish_and_clear();
    }
    let failed_hosts: Vec<String> = outcomes
        .iter()
        .filter(|o| o.failed())
        .map(|o| o.host.clone())
        .collect();
    let checks = super::verify::after_apply(&s, &works, &failed_hosts, a.json).await;
    finish(&works).await;
    let failed = outcomes.iter().any(HostOutcome::failed) || checks.iter().any(|c| !c.passed);
    if a.json {
        super::out(&format!(
            "{}\n",
            serde_json::json!({"plan": doc, "outcome": outcomes, "checks": checks})
        ));
    } else {
        super::out(&summary(&outcomes));
    }
    Exit::error_if(failed)
}

/// Apply one host that has changes.
async fn apply_one(w: &crate::session::HostWork, s: &Session, bars: &Bars) -> HostOutcome {
    let access = s.project.inventory.hosts.get(&w.host).and_then(|h| {
        (h.transport == crate::config::inventory::TransportKind::Ssh).then(|| apply::AccessCheck {
            target: crate::transport::ssh::primary_target(h, s.options.connect_timeout),
            timeout: h.confirm_timeout.unwrap_or(s.options.confirm_timeout),
            fallback: crate::transport::ssh::bootstrap_target(h, s.options.connect_timeout),
        })
    });
    apply::apply_host_confirmed(w, &s.redactor, bars, access.as_ref()).await
}

fn summary(outcomes: &[HostOutcome]) -> String {
    let mut out = String::from("\nApply summary:\n");
    for o in outcomes {
        let changed = o.count(Outcome::changed);
        let failed = o.count(Outcome::is_failure);
        let skipped = o.count(|x| matches!(x, Outcome::Skipped(_)));
        let status = if o.failed() {
            style("FAILED").red().bold().to_string()
        } else {
            style("ok").green().bold().to_string()
        };
        out.push_str(&format!(
            "  {:<20} {status}  {changed} changed, {failed} failed, {skipped} skipped\n",
            o.host
        ));
        if let Some(e) = &o.error {
            out.push_str(&format!("      error: {e}\n"));
        }
        for r in &o.resources {
            match &r.outcome {
                Outcome::Failed(e) => {
                    out.push_str(&format!("      {} {}: {e}\n", style("✗").red(), r.address))
                }
                Outcome::Skipped(why) => out.push_str(&format!(
                    "      {} {}: skipped, {why}\n",
                    style("-").yellow(),
                    r.address
                )),
                _ => {}
            }
        }
    }
    out
}

//! `keel apply`: plan, confirm, apply hosts in parallel
//! ([`crate::session::apply_all`]), summarise.

use super::inventory_path;
use crate::apply::{HostOutcome, Outcome, Progress};
use crate::exit::Exit;
use crate::plan::{self, saved};
use crate::session::{self, Session};
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
fn load_saved(file: &std::path::Path) -> Result<saved::Saved, Exit> {
    let saved = saved::load(file).map_err(|e| {
        match e.diag() {
            Some(d) => super::report(&d.into()),
            None => eprintln!("keel: refusing to apply {}: {e}", file.display()),
        }
        Exit::Error
    })?;
    eprint!("{}", saved::describe(file, &saved));
    let changed = saved::check_sources(&saved);
    if !changed.is_empty() {
        for e in &changed {
            eprintln!("keel: refusing to apply {}: {e}", file.display());
        }
        return Err(Exit::Error);
    }
    Ok(saved)
}

/// Whether a person is watching: stdin and stderr on a terminal, not CI.
fn interactive() -> bool {
    std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none_or(|v| v.is_empty())
}

fn confirm() -> bool {
    eprint!("Apply these changes? Only `yes` is accepted: ");
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    line.trim() == "yes"
}

/// What a run applies: a saved plan's recorded inputs, or the command
/// line's.
struct Inputs {
    saved: Option<plan::Plan>,
    stack: PathBuf,
    inventory: PathBuf,
    limit: Option<String>,
    selection: crate::graph::select::Selection,
    overrides: crate::resolve::Overrides,
    /// `--force-prune`, `--allow-lockout-risk`.
    choices: saved::Choices,
}

/// Read the run's inputs; a saved plan refuses the flags it records.
fn inputs(a: &ApplyArgs) -> Result<Inputs, Exit> {
    let given = saved::Choices {
        force_prune: a.subset.force_prune,
        allow_lockout_risk: a.allow_lockout_risk,
    };
    if !is_saved_plan(&a.target) {
        return Ok(Inputs {
            saved: None,
            stack: a.target.clone(),
            inventory: inventory_path(a.inventory.as_deref(), &a.target),
            limit: a.limit.clone(),
            selection: a.subset.selection(),
            overrides: a.overrides.clone(),
            choices: given,
        });
    }
    if !a.overrides.vars.is_empty() {
        eprintln!(
            "keel: {} is a saved plan: it records the --set values it was made with; drop --set",
            a.target.display()
        );
        return Err(Exit::Error);
    }
    if a.inventory.is_some() || a.limit.is_some() {
        eprintln!(
            "keel: {} is a saved plan: it records its own inventory and limit; drop -i/--inventory and -l/--limit",
            a.target.display()
        );
        return Err(Exit::Error);
    }
    let saved::Saved {
        plan: p, choices, ..
    } = load_saved(&a.target)?;
    if !a.subset.targets.is_empty() || !a.subset.tags.is_empty() {
        eprintln!(
            "keel: --target and --tags cannot narrow a saved plan: it is applied exactly as planned (plan again with them)"
        );
        return Err(Exit::Error);
    }
    let file = a.target.display().to_string();
    if let Some(why) = choices.refuse_extra(&given, &file) {
        eprintln!("keel: refusing to apply {file}: {why}");
        return Err(Exit::Error);
    }
    Ok(Inputs {
        choices,
        stack: PathBuf::from(&p.stack_path),
        inventory: PathBuf::from(&p.inventory_path),
        limit: p.limit.clone(),
        selection: crate::graph::select::Selection {
            targets: p.targets.clone(),
            tags: p.tags.clone(),
        },
        overrides: crate::resolve::Overrides {
            vars: p.set.clone(),
            release: p.release_override.clone(),
        },
        saved: Some(p),
    })
}

/// Open the session of a run (locks taken while planning).
fn open(a: &ApplyArgs, i: &Inputs) -> Result<Arc<Session>, Exit> {
    super::plan::open_with(
        &i.stack,
        &i.inventory,
        crate::session::Options {
            limit: i.limit.clone(),
            parallel: a.parallel,
            confirm_timeout: a.confirm_timeout,
            allow_lockout_risk: i.choices.allow_lockout_risk,
            lock: Some(crate::lock::Wait::from_flag(a.lock_timeout, interactive())),
            selection: i.selection.clone(),
            overrides: i.overrides.clone(),
            force_prune: i.choices.force_prune,
            ..Default::default()
        },
    )
    .map(Arc::new)
}

pub async fn run(a: ApplyArgs) -> Exit {
    let i = match inputs(&a) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let s = match open(&a, &i) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let works = super::plan::plan_hosts(s.clone()).await;
    let doc = super::plan::document(&s, &i.inventory, &works);
    let code = match go_ahead(&a, i.saved.as_ref(), &doc) {
        Err(code) => code,
        Ok(false) => nothing_to_do(&a, &s, &works, &doc).await,
        Ok(true) => {
            let works = Arc::new(works);
            let outcomes = apply_with_bars(&s, &works).await;
            return report_outcomes(&a, &s, &works, &doc, &outcomes).await;
        }
    };
    session::finish(&works).await;
    code
}

/// Whether to apply: `Ok(false)` when there is nothing to change; `Err`
/// when the run stops here (a stale saved plan, hosts not planned, no
/// confirmation). Prints the plan.
fn go_ahead(a: &ApplyArgs, saved: Option<&plan::Plan>, doc: &plan::Plan) -> Result<bool, Exit> {
    if let Some(sp) = saved {
        // Refuse if anything differs from the saved plan.
        let stale = saved::compare(sp, doc);
        if !stale.is_empty() {
            for e in &stale {
                eprintln!("keel: refusing to apply {}: {e}", a.target.display());
            }
            return Err(Exit::Error);
        }
    }
    if !a.json {
        super::out(&plan::render::plan(doc, false));
    }
    if doc.has_errors() {
        eprintln!("keel: some hosts could not be planned; nothing was applied.");
        return Err(Exit::Error);
    }
    if !doc.changes {
        return Ok(false);
    }
    if saved.is_none() && !a.yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "keel: refusing to apply without confirmation: pass --yes (or run in a terminal)."
            );
            return Err(Exit::Error);
        }
        if !confirm() {
            eprintln!("Apply cancelled.");
            return Err(Exit::Error);
        }
    }
    Ok(true)
}

/// Nothing to change: run the checks alone.
async fn nothing_to_do(
    a: &ApplyArgs,
    s: &Session,
    works: &[crate::plan::HostWork],
    doc: &plan::Plan,
) -> Exit {
    let checks = super::verify::after_apply(s, works, &[], a.json).await;
    if a.json {
        super::out(&format!(
            "{}\n",
            serde_json::json!({"plan": doc, "outcome": [], "checks": checks})
        ));
    }
    Exit::error_if(checks.iter().any(|c| !c.passed))
}

/// Apply every host ([`session::apply_all`]) with a progress bar each.
async fn apply_with_bars(
    s: &Arc<Session>,
    works: &Arc<Vec<crate::plan::HostWork>>,
) -> Vec<HostOutcome> {
    let mp = MultiProgress::new();
    let mut bars = BTreeMap::new();
    for w in works.iter() {
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
    let applying = crate::interrupt::Applying::start();
    let outcomes = session::apply_all(s.clone(), works.clone(), bars.clone()).await;
    drop(applying);
    for b in bars.bars.values() {
        b.finish_and_clear();
    }
    outcomes
}

/// Run the checks of the hosts that did not fail, end the run, print the
/// outcome.
async fn report_outcomes(
    a: &ApplyArgs,
    s: &Session,
    works: &[crate::plan::HostWork],
    doc: &plan::Plan,
    outcomes: &[HostOutcome],
) -> Exit {
    let failed_hosts: Vec<String> = outcomes
        .iter()
        .filter(|o| o.failed())
        .map(|o| o.host.clone())
        .collect();
    let checks = super::verify::after_apply(s, works, &failed_hosts, a.json).await;
    session::finish(works).await;
    let failed = outcomes.iter().any(HostOutcome::failed) || checks.iter().any(|c| !c.passed);
    if a.json {
        super::out(&format!(
            "{}\n",
            serde_json::json!({"plan": doc, "outcome": outcomes, "checks": checks})
        ));
    } else {
        super::out(&summary(outcomes));
    }
    Exit::error_if(failed)
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

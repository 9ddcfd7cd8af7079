//! `keel plan`: what would change on each host; `--detailed-exitcode` for CI.

use super::{Common, inventory_path, report};
use crate::exit::Exit;
use crate::plan::HostWork;
use crate::plan::{self, HostPlan, Plan, saved};
use crate::session::{self, Options, Session};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub struct PlanArgs {
    pub allow_lockout_risk: bool,
    pub common: Common,
    pub subset: super::Subset,
    pub detailed_exitcode: bool,
    pub json: bool,
    pub out: Option<PathBuf>,
    pub all: bool,
    pub parallel: usize,
}

/// Open a session for a stack: load, validate (lockout analysis included),
/// read secrets; report warnings and problems.
pub fn open_with(
    stack: &std::path::Path,
    inventory: &std::path::Path,
    options: Options,
) -> Result<Session, Exit> {
    Session::open(stack, inventory, options)
        .inspect(|s| {
            if !s.validated.warnings.is_empty() {
                super::report_warnings(&s.validated.warnings);
            }
        })
        .map_err(|d| {
            report(&d);
            Exit::Error
        })
}

/// `pb` as the spinner shown while the hosts are read.
fn reading(pb: ProgressBar, s: &Session) -> ProgressBar {
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(format!(
        "reading the live state of {} host(s)",
        s.validated.hosts.len()
    ));
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// Plan every host with a spinner per host on a terminal.
pub async fn plan_hosts(s: Arc<Session>) -> Vec<HostWork> {
    let mp = MultiProgress::new();
    let pb = reading(mp.add(ProgressBar::new_spinner()), &s);
    let pb2 = pb.clone();
    let works = session::plan_all(s, move |w| pb2.println(format!("  planned {}", w.host))).await;
    pb.finish_and_clear();
    works
}

/// Build the plan document from the hosts' work.
pub fn document(s: &Session, inventory: &std::path::Path, works: &[HostWork]) -> Plan {
    document_of(s, inventory, works.iter().map(|w| w.plan.clone()).collect())
}

/// Build the plan document from the hosts' plans.
pub fn document_of(s: &Session, inventory: &std::path::Path, hosts: Vec<HostPlan>) -> Plan {
    let names: Vec<String> = hosts.iter().map(|h| h.host.clone()).collect();
    let mut plan = Plan::new(
        s.project.stack.name.clone(),
        absolute(&s.project.stack.path),
        absolute(inventory),
        s.options.limit.clone(),
        hosts,
    );
    plan.targets = s.options.selection.targets.clone();
    plan.tags = s.options.selection.tags.clone();
    plan.set = s.project.overrides.vars.clone();
    plan.release_override = s.project.overrides.release.clone();
    let rollout = &s.project.stack.rollout;
    if rollout.is_set() {
        plan.batches = session::batches::batches(&names, rollout.serial);
    }
    plan
}

/// Plan every host, at most `parallel` at a time, handing each host's
/// plan to `each` in the hosts' (natural) order as soon as it and those
/// before it are planned. Only the plan of a host is kept: its
/// resolution, graph, evaluated commands and connection are let go as
/// soon as it is planned (a plan of 1,000 hosts held them all).
pub async fn plan_each(s: Arc<Session>, mut each: impl FnMut(HostPlan)) {
    let pb = reading(ProgressBar::new_spinner(), &s);
    let parallel = s.options.parallel.max(1);
    let sem = Arc::new(tokio::sync::Semaphore::new(parallel));
    let spawn = |h: &String| {
        let (s, sem, pb, h) = (s.clone(), sem.clone(), pb.clone(), h.clone());
        tokio::spawn(async move {
            let _permit = sem.acquire().await;
            let w = session::plan_host(&s, &h).await;
            pb.println(format!("  planned {}", w.host));
            if let Some(t) = &w.transport {
                t.close().await;
            }
            w.plan
        })
    };
    // A window of hosts in flight, in order: `parallel` planned at once,
    // and at most WINDOW × `parallel` finished plans waiting for a slower
    // one before them (all hosts spawned at once buffered hundreds).
    const WINDOW: usize = 4;
    let mut hosts = s.validated.hosts.iter();
    let mut inflight: std::collections::VecDeque<_> = hosts
        .by_ref()
        .take(WINDOW * parallel)
        .map(|h| (h.clone(), spawn(h)))
        .collect();
    while let Some((h, t)) = inflight.pop_front() {
        if let Some(next) = hosts.next() {
            inflight.push_back((next.clone(), spawn(next)));
        }
        let plan = t.await.unwrap_or_else(|e| HostPlan {
            host: h,
            error: Some(format!("internal error: {e}")),
            ..HostPlan::default()
        });
        pb.suspend(|| each(plan));
    }
    pb.finish_and_clear();
}

pub async fn run(a: PlanArgs) -> Exit {
    let inv = inventory_path(a.common.inventory.as_deref(), &a.common.stack);
    let s = match open_with(
        &a.common.stack,
        &inv,
        Options {
            limit: a.common.limit.clone(),
            parallel: a.parallel,
            allow_lockout_risk: a.allow_lockout_risk,
            selection: a.subset.selection(),
            force_prune: a.subset.force_prune,
            overrides: super::set_overrides(&a.common.set),
            ..Options::default()
        },
    ) {
        Ok(s) => Arc::new(s),
        Err(code) => return code,
    };
    if !a.json && a.out.is_none() {
        return print_streamed(&s, &inv, a.all, a.detailed_exitcode).await;
    }
    if a.json && a.out.is_none() {
        return json_streamed(&s, &inv, a.detailed_exitcode).await;
    }
    let mut plans = Vec::new();
    plan_each(s.clone(), |p| plans.push(p)).await;
    let doc = document_of(&s, &inv, plans);
    if a.json {
        match serde_json::to_string_pretty(&doc) {
            Ok(j) => super::out(&(j + "\n")),
            Err(e) => {
                eprintln!("keel: cannot print the plan as JSON: {e}");
                return Exit::Error;
            }
        }
    } else {
        super::out(&plan::render::plan(&doc, a.all));
        subset_note(&s);
    }
    if let Some(path) = &a.out {
        let choices = saved::Choices {
            force_prune: s.options.force_prune,
            allow_lockout_risk: s.options.allow_lockout_risk,
        };
        if let Err(e) = saved::save(&doc, choices, path) {
            eprintln!("keel: cannot save the plan to {}: {e}", path.display());
            return Exit::Error;
        }
        if !a.json {
            eprintln!(
                "Saved the plan to {}; apply exactly it with `keel apply {}`.",
                path.display(),
                path.display()
            );
        }
    }
    exit_of(
        doc.has_errors() || doc.summary.errors > 0,
        a.detailed_exitcode && doc.changes,
    )
}

/// The human plan, each host printed as soon as it and those before it
/// are planned and then let go: memory holds the hosts being planned, not
/// every host's plan (`--json` and `--out` need the whole document).
async fn print_streamed(
    s: &Arc<Session>,
    inv: &std::path::Path,
    all: bool,
    detailed: bool,
) -> Exit {
    let mut totals = document_of(s, inv, Vec::new());
    if s.project.stack.rollout.is_set() {
        totals.batches =
            session::batches::batches(&s.validated.hosts, s.project.stack.rollout.serial);
    }
    let (mut hosts, mut host_errors) = (0, false);
    plan_each(s.clone(), |h| {
        super::out(&(plan::render::host(&h, all) + "\n"));
        h.add_to(&mut totals.summary, &mut totals.changes);
        host_errors |= h.error.is_some();
        hosts += 1;
    })
    .await;
    super::out(&plan::render::footer(&totals, hosts));
    subset_note(s);
    exit_of(
        host_errors || totals.summary.errors > 0,
        detailed && totals.changes,
    )
}

/// `--json` without `--out`: the document written host by host
/// ([`super::plan_json`]), the same text as the whole document printed
/// at once.
async fn json_streamed(s: &Arc<Session>, inv: &std::path::Path, detailed: bool) -> Exit {
    let mut totals = document_of(s, inv, Vec::new());
    if s.project.stack.rollout.is_set() {
        totals.batches =
            session::batches::batches(&s.validated.hosts, s.project.stack.rollout.serial);
    }
    let mut write = |text: &str| super::out(text);
    let mut stream = match super::plan_json::JsonStream::start(&totals, &mut write) {
        Ok(js) => js,
        Err(e) => {
            eprintln!("keel: cannot print the plan as JSON: {e}");
            return Exit::Error;
        }
    };
    let (mut host_errors, mut failed) = (false, None);
    plan_each(s.clone(), |h| {
        if failed.is_none()
            && let Err(e) = stream.host(&h, &mut |text: &str| super::out(text))
        {
            failed = Some(e);
        }
        h.add_to(&mut totals.summary, &mut totals.changes);
        host_errors |= h.error.is_some();
    })
    .await;
    if let Some(e) = failed.or_else(|| stream.finish(&totals, &mut write).err()) {
        eprintln!("keel: cannot print the plan as JSON: {e}");
        return Exit::Error;
    }
    exit_of(
        host_errors || totals.summary.errors > 0,
        detailed && totals.changes,
    )
}

fn subset_note(s: &Session) {
    if !s.options.selection.is_empty() {
        eprintln!(
            "Planned a subset (--target/--tags) with what it needs; other resources are not shown and will not be changed."
        );
    }
}

fn exit_of(errors: bool, changes: bool) -> Exit {
    if errors {
        Exit::Error
    } else if changes {
        Exit::Changes
    } else {
        Exit::Ok
    }
}

/// Saved plans record absolute paths, so `keel apply FILE` works from any
/// directory.
fn absolute(p: &std::path::Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

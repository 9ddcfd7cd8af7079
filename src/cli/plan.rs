//! `keel plan`: what would change on each host; `--detailed-exitcode` for CI.

use super::{Common, inventory_path, report};
use crate::exit::Exit;
use crate::plan::{self, Plan, saved};
use crate::session::{self, HostWork, Options, Session};
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

/// Plan every host with a spinner per host on a terminal.
pub async fn plan_hosts(s: Arc<Session>) -> Vec<HostWork> {
    let mp = MultiProgress::new();
    let pb = mp.add(ProgressBar::new_spinner());
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(format!(
        "reading the live state of {} host(s)",
        s.validated.hosts.len()
    ));
    pb.enable_steady_tick(Duration::from_millis(120));
    let pb2 = pb.clone();
    let works = session::plan_all(s, move |w| pb2.println(format!("  planned {}", w.host))).await;
    pb.finish_and_clear();
    works
}

/// Build the plan document from the hosts' work.
pub fn document(s: &Session, inventory: &std::path::Path, works: &[HostWork]) -> Plan {
    let mut plan = Plan::new(
        s.project.stack.name.clone(),
        absolute(&s.project.stack.path),
        absolute(inventory),
        s.options.limit.clone(),
        works.iter().map(|w| w.plan.clone()).collect(),
    );
    plan.targets = s.options.selection.targets.clone();
    plan.tags = s.options.selection.tags.clone();
    plan.set = s.project.overrides.vars.clone();
    plan.release_override = s.project.overrides.release.clone();
    let rollout = &s.project.stack.rollout;
    if rollout.is_set() {
        let hosts: Vec<String> = works.iter().map(|w| w.host.clone()).collect();
        plan.batches = session::batches::batches(&hosts, rollout.serial);
    }
    plan
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
    let works = plan_hosts(s.clone()).await;
    let doc = document(&s, &inv, &works);
    for w in &works {
        if let Some(t) = &w.transport {
            t.close().await;
        }
    }
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
        if !s.options.selection.is_empty() {
            eprintln!(
                "Planned a subset (--target/--tags) with what it needs; other resources are not shown and will not be changed."
            );
        }
    }
    if let Some(path) = &a.out {
        if let Err(e) = saved::save(&doc, path) {
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
    if doc.has_errors() || doc.summary.errors > 0 {
        Exit::Error
    } else if a.detailed_exitcode && doc.changes {
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

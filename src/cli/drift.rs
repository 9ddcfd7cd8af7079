//! `keel drift`: are the hosts still as their stacks say? Over one stack,
//! or every stack of a project (`stacks/*.yaml`), reads each host once per
//! stack (one probe round trip, through the plan pipeline), with a bound on
//! hosts at once and a progress bar on a terminal, and prints a drift
//! report (human, JSON, JUnit XML, GitHub annotations; see
//! [`crate::report`]). Exit 0 when nothing drifted, 2 on drift, 1 when any
//! stack, host or resource could not be checked. A removal that pruning
//! refuses (a file changed by hand since keel wrote it) is drift: the host
//! was read, and differs from the stack.

use super::{inventory_path, plan::open_with};
use crate::exit::Exit;
use crate::plan::{HostPlan, ResourcePlan};
use crate::report::{self, Context, DriftReport, HostReport, Location, StackReport};
use crate::secret::Redactor;
use crate::session::{self, Session};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to print the report on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DriftFormat {
    Human,
    Json,
    Junit,
    Github,
}

pub struct DriftArgs {
    pub path: Option<PathBuf>,
    pub inventory: Option<PathBuf>,
    pub limit: Option<String>,
    pub format: DriftFormat,
    pub junit: Option<PathBuf>,
    pub parallel: usize,
    pub allow_lockout_risk: bool,
}

/// The stack files to check: the file given; or a folder's `stacks/*.yaml`
/// (or its own `*.yaml` when it has no `stacks/`); or `./stacks/*.yaml`.
pub fn stack_files(path: Option<&Path>) -> Result<Vec<PathBuf>, String> {
    let dir = match path {
        Some(p) if p.is_file() => return Ok(vec![p.to_path_buf()]),
        Some(p) if p.is_dir() => {
            let sub = p.join("stacks");
            if sub.is_dir() { sub } else { p.to_path_buf() }
        }
        Some(p) => {
            return Err(format!(
                "{} does not exist: give a stack file or a project folder",
                p.display()
            ));
        }
        None => {
            let d = PathBuf::from("stacks");
            if !d.is_dir() {
                return Err(
                    "no stack given and no stacks/ folder here: run `keel drift STACK.yaml` or `keel drift PROJECT_DIR`"
                        .into(),
                );
            }
            d
        }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "no stacks in {}: expected *.yaml stack files there",
            dir.display()
        ));
    }
    Ok(files)
}

/// One host of one stack, read.
struct Checked {
    stack: usize,
    host: HostReport,
}

/// Where each resource of a planned host is declared, and whether its
/// removal was refused.
fn contexts(w: &crate::plan::HostWork) -> Vec<Context> {
    w.resolved
        .instances
        .iter()
        .map(|i| {
            let (line, _) = i.origin.source.line_col(i.span.offset);
            Context {
                at: Some(Location {
                    file: i.origin.source.name.clone(),
                    line,
                }),
                refused: crate::ledger::is_refused(&w.resolved, &i.address),
                pruned: crate::ledger::is_pruned(&w.resolved, &i.address),
            }
        })
        .collect()
}

/// The host's plan as drift sees it: refused removals (a file changed by
/// hand, keel's way in) are drift, so the preflight error they alone cause
/// (the host left untouched by apply) is not a host error; the preflight
/// error of whatever else failed stays.
fn drift_plan(w: &crate::plan::HostWork, cx: &[Context]) -> HostPlan {
    let p = &w.plan;
    let is_preflight =
        p.error.is_some() && p.error == session::preflight_error(&w.resolved, &p.resources);
    if !is_preflight || !cx.iter().any(|c| c.refused) {
        return p.clone();
    }
    let rest: Vec<ResourcePlan> = p
        .resources
        .iter()
        .zip(cx.iter().map(|c| c.refused).chain(std::iter::repeat(false)))
        .map(|(r, refused)| ResourcePlan {
            error: if refused { None } else { r.error.clone() },
            ..r.clone()
        })
        .collect();
    HostPlan {
        error: session::preflight_error(&w.resolved, &rest),
        ..p.clone()
    }
}

fn progress(total: usize) -> ProgressBar {
    let pb = ProgressBar::new(total as u64);
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} checking for drift [{bar:30}] {pos}/{len} hosts  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// Read every host of every opened stack, at most `parallel` at once.
async fn check(sessions: &[(usize, Arc<Session>)], parallel: usize) -> Vec<Checked> {
    let total = sessions.iter().map(|(_, s)| s.validated.hosts.len()).sum();
    let pb = progress(total);
    let sem = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut tasks = Vec::new();
    for (si, s) in sessions {
        for h in s.validated.hosts.clone() {
            let (s, sem, pb, si) = (s.clone(), sem.clone(), pb.clone(), *si);
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire().await;
                let started = Instant::now();
                let w = session::plan_host(&s, &h).await;
                let seconds = started.elapsed().as_secs_f64();
                if let Some(t) = &w.transport {
                    t.close().await;
                }
                pb.inc(1);
                pb.set_message(format!("{} done", w.host));
                let cx = contexts(&w);
                Checked {
                    stack: si,
                    host: HostReport::from_plan(&drift_plan(&w, &cx), &cx, seconds),
                }
            }));
        }
    }
    let mut out = Vec::new();
    for t in tasks {
        match t.await {
            Ok(c) => out.push(c),
            Err(e) => eprintln!("keel: internal error while checking a host: {e}"),
        }
    }
    pb.finish_and_clear();
    out
}

pub async fn run(a: DriftArgs) -> Exit {
    let files = match stack_files(a.path.as_deref()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("keel: {e}");
            return Exit::Error;
        }
    };
    let mut stacks = Vec::new();
    let mut sessions = Vec::new();
    let mut secrets = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let inv = inventory_path(a.inventory.as_deref(), file);
        let path = crate::config::display_path(file);
        match open_with(
            file,
            &inv,
            crate::session::Options {
                limit: a.limit.clone(),
                parallel: a.parallel,
                allow_lockout_risk: a.allow_lockout_risk,
                ..Default::default()
            },
        ) {
            Ok(s) => {
                secrets.extend(s.secrets.values().cloned());
                stacks.push(StackReport {
                    stack: s.project.stack.name.clone(),
                    stack_path: path,
                    error: None,
                    hosts: Vec::new(),
                });
                sessions.push((i, Arc::new(s)));
            }
            Err(_) => stacks.push(StackReport {
                stack: file
                    .file_stem()
                    .map_or_else(|| path.clone(), |s| s.to_string_lossy().into_owned()),
                stack_path: path.clone(),
                error: Some(format!(
                    "{path} could not be loaded (the problems are printed above, or run `keel validate {path}`)"
                )),
                hosts: Vec::new(),
            }),
        }
    }
    for c in check(&sessions, a.parallel).await {
        stacks[c.stack].hosts.push(c.host);
    }
    let doc = DriftReport::new(stacks);
    let redactor = Redactor::new(secrets);
    let stdout = match a.format {
        DriftFormat::Human => report::human::render(&doc),
        DriftFormat::Json => match serde_json::to_string_pretty(&doc) {
            Ok(j) => j + "\n",
            Err(e) => {
                eprintln!("keel: cannot print the report as JSON: {e}");
                return Exit::Error;
            }
        },
        DriftFormat::Junit => report::junit::render(&doc),
        DriftFormat::Github => report::github::render(&doc),
    };
    super::out(&redactor.redact(&stdout));
    if a.format != DriftFormat::Human {
        eprint!("{}", redactor.redact(&report::human::table(&doc)));
    }
    if let Some(path) = &a.junit {
        let xml = redactor.redact(&report::junit::render(&doc));
        if let Err(e) = write_file(path, &xml) {
            eprintln!(
                "keel: cannot write the JUnit report to {}: {e}",
                path.display()
            );
            return Exit::Error;
        }
    }
    doc.exit_code()
}

/// Write a report file through a temporary file beside it, then rename.
fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_folder_means_its_stacks() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("stacks")).unwrap();
        for f in ["web.yaml", "db.yml", "notes.txt"] {
            std::fs::write(d.path().join("stacks").join(f), "").unwrap();
        }
        let names = |v: Vec<PathBuf>| -> Vec<String> {
            v.iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            names(stack_files(Some(d.path())).unwrap()),
            ["db.yml", "web.yaml"]
        );
        assert_eq!(
            names(stack_files(Some(&d.path().join("stacks/web.yaml"))).unwrap()),
            ["web.yaml"]
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(
            stack_files(Some(empty.path()))
                .unwrap_err()
                .contains("no stacks in")
        );
        assert!(
            stack_files(Some(&d.path().join("nope")))
                .unwrap_err()
                .contains("does not exist")
        );
    }
}

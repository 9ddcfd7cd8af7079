//! `keel verify`: run a stack's checks alone — nothing is probed beyond
//! what the templates need, nothing changes, no confirmation — and the
//! hook that runs them after `keel apply`. Exit 0 when every check of
//! every host passed, 1 otherwise (a failed check, an unreachable host, a
//! stack that does not resolve): for monitoring and CI.

use super::{Common, inventory_path, report};
use crate::check::{self, CheckReport};
use crate::exit::Exit;
use crate::plan::HostWork;
use crate::session::{Options, Session};
use serde::Serialize;
use std::sync::Arc;

pub struct VerifyArgs {
    pub common: Common,
    pub json: bool,
    pub parallel: usize,
}

/// One host's part of `keel verify --json`.
#[derive(Debug, Serialize)]
struct HostChecks {
    host: String,
    /// Why the checks could not run (connection, facts, resolution).
    error: Option<String>,
    checks: Vec<CheckReport>,
}

pub async fn run(a: VerifyArgs) -> Exit {
    let inv = inventory_path(a.common.inventory.as_deref(), &a.common.stack);
    // Verifying changes nothing: a lockout risk in the stack is not ours
    // to refuse here (plan and apply do), so it is not even a warning.
    let s = match Session::open(
        &a.common.stack,
        &inv,
        Options {
            limit: a.common.limit.clone(),
            parallel: a.parallel,
            allow_lockout_risk: true,
            overrides: super::set_overrides(&a.common.set),
            ..Options::default()
        },
    ) {
        Ok(s) => Arc::new(s),
        Err(d) => {
            report(&d);
            return Exit::Error;
        }
    };
    let sem = Arc::new(tokio::sync::Semaphore::new(a.parallel.max(1)));
    let mut tasks = Vec::new();
    for host in s.validated.hosts.clone() {
        let (s, sem) = (s.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await;
            let t = crate::session::check_target(&s, &host).await;
            let checks = match &t.error {
                Some(_) => Vec::new(),
                None => {
                    check::run_host(
                        &t.host,
                        &t.address,
                        &t.checks,
                        t.transport.clone(),
                        &s.redactor,
                        &t.tainted,
                    )
                    .await
                }
            };
            if let Some(c) = &t.transport {
                c.close().await;
            }
            HostChecks {
                host: t.host,
                error: t.error,
                checks,
            }
        }));
    }
    let mut hosts = Vec::new();
    for t in tasks {
        hosts.push(t.await.unwrap_or_else(|e| HostChecks {
            host: "?".into(),
            error: Some(format!("internal error: {e}")),
            checks: Vec::new(),
        }));
    }
    let passed = hosts
        .iter()
        .all(|h| h.error.is_none() && h.checks.iter().all(|c| c.passed));
    let total: usize = hosts.iter().map(|h| h.checks.len()).sum();
    if a.json {
        let doc = serde_json::json!({
            "format_version": 1,
            "stack": s.project.stack.name,
            "passed": passed,
            "hosts": hosts,
        });
        super::out(&format!("{doc}\n"));
    } else {
        let reports: Vec<CheckReport> = hosts.iter().flat_map(|h| h.checks.clone()).collect();
        let mut text = check::render(&reports);
        let failed = reports.iter().filter(|r| !r.passed).count();
        text.push_str(&format!(
            "\n{total} check{}: {} passed, {failed} failed\n",
            if total == 1 { "" } else { "s" },
            total - failed
        ));
        super::out(&text);
    }
    for h in &hosts {
        if let Some(e) = &h.error {
            eprintln!("keel: {}: cannot run its checks: {e}", h.host);
        }
    }
    if total == 0 && hosts.iter().all(|h| h.error.is_none()) {
        eprintln!("keel: the stack declares no `check` for these hosts: nothing was verified.");
    }
    for f in check::failures(
        &hosts
            .iter()
            .flat_map(|h| h.checks.clone())
            .collect::<Vec<_>>(),
    ) {
        eprintln!("keel: {f}");
    }
    Exit::error_if(!passed)
}

/// After `keel apply`: run the checks of every host that applied without
/// failure, on the connection apply used (it may have moved to a new port
/// or user). Prints them unless `json`; failures go to stderr.
pub async fn after_apply(
    s: &Session,
    works: &[HostWork],
    failed_hosts: &[String],
    json: bool,
) -> Vec<CheckReport> {
    let runs = works
        .iter()
        .filter(|w| !failed_hosts.contains(&w.host))
        .map(|w| s.run_checks(w));
    let reports: Vec<CheckReport> = futures::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    if !json && !reports.is_empty() {
        super::out(&format!("\nChecks:\n{}", check::render(&reports)));
    }
    for f in check::failures(&reports) {
        eprintln!("keel: {f}");
    }
    reports
}

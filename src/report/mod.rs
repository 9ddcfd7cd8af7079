//! Drift reports: what `keel drift` found on every host of one or more
//! stacks, as one document that CI-oriented renderers print.
//!
//! The report is built from plans (see [`crate::plan`]): a resource whose
//! plan would change something has drifted; a host that could not be read
//! is an error, never "in sync". Every text in it comes from the plan, where
//! values rendered from secrets are already masked; the renderers' output
//! goes through the session's redactor once more before it is printed.
//!
//! - [`human`]: for people, with a summary table (host, changes, errors, time);
//! - JSON: [`DriftReport`] serialized (`format_version` [`FORMAT_VERSION`],
//!   described in README, "Drift detection in CI");
//! - [`junit`]: JUnit XML, one test case per host × resource;
//! - [`github`]: GitHub Actions workflow-command annotations at the stack's
//!   file and line of each drifted resource.

pub mod github;
pub mod human;
pub mod junit;

use crate::natural;
use crate::plan::{AttrChangeOut, HostPlan, ResourcePlan};
use crate::resources::Action;
use serde::Serialize;

/// Version of the JSON drift report. Bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;

/// The state of a host or a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    InSync,
    Drift,
    Error,
}

/// A whole drift report.
#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    pub format_version: u32,
    pub keel_version: String,
    /// Some resource drifted.
    pub drift: bool,
    /// Some stack, host or resource could not be checked.
    pub error: bool,
    pub summary: Totals,
    pub stacks: Vec<StackReport>,
}

/// Counts over the whole report; a host managed by two stacks counts twice.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    pub stacks: usize,
    pub hosts: usize,
    pub hosts_in_sync: usize,
    pub hosts_drifted: usize,
    pub hosts_error: usize,
    pub resources: usize,
    pub resources_drifted: usize,
    pub resources_error: usize,
}

/// One stack: its hosts, or why it could not be loaded.
#[derive(Debug, Clone, Serialize)]
pub struct StackReport {
    pub stack: String,
    pub stack_path: String,
    /// The stack (or its inventory, modules, secrets) could not be loaded.
    pub error: Option<String>,
    pub hosts: Vec<HostReport>,
}

/// One host as one stack sees it.
#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    pub host: String,
    pub transport: String,
    pub status: Status,
    /// Unreachable, probe failed, preflight failed.
    pub error: Option<String>,
    /// Resources that drifted.
    pub changes: usize,
    /// Resources that could not be read, plus one for a host error.
    pub errors: usize,
    /// Wall-clock seconds spent reading this host.
    pub seconds: f64,
    pub round_trips: u64,
    pub resources: Vec<ResourceReport>,
}

/// Where a resource is declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
}

/// One resource of one host.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceReport {
    pub address: String,
    pub kind: String,
    pub module: Option<String>,
    pub status: Status,
    /// What `keel apply` would do about it.
    pub action: Action,
    pub symbol: String,
    /// The stack or module file and line that declare it.
    pub file: Option<String>,
    pub line: Option<usize>,
    pub attributes: Vec<AttrChangeOut>,
    /// Unified diff of a file's content, or `(sensitive)`.
    pub diff: Option<String>,
    /// What else was found (a command's guard, unmanaged firewall rules).
    pub detail: Option<String>,
    pub error: Option<String>,
    pub sensitive: bool,
    /// keel created it and the stack no longer declares it: pruning removes
    /// it (`file` and `line` are null, nothing declares it any more).
    pub pruned: bool,
}

/// What is known of a resource besides its plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// Where it is declared.
    pub at: Option<Location>,
    /// Its removal was planned and refused ([`crate::ledger::is_refused`]):
    /// the plan's error says why (changed by hand, or keel's way in).
    pub refused: bool,
    /// A removal pruning planned ([`crate::ledger::is_pruned`]): keel
    /// created it and the stack no longer declares it, so no line does.
    pub pruned: bool,
}

impl ResourceReport {
    /// From a resource's plan and what else is known of it. A removal
    /// refused by pruning's guard is drift (the host has what the stack no
    /// longer declares), its reason the detail; not an error: the host
    /// was read.
    pub fn from_plan(r: &ResourcePlan, cx: Context) -> Self {
        // What apply leaves alone (rules keel did not add) is drift all the same.
        let unmanaged = r.action == Action::NoOp && !r.unmanaged.is_empty();
        let refused = cx.refused && r.action == Action::Delete && r.error.is_some();
        let status = if r.error.is_some() && !refused {
            Status::Error
        } else if r.action.is_change() || unmanaged {
            Status::Drift
        } else {
            Status::InSync
        };
        let detail = match (&r.reason, unmanaged) {
            _ if refused => r.error.clone(),
            (_, true) => Some(format!(
                "on the host, not in the stack: {}",
                r.unmanaged.join("; ")
            )),
            (reason, false) if status == Status::Drift => reason.clone(),
            _ => None,
        };
        let (file, line) = match cx.at {
            Some(l) if !cx.pruned => (Some(l.file), Some(l.line)),
            _ => (None, None),
        };
        ResourceReport {
            address: r.address.clone(),
            kind: r.kind.clone(),
            module: r.module.clone(),
            status,
            action: r.action,
            symbol: r.symbol.clone(),
            file,
            line,
            attributes: r.attributes.clone(),
            diff: r.diff.clone(),
            detail,
            error: if refused { None } else { r.error.clone() },
            sensitive: r.sensitive,
            pruned: cx.pruned,
        }
    }

    /// What drifted, one finding a line: `mode: 0644 → 0600`, `content
    /// differs`, the detail; or the error.
    pub fn findings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(e) = &self.error {
            out.push(format!("error: {e}"));
            return out;
        }
        if self.status != Status::Drift {
            return out;
        }
        if matches!(self.action, Action::Create) {
            out.push("missing on the host".into());
        } else if self.pruned {
            out.push("keel created it and the stack no longer declares it".into());
        } else if matches!(self.action, Action::Delete) {
            out.push("present on the host, the stack says absent".into());
        }
        for a in &self.attributes {
            out.push(format!(
                "{}: {} → {}",
                a.name,
                a.before.as_deref().unwrap_or("(none)"),
                a.after.as_deref().unwrap_or("(none)")
            ));
        }
        if self.diff.is_some() && !matches!(self.action, Action::Create) {
            out.push("content differs".into());
        }
        if let Some(d) = &self.detail {
            out.push(d.clone());
        }
        if out.is_empty() {
            out.push(format!("{} ({})", self.action.verb(), self.symbol));
        }
        out
    }
}

impl HostReport {
    /// From a host's plan, what else is known of its resources (in plan
    /// order) and the time it took.
    pub fn from_plan(p: &HostPlan, contexts: &[Context], seconds: f64) -> Self {
        let resources: Vec<ResourceReport> = p
            .resources
            .iter()
            .enumerate()
            .map(|(i, r)| {
                ResourceReport::from_plan(r, contexts.get(i).cloned().unwrap_or_default())
            })
            .collect();
        let changes = resources
            .iter()
            .filter(|r| r.status == Status::Drift)
            .count();
        let errors = resources
            .iter()
            .filter(|r| r.status == Status::Error)
            .count()
            + usize::from(p.error.is_some());
        let status = if errors > 0 {
            Status::Error
        } else if changes > 0 {
            Status::Drift
        } else {
            Status::InSync
        };
        HostReport {
            host: p.host.clone(),
            transport: p.transport.clone(),
            status,
            error: p.error.clone(),
            changes,
            errors,
            seconds,
            round_trips: p.round_trips.facts + p.round_trips.probe,
            resources,
        }
    }
}

impl DriftReport {
    /// The report over these stacks (hosts in natural order of their names).
    pub fn new(mut stacks: Vec<StackReport>) -> Self {
        let mut t = Totals {
            stacks: stacks.len(),
            ..Totals::default()
        };
        let mut error = false;
        for s in &mut stacks {
            s.hosts.sort_by(|a, b| natural::cmp(&a.host, &b.host));
            error |= s.error.is_some();
            for h in &s.hosts {
                t.hosts += 1;
                match h.status {
                    Status::InSync => t.hosts_in_sync += 1,
                    Status::Drift => t.hosts_drifted += 1,
                    Status::Error => t.hosts_error += 1,
                }
                for r in &h.resources {
                    t.resources += 1;
                    match r.status {
                        Status::InSync => {}
                        Status::Drift => t.resources_drifted += 1,
                        Status::Error => t.resources_error += 1,
                    }
                }
            }
        }
        error |= t.hosts_error > 0;
        DriftReport {
            format_version: FORMAT_VERSION,
            keel_version: env!("CARGO_PKG_VERSION").to_string(),
            drift: t.resources_drifted > 0,
            error,
            summary: t,
            stacks,
        }
    }

    /// 1 on any error, 2 on drift, 0 when every host matches its stacks.
    pub fn exit_code(&self) -> crate::exit::Exit {
        use crate::exit::Exit;
        if self.error {
            Exit::Error
        } else if self.drift {
            Exit::Changes
        } else {
            Exit::Ok
        }
    }
}

#[cfg(test)]
pub(crate) mod fixture {
    //! A small report with a drifted file, an in-sync package, an
    //! unmanaged firewall rule and an unreachable host.
    use super::*;
    use crate::plan::{RoundTrips, Summary};

    pub fn resource(address: &str, action: Action) -> ResourcePlan {
        let (kind, name) = address.split_once('[').unwrap();
        ResourcePlan {
            address: address.into(),
            kind: kind.into(),
            name: name.trim_end_matches(']').into(),
            module: None,
            action,
            symbol: action.symbol().to_string(),
            attributes: Vec::new(),
            diff: None,
            reason: None,
            known_after_apply: None,
            sensitive: false,
            depends_on: Vec::new(),
            commands: Vec::new(),
            fingerprint: String::new(),
            error: None,
            unmanaged: Vec::new(),
        }
    }

    pub fn host(name: &str, resources: Vec<ResourcePlan>, error: Option<&str>) -> HostPlan {
        HostPlan {
            host: name.into(),
            transport: "local".into(),
            round_trips: RoundTrips { facts: 0, probe: 1 },
            error: error.map(Into::into),
            desired_hash: String::new(),
            resources,
            summary: Summary::default(),
            skipped: Vec::new(),
            release: None,
        }
    }

    pub fn report() -> DriftReport {
        let mut file = resource("file[/etc/app.conf]", Action::Update);
        file.attributes.push(AttrChangeOut {
            name: "mode".into(),
            before: Some("0600".into()),
            after: Some("0644".into()),
        });
        file.diff =
            Some("--- /etc/app.conf\n+++ /etc/app.conf (planned)\n-a <b> & \"c\"\n+a\n".into());
        let pkg = resource("package[nginx]", Action::NoOp);
        let mut ufw = resource("ufw[firewall]", Action::NoOp);
        ufw.reason =
            Some("active, 1 keel rule in place; unmanaged rule kept: allow 8080/tcp".into());
        ufw.unmanaged = vec!["allow 8080/tcp".into()];
        let at = |line| Context {
            at: Some(Location {
                file: "stacks/web.yaml".into(),
                line,
            }),
            ..Context::default()
        };
        let web10 = host("web-10", vec![file, pkg, ufw], None);
        let web2 = host(
            "web-2",
            Vec::new(),
            Some("cannot connect: Connection refused"),
        );
        DriftReport::new(vec![StackReport {
            stack: "web".into(),
            stack_path: "stacks/web.yaml".into(),
            error: None,
            hosts: vec![
                HostReport::from_plan(&web10, &[at(7), at(12), at(15)], 1.25),
                HostReport::from_plan(&web2, &[], 15.0),
            ],
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_counts_and_exit_code() {
        let r = fixture::report();
        let s = &r.stacks[0];
        assert_eq!(
            s.hosts.iter().map(|h| h.host.as_str()).collect::<Vec<_>>(),
            ["web-2", "web-10"],
            "natural order"
        );
        assert_eq!(s.hosts[0].status, Status::Error);
        assert_eq!(s.hosts[0].errors, 1);
        let web10 = &s.hosts[1];
        assert_eq!(web10.status, Status::Drift);
        assert_eq!(web10.changes, 2, "the file and the unmanaged ufw rule");
        assert_eq!(web10.resources[1].status, Status::InSync);
        assert_eq!(
            web10.resources[2].detail.as_deref(),
            Some("on the host, not in the stack: allow 8080/tcp")
        );
        assert_eq!(
            web10.resources[0].findings(),
            ["mode: 0600 → 0644", "content differs"]
        );
        assert_eq!(r.summary.hosts_error, 1);
        assert_eq!(r.summary.resources_drifted, 2);
        assert!(r.drift && r.error);
        assert_eq!(
            r.exit_code(),
            crate::exit::Exit::Error,
            "an unreachable host is an error"
        );
    }

    #[test]
    fn no_drift_is_exit_0_and_drift_alone_is_2() {
        let clean = fixture::host(
            "a",
            vec![fixture::resource("package[x]", Action::NoOp)],
            None,
        );
        let stack = |h: &HostPlan| StackReport {
            stack: "s".into(),
            stack_path: "s.yaml".into(),
            error: None,
            hosts: vec![HostReport::from_plan(h, &[], 0.1)],
        };
        assert_eq!(
            DriftReport::new(vec![stack(&clean)]).exit_code(),
            crate::exit::Exit::Ok
        );
        let drifted = fixture::host(
            "a",
            vec![fixture::resource("file[/x]", Action::Create)],
            None,
        );
        assert_eq!(
            DriftReport::new(vec![stack(&drifted)]).exit_code(),
            crate::exit::Exit::Changes
        );
        // A removal pruning refuses (changed by hand): drift, with why.
        let mut kept = fixture::resource("file[/x]", Action::Delete);
        kept.error = Some("changed by hand since keel wrote it: `--force-prune`".into());
        // Pruned, so no line declares it: whatever `at` says is dropped.
        let refused = Context {
            at: Some(Location {
                file: "stacks/web.yaml".into(),
                line: 1,
            }),
            refused: true,
            pruned: true,
        };
        let host = fixture::host("a", vec![kept.clone()], None);
        let drifted = StackReport {
            hosts: vec![HostReport::from_plan(
                &host,
                std::slice::from_ref(&refused),
                0.1,
            )],
            ..stack(&clean)
        };
        let r = DriftReport::new(vec![drifted]);
        let res = &r.stacks[0].hosts[0].resources[0];
        assert_eq!((res.status, res.error.as_deref()), (Status::Drift, None));
        assert_eq!(res.detail, kept.error);
        assert_eq!(
            (res.file.as_deref(), res.line, res.pruned),
            (None, None, true)
        );
        assert_eq!(
            res.findings(),
            [
                "keel created it and the stack no longer declares it",
                "changed by hand since keel wrote it: `--force-prune`"
            ]
        );
        assert_eq!(r.stacks[0].hosts[0].status, Status::Drift);
        assert_eq!(
            (r.summary.resources_drifted, r.summary.resources_error),
            (1, 0)
        );
        assert_eq!(r.exit_code(), crate::exit::Exit::Changes);
        // Not refused, the same error is one.
        let r = DriftReport::new(vec![StackReport {
            hosts: vec![HostReport::from_plan(&host, &[], 0.1)],
            ..stack(&clean)
        }]);
        assert_eq!(r.exit_code(), crate::exit::Exit::Error);
        let mut broken = stack(&clean);
        broken.error = Some("cannot load".into());
        assert_eq!(
            DriftReport::new(vec![broken]).exit_code(),
            crate::exit::Exit::Error
        );
    }
}

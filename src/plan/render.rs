//! Printing a plan for people: per host, each changing resource with its
//! action marker, attribute changes and content diff; coloured on a
//! terminal (console decides), plain otherwise.

use super::{HostPlan, Plan, ResourcePlan, Summary};
use crate::resources::Action;
use console::style;
use std::fmt::Write as _;

fn marker(a: Action) -> String {
    let s = a.symbol().to_string();
    match a {
        Action::Create => style(s).green().bold().to_string(),
        Action::Update => style(s).yellow().bold().to_string(),
        Action::Delete => style(s).red().bold().to_string(),
        Action::Run => style(s).magenta().bold().to_string(),
        Action::NoOp => style(s).dim().to_string(),
    }
}

fn value(v: &Option<String>) -> String {
    match v {
        None => style("(none)").dim().to_string(),
        Some(s) if s.contains('\n') => format!("{:?}", s),
        Some(s) => s.clone(),
    }
}

fn resource(out: &mut String, r: &ResourcePlan) {
    let _ = write!(out, "  {} {}", marker(r.action), style(&r.address).bold());
    if let Some(m) = &r.module {
        let _ = write!(out, "  {}", style(format!("(module.{m})")).dim());
    }
    if r.action == Action::Run {
        let _ = write!(out, "  will run");
    }
    out.push('\n');
    if let Some(e) = &r.error {
        let _ = writeln!(out, "      {} {e}", style("error:").red().bold());
    }
    if let Some(reason) = &r.reason {
        let _ = writeln!(out, "      {}", style(reason).dim());
    }
    for a in &r.attributes {
        let _ = writeln!(
            out,
            "      {}: {} → {}",
            a.name,
            value(&a.before),
            value(&a.after)
        );
    }
    if let Some(k) = &r.known_after_apply {
        let _ = writeln!(out, "      {} {k}", style("known after apply:").cyan());
    }
    if let Some(d) = &r.diff {
        for line in d.lines() {
            let styled = if line.starts_with("+++") || line.starts_with("---") {
                style(line).bold().to_string()
            } else if line.starts_with('+') {
                style(line).green().to_string()
            } else if line.starts_with('-') {
                style(line).red().to_string()
            } else if line.starts_with("@@") {
                style(line).cyan().to_string()
            } else {
                line.to_string()
            };
            let _ = writeln!(out, "      {styled}");
        }
    }
}

fn summary_line(s: &Summary) -> String {
    format!(
        "{} to create, {} to update, {} to remove, {} to run, {} unchanged{}",
        s.create,
        s.update,
        s.delete,
        s.run,
        s.no_op,
        if s.errors > 0 {
            format!(
                ", {} error{}",
                s.errors,
                if s.errors == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        }
    )
}

/// An unchanged resource that says something on the host defeats or
/// overrides what it declares (a `Match` block, a later sysctl file, a
/// sudo rule by hand): listed in every plan, not only with `--all`.
fn warns(r: &ResourcePlan) -> bool {
    r.reason.as_deref().is_some_and(|x| x.contains("warning: "))
}

/// One host's part of the plan. With `all`, unchanged resources are
/// listed; without, those with a warning are.
pub fn host(h: &HostPlan, all: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}",
        style(&h.host).bold().underlined(),
        style(format!(
            "({}; {} probe round trip{}{})",
            h.transport,
            h.round_trips.probe,
            if h.round_trips.probe == 1 { "" } else { "s" },
            if h.round_trips.facts > 0 {
                format!(", {} for facts", h.round_trips.facts)
            } else {
                String::new()
            }
        ))
        .dim()
    );
    if let Some(e) = &h.error {
        let _ = writeln!(out, "  {} {e}", style("error:").red().bold());
        return out;
    }
    if let Some(r) = &h.release {
        let line = format!("release: {}", r.describe());
        if r.changes() {
            let _ = writeln!(out, "  {} {}", marker(Action::Update), style(line).bold());
        } else {
            let _ = writeln!(out, "  {} {}", marker(Action::NoOp), line);
        }
    }
    for r in &h.resources {
        if all || r.action.is_change() || r.error.is_some() || warns(r) {
            resource(&mut out, r);
        }
    }
    if !all {
        // Checks (the `check` kind) change nothing: listed as what runs
        // after apply, never as a change.
        for r in h
            .resources
            .iter()
            .filter(|r| r.kind == "check" && r.error.is_none())
        {
            let reason = r.reason.as_deref().unwrap_or("check after apply");
            let _ = writeln!(
                out,
                "  {} {}  {}",
                style("?").cyan(),
                style(&r.address).bold(),
                style(reason).dim()
            );
        }
    }
    if all {
        for s in &h.skipped {
            let _ = writeln!(out, "  {} {s} skipped (when: false)", style("·").dim());
        }
    }
    if !all && h.summary.no_op > 0 {
        let _ = writeln!(
            out,
            "  {} {} resource{} unchanged",
            marker(Action::NoOp),
            h.summary.no_op,
            if h.summary.no_op == 1 { "" } else { "s" }
        );
    }
    out
}

/// The whole plan.
pub fn plan(p: &Plan, all: bool) -> String {
    let mut out = String::new();
    for h in &p.hosts {
        out.push_str(&host(h, all));
        out.push('\n');
    }
    out.push_str(&footer(p, p.hosts.len()));
    out
}

/// What follows the hosts of a plan: its rollout batches and totals
/// (`p.hosts` is not read: a streamed plan has let go of them).
pub fn footer(p: &Plan, hosts: usize) -> String {
    let mut out = describe_batches(&p.batches);
    if p.changes {
        let _ = writeln!(out, "Plan: {}.", summary_line(&p.summary));
    } else {
        let _ = writeln!(
            out,
            "{} {}",
            style("No changes.").green().bold(),
            format_args!(
                "{} resource{} on {} host{} match the stack.",
                p.summary.no_op,
                if p.summary.no_op == 1 { "" } else { "s" },
                hosts,
                if hosts == 1 { "" } else { "s" }
            )
        );
    }
    out
}

pub fn summary(s: &Summary) -> String {
    summary_line(s)
}

/// `batch 1/3: web-1, web-2` lines for the plan.
fn describe_batches(batches: &[Vec<String>]) -> String {
    let n = batches.len();
    batches
        .iter()
        .enumerate()
        .map(|(i, b)| format!("batch {}/{n}: {}\n", i + 1, b.join(", ")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_resource_with_a_warning_is_listed() {
        use crate::report::fixture;
        let mut warned = fixture::resource("sysctl[vm.swappiness]", Action::NoOp);
        warned.reason =
            Some("warning: /etc/sysctl.conf:3 sets 60; remove or change that line".into());
        let quiet = fixture::resource("package[cron]", Action::NoOp);
        let h = fixture::host("web-1", vec![warned, quiet], None);
        let text = console::strip_ansi_codes(&host(&h, false)).to_string();
        assert!(text.contains("sysctl[vm.swappiness]"), "{text}");
        assert!(
            text.contains("warning: /etc/sysctl.conf:3 sets 60"),
            "{text}"
        );
        assert!(!text.contains("package[cron]"), "{text}");
    }

    #[test]
    fn plan_lines_number_the_batches() {
        let b = vec![
            vec!["web-1".to_string(), "web-2".to_string()],
            vec!["web-3".to_string()],
        ];
        assert_eq!(
            describe_batches(&b),
            "batch 1/2: web-1, web-2\nbatch 2/2: web-3\n"
        );
    }
}

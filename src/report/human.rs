//! A drift report for people: per stack and host, what drifted (with the
//! file:line that declares it, the attribute changes and diffs) and what
//! could not be checked, then a summary table — host, stack, status,
//! changes, errors, time — with hosts in natural order.

use super::{DriftReport, Status};
use crate::natural;
use console::style;
use std::fmt::Write as _;

fn status_word(s: Status) -> String {
    match s {
        Status::InSync => style("in sync").green().to_string(),
        Status::Drift => style("drift").yellow().bold().to_string(),
        Status::Error => style("error").red().bold().to_string(),
    }
}

/// What drifted, host by host (hosts in sync get one line).
pub fn details(r: &DriftReport) -> String {
    let mut out = String::new();
    for s in &r.stacks {
        let _ = writeln!(out, "{} {}", style("stack").bold(), style(&s.stack).bold());
        if let Some(e) = &s.error {
            let _ = writeln!(out, "  {} {e}", style("error:").red().bold());
        }
        for h in &s.hosts {
            let _ = writeln!(out, "  {} {}", style(&h.host).bold(), status_word(h.status));
            if let Some(e) = &h.error {
                let _ = writeln!(out, "    {} {e}", style("error:").red().bold());
            }
            for res in h.resources.iter().filter(|x| x.status != Status::InSync) {
                let at = match (&res.file, res.line) {
                    (Some(f), Some(l)) => format!("  {}", style(format!("{f}:{l}")).dim()),
                    _ if res.pruned => format!("  {}", style("(no longer in the stack)").dim()),
                    _ => String::new(),
                };
                let _ = writeln!(out, "    {} {}{at}", res.symbol, style(&res.address).bold());
                for f in res.findings() {
                    let _ = writeln!(out, "        {f}");
                }
                if let Some(d) = &res.diff {
                    for line in d.lines() {
                        let _ = writeln!(out, "        {line}");
                    }
                }
            }
        }
    }
    out
}

fn pad(s: &str, w: usize) -> String {
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(w.saturating_sub(n)))
}

/// The summary table, one row per host and stack, hosts in natural order.
pub fn table(r: &DriftReport) -> String {
    let mut rows: Vec<[String; 6]> = r
        .stacks
        .iter()
        .flat_map(|s| {
            s.hosts.iter().map(move |h| {
                [
                    h.host.clone(),
                    s.stack.clone(),
                    match h.status {
                        Status::InSync => "in sync",
                        Status::Drift => "drift",
                        Status::Error => "error",
                    }
                    .to_string(),
                    h.changes.to_string(),
                    h.errors.to_string(),
                    format!("{:.1}s", h.seconds),
                ]
            })
        })
        .collect();
    rows.sort_by(|a, b| natural::cmp(&a[0], &b[0]).then_with(|| a[1].cmp(&b[1])));
    let head = ["HOST", "STACK", "STATUS", "CHANGES", "ERRORS", "TIME"];
    let mut w = head.map(|h| h.chars().count());
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: [&str; 6]| -> String {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i >= 3 {
                // numbers and times align right
                let _ = write!(l, "{}{c}  ", " ".repeat(w[i] - c.chars().count()));
            } else {
                let _ = write!(l, "{}  ", pad(c, w[i]));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = line(head);
    for row in &rows {
        out.push_str(&line([
            &row[0], &row[1], &row[2], &row[3], &row[4], &row[5],
        ]));
    }
    let t = &r.summary;
    let _ = writeln!(
        out,
        "{} host(s) checked: {} in sync, {} drifted, {} with errors; {} resource(s) drifted",
        t.hosts, t.hosts_in_sync, t.hosts_drifted, t.hosts_error, t.resources_drifted
    );
    out
}

/// Details, then the table.
pub fn render(r: &DriftReport) -> String {
    format!("{}\n{}", details(r), table(r))
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn table_in_natural_order() {
        console::set_colors_enabled(false);
        let t = table(&fixture::report());
        assert_eq!(
            t,
            "HOST    STACK  STATUS  CHANGES  ERRORS   TIME\n\
             web-2   web    error         0       1  15.0s\n\
             web-10  web    drift         2       0   1.2s\n\
             2 host(s) checked: 0 in sync, 1 drifted, 1 with errors; 2 resource(s) drifted\n"
        );
        let d = details(&fixture::report());
        assert!(
            d.contains("    ~ file[/etc/app.conf]  stacks/web.yaml:7\n        mode: 0600 → 0644\n"),
            "{d}"
        );
        assert!(d.contains("error: cannot connect"), "{d}");
    }
}

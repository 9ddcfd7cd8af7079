//! GitHub Actions annotations of a drift report: one `::warning` workflow
//! command per drifted resource at the stack (or module) file and line that
//! declares it, one `::error` per host that could not be read, resource
//! that could not be read, or stack that could not be loaded.
//!
//! Values are escaped as the runner expects: `%`, CR and LF in messages;
//! also `:` and `,` in properties.

use super::{DriftReport, Status};
use crate::escape::{github_data as escape_data, github_property as escape_property};
use std::fmt::Write as _;

fn command(
    out: &mut String,
    level: &str,
    file: Option<&str>,
    line: Option<usize>,
    title: &str,
    message: &str,
) {
    let mut props = Vec::new();
    if let Some(f) = file {
        props.push(format!("file={}", escape_property(f)));
    }
    if let Some(l) = line {
        props.push(format!("line={l}"));
    }
    props.push(format!("title={}", escape_property(title)));
    let _ = writeln!(
        out,
        "::{level} {}::{}",
        props.join(","),
        escape_data(message)
    );
}

/// The report as workflow commands, one a line.
pub fn render(r: &DriftReport) -> String {
    let mut out = String::new();
    for s in &r.stacks {
        if let Some(e) = &s.error {
            command(
                &mut out,
                "error",
                Some(&s.stack_path),
                None,
                &format!("keel drift: stack {} not checked", s.stack),
                e,
            );
        }
        for h in &s.hosts {
            if let Some(e) = &h.error {
                command(
                    &mut out,
                    "error",
                    Some(&s.stack_path),
                    None,
                    &format!("keel drift: {} not checked", h.host),
                    e,
                );
            }
            for res in &h.resources {
                let (level, what) = match res.status {
                    Status::InSync => continue,
                    Status::Drift => ("warning", "drift"),
                    Status::Error => ("error", "cannot check"),
                };
                command(
                    &mut out,
                    level,
                    res.file.as_deref().or(Some(&s.stack_path)),
                    res.line,
                    &format!("{what} on {}: {}", h.host, res.address),
                    &res.findings().join("\n"),
                );
            }
        }
    }
    let t = &r.summary;
    let _ = writeln!(
        out,
        "::notice title=keel drift::{} host(s) checked: {} in sync, {} drifted, {} error(s); {} resource(s) drifted",
        t.hosts, t.hosts_in_sync, t.hosts_drifted, t.hosts_error, t.resources_drifted
    );
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn annotations_point_at_the_declaring_line() {
        let g = render(&fixture::report());
        let lines: Vec<&str> = g.lines().collect();
        assert_eq!(
            lines,
            [
                "::error file=stacks/web.yaml,title=keel drift%3A web-2 not checked::cannot connect: Connection refused",
                "::warning file=stacks/web.yaml,line=7,title=drift on web-10%3A file[/etc/app.conf]::mode: 0600 → 0644%0Acontent differs",
                "::warning file=stacks/web.yaml,line=15,title=drift on web-10%3A ufw[firewall]::on the host, not in the stack: allow 8080/tcp",
                "::notice title=keel drift::2 host(s) checked: 0 in sync, 1 drifted, 1 error(s); 2 resource(s) drifted",
            ]
        );
        assert_eq!(escape_property("a,b:c%\n"), "a%2Cb%3Ac%25%0A");
    }
}

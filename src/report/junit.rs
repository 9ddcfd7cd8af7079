//! JUnit XML of a drift report, so CI systems show drift as failed tests:
//! one `<testsuite>` per stack × host, one `<testcase>` per resource (a
//! `<failure>` when it drifted, with its attribute changes in the message
//! and its diff in the body; an `<error>` when it could not be read), and
//! one `<testcase name="(host)">` with an `<error>` for a host that could
//! not be read, or `name="(stack)"` for a stack that could not be loaded.

use super::{DriftReport, HostReport, ResourceReport, Status};
use crate::escape::xml as escape;
use std::fmt::Write as _;

fn case(
    out: &mut String,
    class: &str,
    name: &str,
    at: Option<(&str, usize)>,
    body: Option<(&str, &str, &str)>,
) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\"",
        escape(class),
        escape(name)
    );
    if let Some((file, line)) = at {
        let _ = write!(out, " file=\"{}\" line=\"{line}\"", escape(file));
    }
    match body {
        None => out.push_str("/>\n"),
        Some((tag, message, text)) => {
            let _ = writeln!(
                out,
                ">\n      <{tag} type=\"{}\" message=\"{}\">{}</{tag}>\n    </testcase>",
                if tag == "failure" { "drift" } else { "error" },
                escape(message),
                escape(text)
            );
        }
    }
}

fn resource(out: &mut String, class: &str, r: &ResourceReport) {
    let at = r.file.as_deref().zip(r.line);
    let findings = r.findings();
    let body = match r.status {
        Status::InSync => None,
        Status::Drift | Status::Error => {
            let mut text = String::new();
            if let Some((f, l)) = at {
                let _ = writeln!(text, "{} declared at {f}:{l}", r.address);
            }
            for f in &findings {
                let _ = writeln!(text, "{f}");
            }
            if let Some(d) = &r.diff {
                text.push_str(d);
            }
            let tag = if r.status == Status::Drift {
                "failure"
            } else {
                "error"
            };
            Some((tag, findings.join("; "), text))
        }
    };
    case(
        out,
        class,
        &r.address,
        at,
        body.as_ref().map(|(t, m, x)| (*t, m.as_str(), x.as_str())),
    );
}

fn suite(out: &mut String, stack: &str, stack_path: &str, h: &HostReport) {
    let class = format!("{stack}.{}", h.host);
    let tests = h.resources.len() + usize::from(h.error.is_some());
    let failures = h.changes;
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" hostname=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{}\" skipped=\"0\" time=\"{:.3}\">",
        escape(&format!("{stack}: {}", h.host)),
        escape(&h.host),
        h.errors,
        h.seconds
    );
    if let Some(e) = &h.error {
        case(
            out,
            &class,
            "(host)",
            None,
            Some((
                "error",
                e,
                &format!("{}: {e}\nstack: {stack_path}\n", h.host),
            )),
        );
    }
    for r in &h.resources {
        resource(out, &class, r);
    }
    out.push_str("  </testsuite>\n");
}

/// The report as a JUnit XML document.
pub fn render(r: &DriftReport) -> String {
    let t = &r.summary;
    let stack_errors = r.stacks.iter().filter(|s| s.error.is_some()).count();
    let host_cases = r
        .stacks
        .iter()
        .flat_map(|s| &s.hosts)
        .filter(|h| h.error.is_some())
        .count();
    let tests = t.resources + host_cases + stack_errors;
    let host_errors: usize = r
        .stacks
        .iter()
        .flat_map(|s| &s.hosts)
        .map(|h| h.errors)
        .sum();
    let time: f64 = r
        .stacks
        .iter()
        .flat_map(|s| &s.hosts)
        .map(|h| h.seconds)
        .sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"keel drift\" tests=\"{tests}\" failures=\"{}\" errors=\"{}\" time=\"{time:.3}\">",
        t.resources_drifted,
        host_errors + stack_errors
    );
    for s in &r.stacks {
        if let Some(e) = &s.error {
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" time=\"0\">",
                escape(&s.stack)
            );
            case(
                &mut out,
                &s.stack,
                "(stack)",
                None,
                Some(("error", e, &format!("{}: {e}\n", s.stack_path))),
            );
            out.push_str("  </testsuite>\n");
        }
        for h in &s.hosts {
            suite(&mut out, &s.stack, &s.stack_path, h);
        }
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn one_case_per_host_and_resource() {
        let x = render(&fixture::report());
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"keel drift\" tests=\"4\" failures=\"2\" errors=\"1\""), "{x}");
        assert!(x.contains("<testcase classname=\"web.web-2\" name=\"(host)\">\n      <error type=\"error\" message=\"cannot connect: Connection refused\">"), "{x}");
        assert!(x.contains("<testcase classname=\"web.web-10\" name=\"file[/etc/app.conf]\" file=\"stacks/web.yaml\" line=\"7\">\n      <failure type=\"drift\" message=\"mode: 0600 → 0644; content differs\">"), "{x}");
        assert!(
            x.contains("-a &lt;b&gt; &amp; &quot;c&quot;"),
            "the diff is escaped: {x}"
        );
        assert!(x.contains("<testcase classname=\"web.web-10\" name=\"package[nginx]\" file=\"stacks/web.yaml\" line=\"12\"/>"), "{x}");
        assert_eq!(x.matches("<testcase ").count(), 4);
        assert_eq!(x.matches("<testsuite ").count(), 2);
    }
}

//! `keel show ADDRESS STACK`: one resource's live state as keel reads it on
//! each host — its probe's output parsed into the kind's fact — and its
//! diff against the stack. Reads only; secrets are masked as in plans.

use super::{Common, inventory_path, report};
use crate::exit::Exit;
use crate::resources::{ProbeOutput, Resource};
use crate::session::{Options, Session};
use std::fmt::Write as _;

pub struct ShowArgs {
    pub address: String,
    pub common: Common,
}

pub async fn run(a: ShowArgs) -> Exit {
    let inv = inventory_path(a.common.inventory.as_deref(), &a.common.stack);
    let options = Options {
        limit: a.common.limit.clone(),
        allow_lockout_risk: true,
        selection: crate::graph::select::Selection {
            targets: vec![a.address.clone()],
            tags: Vec::new(),
        },
        overrides: super::set_overrides(&a.common.set),
        ..Options::default()
    };
    let s = match Session::open(&a.common.stack, &inv, options) {
        Ok(s) => s,
        Err(d) => {
            report(&d);
            return Exit::Error;
        }
    };
    let mut code = Exit::Ok;
    for host in s.validated.hosts.clone() {
        let (text, ok) = show_host(&s, &host, &a.address).await;
        super::out(&text);
        if !ok {
            code = Exit::Error;
        }
    }
    code
}

/// The resource on one host: its fact and its diff; whether its live
/// state could be read.
async fn show_host(s: &Session, host: &str, address: &str) -> (String, bool) {
    let work = crate::session::plan_host(s, host).await;
    let mut text = format!("{host}\n");
    if let Some(e) = &work.plan.error {
        let _ = writeln!(text, "  error: {e}");
    }
    let found = work
        .resolved
        .instances
        .iter()
        .position(|i| i.address == address);
    let (Some(i), Some(conn)) = (found, work.conn()) else {
        if found.is_none() && work.plan.error.is_none() {
            let _ = writeln!(text, "  no resource `{address}` on this host");
        }
        if let Some(t) = work.conn() {
            t.close().await;
        }
        return (text, false);
    };
    let inst = &work.resolved.instances[i];
    let read = crate::probe::run_batch(conn.as_ref(), &[inst.resource.probe()]).await;
    conn.close().await;
    // Live state holding a secret (a file keel would overwrite) is hidden
    // whole, as the plan hides its diff: the fact shows content escaped
    // (`b"\"\xc3..."`), which the redactor cannot recognise, and its
    // plain sha256.
    let mut holds_secret = false;
    let fact = match read {
        Ok(outs) => match outs.first() {
            Some(out) => {
                holds_secret = s.redactor.touches(&out.stdout) || s.redactor.touches(&out.stderr);
                fact_text(inst.resource.as_ref(), out)
            }
            None => Err("no probe output".to_string()),
        },
        Err(e) => Err(e.to_string()),
    };
    let read_ok = fact.is_ok();
    let fact = match fact {
        _ if inst.sensitive || holds_secret => "(sensitive)".to_string(),
        Ok(f) => s.redactor.redact(&f),
        Err(e) => format!("cannot read its live state: {}", s.redactor.redact(&e)),
    };
    let _ = writeln!(text, "  live state of {address}:");
    for line in fact.lines() {
        let _ = writeln!(text, "    {line}");
    }
    let mut plan = work.plan.clone();
    plan.resources.retain(|r| r.address == address);
    let _ = writeln!(text, "  diff:");
    for line in crate::plan::render::host(&plan, true).lines().skip(1) {
        let _ = writeln!(text, "  {line}");
    }
    (text, read_ok)
}

/// Debug output with each list of bytes (a file's content) written as a
/// byte string, `b"hello\n"`, instead of one number per line.
fn bytes_as_text(debug: &str) -> String {
    let lines: Vec<&str> = debug.lines().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim_end().ends_with('[') {
            let bytes: Vec<u8> = lines[i + 1..]
                .iter()
                .map_while(|l| l.trim().strip_suffix(',')?.parse::<u8>().ok())
                .collect();
            let close = lines.get(i + 1 + bytes.len()).map(|l| l.trim_start());
            if !bytes.is_empty() && close.is_some_and(|c| c.starts_with(']')) {
                let head = line.trim_end().trim_end_matches('[');
                let tail = close.unwrap_or_default().trim_start_matches(']');
                let _ = writeln!(out, "{head}b\"{}\"{tail}", bytes.escape_ascii());
                i += bytes.len() + 2;
                continue;
            }
        }
        let _ = writeln!(out, "{line}");
        i += 1;
    }
    out
}

/// How each kind's fact is read, by kind name.
/// The fact parsed from a probe's output, as Rust's readable Debug form.
fn fact_text(res: &dyn Resource, out: &ProbeOutput) -> Result<String, String> {
    res.fact_debug(out)
        .map(|f| bytes_as_text(&f))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_lists_read_as_text() {
        let debug = format!("{:#?}", (Some(b"hi\n".to_vec()), vec![300u32, 2]));
        let text = bytes_as_text(&debug);
        assert!(
            text.contains("Some(\n        b\"hi\\n\",\n    ),"),
            "{text}"
        );
        assert!(text.contains("        300,\n"), "other lists stay: {text}");
    }
}

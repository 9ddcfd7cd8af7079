//! A stack's rollout settings across hosts: `serial:` (how many hosts
//! change at once) and `max_fail:` (how many hosts of the run may fail
//! before it stops), each a count or a percentage of the run's hosts.
//! Read here from the stack's YAML with their spans, so a bad value is
//! reported at its file and line; turned into batches by
//! [`crate::session::batches`].

use crate::diag::{Diag, Diagnostics, SourceFile};
use crate::node::{Node, Span, Value};
use schemars::{Schema, SchemaGenerator, json_schema};

/// A number of hosts, written as a count (`2`) or a percentage of the
/// run's hosts (`"30%"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Count(u64),
    /// 0 to 100.
    Percent(u8),
}

/// `serial:` and `max_fail:` of a stack; `None` when not written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollout {
    pub serial: Option<Amount>,
    pub max_fail: Option<Amount>,
    /// Where `serial:` is written (for messages).
    pub serial_span: Option<Span>,
}

impl Rollout {
    /// Whether either setting is written (the run goes batch by batch).
    pub fn is_set(&self) -> bool {
        self.serial.is_some() || self.max_fail.is_some()
    }
}

/// Read `serial:` and `max_fail:` from a stack's top-level node; every bad
/// value is reported at its span.
pub fn parse(src: &SourceFile, node: &Node, diags: &mut Diagnostics) -> Rollout {
    let mut r = Rollout::default();
    if let Some(n) = node.get("serial").filter(|n| n.value != Value::Null) {
        r.serial_span = Some(n.span);
        match amount(n) {
            Ok(Amount::Count(0)) | Ok(Amount::Percent(0)) => diags.push(bad(
                src,
                n,
                "`serial` must let at least one host change at a time",
            )),
            Ok(a) => r.serial = Some(a),
            Err(e) => diags.push(bad(src, n, &format!("`serial`: {e}"))),
        }
    }
    if let Some(n) = node.get("max_fail").filter(|n| n.value != Value::Null) {
        match amount(n) {
            Ok(a) => r.max_fail = Some(a),
            Err(e) => diags.push(bad(src, n, &format!("`max_fail`: {e}"))),
        }
    }
    r
}

fn bad(src: &SourceFile, n: &Node, msg: &str) -> Diag {
    Diag::at("keel::schema", src, n.span, msg.to_string(), "here").with_help(
        "write a count of hosts (`serial: 1`, `max_fail: 0`) or a percentage of the run's hosts in quotes (`serial: \"30%\"`, from 1% to 100%)",
    )
}

/// A count (0 or more) or `"N%"` with N from 0 to 100.
fn amount(n: &Node) -> Result<Amount, String> {
    match &n.value {
        Value::Int(i, _) if *i >= 0 => Ok(Amount::Count(*i as u64)),
        Value::Int(i, _) => Err(format!("{i} is negative")),
        Value::Str(s) => percent(s),
        other => Err(format!(
            "expected a count or a percentage, found {}",
            Node::new(n.span, other.clone()).type_name()
        )),
    }
}

fn percent(s: &str) -> Result<Amount, String> {
    let t = s.trim();
    let Some(num) = t.strip_suffix('%') else {
        return match t.parse::<u64>() {
            Ok(c) => Ok(Amount::Count(c)),
            Err(_) => Err(format!(
                "`{s}` is neither a count nor a percentage like \"30%\""
            )),
        };
    };
    match num.trim().parse::<u64>() {
        Ok(p) if p <= 100 => Ok(Amount::Percent(p as u8)),
        Ok(p) => Err(format!("{p}% is more than 100%")),
        Err(_) => Err(format!("`{s}` is not a whole percentage like \"30%\"")),
    }
}

/// The JSON schema of `serial:` and `max_fail:`.
pub fn schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A number of hosts: a count, or a percentage of the run's hosts (\"30%\").",
        "anyOf": [
            { "type": "integer", "minimum": 0 },
            // A string (written without `"type"`, which the schema's
            // post-processing would widen to numbers and booleans).
            {
                "pattern": "^\\s*[0-9]+\\s*%\\s*$",
                "not": { "type": ["number", "boolean", "array", "object", "null"] },
            },
            { "type": "null" },
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> (Rollout, Vec<String>) {
        let node = Node::parse(yaml).expect("yaml");
        let src = SourceFile::new("stack.yml".into(), yaml.into());
        let mut d = Diagnostics::new();
        let r = parse(&src, &node, &mut d);
        (r, d.0.iter().map(|d| d.message.clone()).collect())
    }

    #[test]
    fn counts_and_percentages_are_read() {
        let (r, e) = read("serial: 2\nmax_fail: \"25%\"\n");
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.serial, Some(Amount::Count(2)));
        assert_eq!(r.max_fail, Some(Amount::Percent(25)));
        let (r, _) = read("name: x\n");
        assert!(!r.is_set());
    }

    #[test]
    fn bad_values_are_refused() {
        for (yaml, want) in [
            ("serial: 0\n", "at least one host"),
            ("serial: \"0%\"\n", "at least one host"),
            ("serial: \"150%\"\n", "more than 100%"),
            ("max_fail: -1\n", "negative"),
            ("serial: many\n", "neither a count nor a percentage"),
            ("serial: [1]\n", "expected a count or a percentage"),
            ("max_fail: \"x%\"\n", "whole percentage"),
        ] {
            let (_, e) = read(yaml);
            assert!(e.iter().any(|m| m.contains(want)), "{yaml}: {e:?}");
        }
    }
}

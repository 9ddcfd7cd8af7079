//! Write an [`Inventory`] in keel's own YAML format (`keel inventory
//! convert`): only settings that differ from keel's defaults, vars as they
//! were read, strings quoted wherever YAML could read them as something else.

use crate::config::inventory::{HostKeyPolicy, Inventory, TransportKind};
use serde_json::Value as J;
use std::fmt::Write;

/// The inventory as keel YAML, with a header comment naming its origin.
pub fn to_keel_yaml(inv: &Inventory, from: &str) -> String {
    let mut out = format!("# keel inventory, converted from {from} by `keel inventory convert`\n");
    if inv.hosts.is_empty() {
        out.push_str("hosts: {}\n");
    } else {
        out.push_str("hosts:\n");
    }
    for h in inv.hosts.values() {
        let mut fields: Vec<(&str, J)> = Vec::new();
        if h.address != h.name {
            fields.push(("address", J::from(h.address.clone())));
        }
        if let Some(p) = h.port {
            fields.push(("port", J::from(p)));
        }
        if h.user != "root" {
            fields.push(("user", J::from(h.user.clone())));
        }
        if let Some(k) = &h.identity_file {
            fields.push(("identity_file", J::from(k.clone())));
        }
        if h.become_root != (h.transport == TransportKind::Ssh && h.user != "root") {
            fields.push(("become", J::from(h.become_root)));
        }
        if h.host_key == HostKeyPolicy::AcceptNew {
            fields.push(("host_key", J::from("accept-new")));
        }
        if h.transport == TransportKind::Local {
            fields.push(("transport", J::from("local")));
        }
        if let Some(c) = &h.ssh_config {
            fields.push(("ssh_config", J::from(c.clone())));
        }
        if let Some(p) = h.bootstrap_port {
            fields.push(("bootstrap_port", J::from(p)));
        }
        if let Some(u) = &h.bootstrap_user {
            fields.push(("bootstrap_user", J::from(u.clone())));
        }
        if h.password_auth {
            fields.push(("auth", J::from("password")));
        }
        if let Some(t) = h.confirm_timeout {
            fields.push(("confirm_timeout", J::from(t)));
        }
        if h.allow_lockout_risk {
            fields.push(("allow_lockout_risk", J::from(true)));
        }
        if let Some((_, v)) = &h.vars {
            fields.push(("vars", v.to_json()));
        }
        entry(&mut out, 1, &h.name, fields);
    }
    if !inv.groups.is_empty() {
        out.push_str("groups:\n");
    }
    for g in inv.groups.values() {
        let mut fields: Vec<(&str, J)> = Vec::new();
        if !g.hosts.is_empty() {
            fields.push((
                "hosts",
                J::Array(g.hosts.iter().map(|h| J::from(h.value.clone())).collect()),
            ));
        }
        if !g.children.is_empty() {
            fields.push((
                "children",
                J::Array(
                    g.children
                        .iter()
                        .map(|c| J::from(c.value.clone()))
                        .collect(),
                ),
            ));
        }
        if let Some((_, v)) = &g.vars {
            fields.push(("vars", v.to_json()));
        }
        entry(&mut out, 1, &g.name, fields);
    }
    out
}

/// `name:` with its fields below it, or `name: {}`.
fn entry(out: &mut String, level: usize, name: &str, fields: Vec<(&str, J)>) {
    let pad = "  ".repeat(level);
    if fields.is_empty() {
        let _ = writeln!(out, "{pad}{}: {{}}", scalar(name));
        return;
    }
    let _ = writeln!(out, "{pad}{}:", scalar(name));
    for (k, v) in fields {
        value(out, level + 1, k, &v);
    }
}

/// `key: value` at `level`, nesting maps and lists as blocks.
fn value(out: &mut String, level: usize, key: &str, v: &J) {
    let pad = "  ".repeat(level);
    match v {
        J::Object(m) if !m.is_empty() => {
            let _ = writeln!(out, "{pad}{}:", scalar(key));
            for (k, x) in m {
                value(out, level + 1, k, x);
            }
        }
        J::Array(a) if !a.is_empty() => {
            let _ = writeln!(out, "{pad}{}:", scalar(key));
            for x in a {
                item(out, level + 1, x);
            }
        }
        _ => {
            let _ = writeln!(out, "{pad}{}: {}", scalar(key), inline(v));
        }
    }
}

/// `- value` at `level`.
fn item(out: &mut String, level: usize, v: &J) {
    let pad = "  ".repeat(level);
    match v {
        J::Object(m) if !m.is_empty() => {
            let mut inner = String::new();
            for (k, x) in m {
                value(&mut inner, level + 1, k, x);
            }
            // The first key goes on the dash's line.
            let body = &inner[pad.len() + 2..];
            let _ = write!(out, "{pad}- {body}");
        }
        J::Array(a) if !a.is_empty() => {
            let _ = writeln!(out, "{pad}-");
            for x in a {
                item(out, level + 1, x);
            }
        }
        _ => {
            let _ = writeln!(out, "{pad}- {}", inline(v));
        }
    }
}

/// A value on one line.
fn inline(v: &J) -> String {
    match v {
        J::String(s) => scalar(s),
        J::Object(_) => "{}".into(),
        J::Array(_) => "[]".into(),
        other => other.to_string(),
    }
}

/// A string, plain when YAML reads it back as the same string, else
/// double-quoted (JSON escapes are valid YAML).
pub fn scalar(s: &str) -> String {
    let reserved = matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
    );
    let plain = !s.is_empty()
        && !reserved
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '/')
        && !s.ends_with(' ')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || " _./@+=-".contains(c));
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

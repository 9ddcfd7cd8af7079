//! Ansible's YAML inventory format.
//!
//! ```yaml
//! all:
//!   hosts:
//!     mail.example.com:
//!   vars:
//!     ntp_server: ntp.example.com
//!   children:
//!     web:
//!       hosts:
//!         web[01:20].example.com:
//!           ansible_user: deploy
//!       vars: { http_port: 8080 }
//!     prod:
//!       children:
//!         web:
//! ```
//!
//! Every top-level key is a group (usually only `all`). A group holds
//! `hosts` (a map of host patterns to their vars, or nothing), `children`
//! (a map of groups, defined there or elsewhere) and `vars`. A group or
//! host mentioned several times is one group or host.

use super::{CODE, Parsed, Var, range};
use crate::diag::{Diag, Diagnostics, SourceFile};
use crate::node::{Node, Value};

/// Parse one YAML inventory document into `out`.
pub fn parse(src: &SourceFile, node: &Node, out: &mut Parsed, diags: &mut Diagnostics) {
    let Some(map) = node.as_map() else {
        return;
    };
    for (k, v) in map {
        let Some(name) = group_name(src, k, diags) else {
            continue;
        };
        out.group(name, src, k.span);
        group(src, name, v, out, diags, 0);
    }
}

fn group_name<'a>(src: &SourceFile, k: &'a Node, diags: &mut Diagnostics) -> Option<&'a str> {
    let name = k.as_scalar_text().unwrap_or_default();
    let bad = name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '[' | ']' | ':' | ','));
    if bad {
        diags.push(
            Diag::at(
                CODE,
                src,
                k.span,
                format!("`{name}` is not a group name"),
                "here",
            )
            .with_help("group names are words without spaces, brackets, colons or commas"),
        );
        return None;
    }
    Some(name)
}

/// One group's definition (`hosts`, `children`, `vars`).
fn group(
    src: &SourceFile,
    name: &str,
    def: &Node,
    out: &mut Parsed,
    diags: &mut Diagnostics,
    depth: usize,
) {
    if depth > 64 {
        diags.push(Diag::at(
            CODE,
            src,
            def.span,
            "groups are nested more than 64 deep",
            "here",
        ));
        return;
    }
    let map = match &def.value {
        Value::Null => return,
        Value::Map(m) => m,
        _ => {
            diags.push(
                Diag::at(
                    CODE,
                    src,
                    def.span,
                    format!(
                        "group `{name}` must be a map of `hosts`, `children` and `vars`, found {}",
                        def.type_name()
                    ),
                    "here",
                )
                .with_help("e.g. `web: { hosts: { web1: } }`"),
            );
            return;
        }
    };
    for (k, v) in map {
        match k.as_scalar_text().unwrap_or_default() {
            "hosts" => hosts(src, name, v, out, diags),
            "children" => match &v.value {
                Value::Null => {}
                Value::Map(children) => {
                    for (ck, cv) in children {
                        let Some(child) = group_name(src, ck, diags) else {
                            continue;
                        };
                        out.child(name, child, src, ck.span);
                        group(src, child, cv, out, diags, depth + 1);
                    }
                }
                _ => diags.push(
                    Diag::at(
                        CODE,
                        src,
                        v.span,
                        format!("`children` of group `{name}` must be a map of groups, found {}", v.type_name()),
                        "here",
                    )
                    .with_help("write each child group as a key: `children: { web: }`"),
                ),
            },
            "vars" => {
                if let Some(vars) = vars_of(src, v, &format!("`vars` of group `{name}`"), diags) {
                    out.group(name, src, k.span).vars.extend(vars);
                }
            }
            other => diags.push(
                Diag::at(
                    CODE,
                    src,
                    k.span,
                    format!("`{other}` is not a key of an Ansible group (in group `{name}`)"),
                    "not recognised",
                )
                .with_help(format!(
                    "a group holds `hosts`, `children` and `vars`; is `{other}` a host? then list it under `hosts:`"
                )),
            ),
        }
    }
}

/// A group's `hosts:` map: host pattern → vars.
fn hosts(src: &SourceFile, group: &str, v: &Node, out: &mut Parsed, diags: &mut Diagnostics) {
    let entries = match &v.value {
        Value::Null => return,
        Value::Map(m) => m,
        _ => {
            diags.push(
                Diag::at(
                    CODE,
                    src,
                    v.span,
                    format!("`hosts` of group `{group}` must be a map of hosts, found {}", v.type_name()),
                    "here",
                )
                .with_help("write each host as a key, with its vars or nothing: `hosts: { web1:, web2: { ansible_port: 2222 } }`"),
            );
            return;
        }
    };
    for (hk, hv) in entries {
        let pattern = hk.as_scalar_text().unwrap_or_default();
        let expanded = match range::expand(pattern) {
            Ok(e) => e,
            Err(msg) => {
                diags.push(Diag::at(CODE, src, hk.span, msg, "host pattern").with_help(
                    "a host is `NAME` or `NAME:PORT`, ranges as `web[01:20]` or `db-[a:c]`",
                ));
                continue;
            }
        };
        let mut vars = Vec::new();
        if let Some(port) = expanded.port {
            vars.push(Var {
                key: Node::new(hk.span, Value::Str("ansible_port".into())),
                value: Node::new(hk.span, Value::Int(port.into(), port.to_string())),
                source: src.clone(),
            });
        }
        if let Some(vs) = vars_of(src, hv, &format!("host `{pattern}`"), diags) {
            vars.extend(vs);
        }
        for name in &expanded.names {
            out.host(name, src).vars.extend(vars.iter().cloned());
            out.member(group, name, src, hk.span);
        }
    }
}

/// A vars map (or nothing) as variables.
fn vars_of(src: &SourceFile, v: &Node, what: &str, diags: &mut Diagnostics) -> Option<Vec<Var>> {
    match &v.value {
        Value::Null => Some(Vec::new()),
        Value::Map(m) => Some(
            m.iter()
                .map(|(k, v)| Var {
                    key: k.clone(),
                    value: v.clone(),
                    source: src.clone(),
                })
                .collect(),
        ),
        _ => {
            diags.push(
                Diag::at(
                    CODE,
                    src,
                    v.span,
                    format!("{what} must be a map of variables, found {}", v.type_name()),
                    "here",
                )
                .with_help("write one `name: value` per line under it"),
            );
            None
        }
    }
}

//! `keel modules`: every module a stack can use by name, where it comes
//! from (project, path, bundled), what it does and its inputs.

use super::report;
use crate::config::module::Module;
use crate::config::modules_path::{Found, Lookup, Origin};
use crate::config::stack::Stack;
use crate::exit::Exit;
use std::path::Path;

pub fn run(stack: Option<&Path>) -> Exit {
    let mut lookup = match stack {
        Some(path) => match Stack::load(path) {
            (Some(s), _) => Lookup::for_stack(&s),
            (None, d) => {
                report(&d);
                return Exit::Error;
            }
        },
        None => {
            let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
            Lookup::new(
                &cwd,
                &[],
                std::env::var_os(crate::config::modules_path::ENV).as_deref(),
            )
        }
    };
    let all = lookup.available();
    super::out(&render(&all));
    Exit::Ok
}

/// One paragraph per module: `NAME (source)`, its description, its inputs;
/// a module shadowed by an earlier one of the same name is named below it.
fn render(all: &[Found]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < all.len() {
        let f = &all[i];
        let shadowed: Vec<&Found> = all[i + 1..]
            .iter()
            .take_while(|o| o.name == f.name)
            .collect();
        i += 1 + shadowed.len();
        out.push_str(&format!("{} ({})", f.name, where_(f)));
        out.push('\n');
        match Module::load(&f.name, &f.dir) {
            (Some(m), d) => {
                if let Some(desc) = &m.description {
                    out.push_str(&format!("  {}\n", desc.trim()));
                }
                if !d.is_empty() {
                    out.push_str("  (has problems: `keel validate` a stack using it)\n");
                }
                if m.inputs.is_empty() {
                    out.push_str("  inputs: none\n");
                } else {
                    out.push_str("  inputs:\n");
                }
                for input in &m.inputs {
                    let ty = input.ty.name();
                    let mut detail = match (&input.default, input.required) {
                        (_, true) => "required".to_string(),
                        (Some(d), _) => format!("default {}", d.to_json()),
                        (None, _) => "optional".to_string(),
                    };
                    if input.sensitive {
                        detail.push_str(", sensitive");
                    }
                    let desc = input
                        .description
                        .as_deref()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default();
                    out.push_str(&format!("    {} ({ty}, {detail}){desc}\n", input.name));
                }
            }
            (None, _) => out.push_str("  (cannot be read: its module.yaml is missing or broken)\n"),
        }
        for s in shadowed {
            out.push_str(&format!("  shadows {} ({})\n", s.name, where_(s)));
        }
        out.push('\n');
    }
    if out.is_empty() {
        out.push_str("no modules found\n");
    }
    out
}

fn where_(f: &Found) -> String {
    match f.origin {
        Origin::Bundled => "bundled".to_string(),
        o => format!("{}: {}", o.name(), crate::config::display_path(&f.dir)),
    }
}

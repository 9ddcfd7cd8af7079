//! Printing a host's graph: as text (apply order with dependencies) and as
//! Graphviz DOT (`keel graph --format dot`).

use super::Graph;
use crate::resolve::Resolved;
use std::fmt::Write as _;

/// Apply order, one resource a line, with what it waits for and why.
pub fn text(res: &Resolved, graph: &Graph) -> String {
    let mut out = String::new();
    let n = res.instances.len();
    let _ = writeln!(
        out,
        "host {} ({n} resource{})",
        res.host,
        if n == 1 { "" } else { "s" }
    );
    for (n, &i) in graph.order.iter().enumerate() {
        let inst = &res.instances[i];
        let module = inst
            .module
            .as_ref()
            .map(|m| format!("  (module.{m})"))
            .unwrap_or_default();
        let _ = writeln!(out, "  {:>3}. {}{module}", n + 1, inst.address);
        for e in graph
            .g
            .edges_directed(graph.nodes[i], petgraph::Direction::Incoming)
        {
            use petgraph::visit::EdgeRef;
            let from = &res.instances[graph.g[e.source()]].address;
            let _ = writeln!(out, "         after {from} [{}]", e.weight().short());
        }
    }
    out
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Graphviz DOT of one host's graph.
pub fn dot(res: &Resolved, graph: &Graph) -> String {
    use petgraph::visit::EdgeRef;
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(&res.host));
    let _ = writeln!(
        out,
        "  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];"
    );
    for &i in &graph.order {
        let _ = writeln!(
            out,
            "  n{i} [label=\"{}\"];",
            dot_escape(&res.instances[i].address)
        );
    }
    for e in graph.g.edge_references() {
        let style = match e.weight() {
            super::Why::DependsOn { .. } => "solid",
            super::Why::Notify { .. } => "dashed",
            super::Why::Implicit(_) => "dotted",
        };
        let _ = writeln!(
            out,
            "  n{} -> n{} [style={style}, label=\"{}\"];",
            graph.g[e.source()],
            graph.g[e.target()],
            e.weight().short()
        );
    }
    out.push_str("}\n");
    out
}

//! Tests of the graph's whole-graph passes against their per-instance
//! definitions.

use super::*;

/// A graph over `n` instances with these edges (dependency → dependent).
fn graph_of(n: usize, edges: &[(usize, usize)]) -> Graph {
    let mut g: DiGraph<usize, Why> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..n).map(|i| g.add_node(i)).collect();
    for &(a, b) in edges {
        g.add_edge(nodes[a], nodes[b], Why::Implicit(String::new()));
    }
    let order = stable_order(&g, &nodes);
    assert_eq!(order.len(), n, "acyclic");
    Graph {
        g,
        nodes,
        order,
        notifies: vec![Vec::new(); n],
    }
}

/// Deterministic pseudo-random DAGs, declared in shuffled order (edges go
/// from a lower to a higher rank, ranks are not indexes), with a source of
/// further numbers.
fn random_graphs(
    count: usize,
    mut check: impl FnMut(&Graph, &[(usize, usize)], &mut dyn FnMut(u64) -> u64),
) {
    let mut seed = 0x9e37_79b9_u64;
    let mut next = move |m: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % m
    };
    for _ in 0..count {
        let n = 2 + next(30) as usize;
        let rank: Vec<usize> = {
            let mut r: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                r.swap(i, next(i as u64 + 1) as usize);
            }
            r
        };
        let mut edges = Vec::new();
        for _ in 0..next(3 * n as u64) {
            let (a, b) = (next(n as u64) as usize, next(n as u64) as usize);
            if rank[a] < rank[b] {
                edges.push((a, b));
            }
        }
        let g = graph_of(n, &edges);
        check(&g, &edges, &mut next);
    }
}

#[test]
fn first_marked_ancestors_match_the_ancestors_of_each_instance() {
    random_graphs(40, |g, edges, next| {
        let n = g.nodes.len();
        let marked: Vec<bool> = (0..n).map(|_| next(3) == 0).collect();
        let fast = g.first_marked_ancestors(&marked);
        for (i, got) in fast.iter().enumerate() {
            let want = g.ancestors(i).into_iter().find(|&a| marked[a]);
            assert_eq!(*got, want, "instance {i} of {n}, edges {edges:?}");
        }
    });
}

#[test]
fn folds_over_ancestors_match_the_ancestors_of_each_instance() {
    random_graphs(60, |g, edges, next| {
        let n = g.nodes.len();
        // The two folds of the apply walk: any ancestor changed, and the
        // latest step among the ancestors' changes (0: none).
        let changed: Vec<bool> = (0..n).map(|_| next(3) == 0).collect();
        let step: Vec<u64> = (0..n).map(|_| next(5)).collect();
        let any = g.fold_ancestors(&changed, false, |a, b| a || b);
        let latest = g.fold_ancestors(&step, 0, u64::max);
        for i in 0..n {
            let ancestors = g.ancestors(i);
            let want_any = ancestors.iter().any(|&a| changed[a]);
            let want_latest = ancestors.iter().map(|&a| step[a]).max().unwrap_or(0);
            assert_eq!(any[i], want_any, "instance {i} of {n}, edges {edges:?}");
            assert_eq!(
                latest[i], want_latest,
                "instance {i} of {n}, edges {edges:?}"
            );
        }
    });
}

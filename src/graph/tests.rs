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

#[test]
fn first_marked_ancestors_match_the_ancestors_of_each_instance() {
    // Deterministic pseudo-random DAGs, declared in shuffled order (edges
    // go from a lower to a higher rank, ranks are not indexes).
    let mut seed = 0x9e37_79b9_u64;
    let mut next = |m: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % m
    };
    for _ in 0..40 {
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
        let marked: Vec<bool> = (0..n).map(|_| next(3) == 0).collect();
        let fast = g.first_marked_ancestors(&marked);
        for (i, got) in fast.iter().enumerate() {
            let want = g.ancestors(i).into_iter().find(|&a| marked[a]);
            assert_eq!(*got, want, "instance {i} of {n}, edges {edges:?}");
        }
    }
}

//! [`Clusters`]: the state of kernel merging, the second stage of fusion — which loop nodes
//! (see [`super::loops`]) share a kernel, in which loops, and where each kernel runs.
//!
//! Every loop node starts as a cluster of its own, one loop of one member, at its own
//! position (its *key*); every other kernel (an anchor such as a matmul) keeps its node's
//! position. Kernels run in key order. A merge rule ([`super::MERGES`]) proposes the loops
//! two clusters would form together ([`Merged`]), and `placement.rs` finds where the merged
//! kernel can run, or refuses. [`Clusters::merge`] then makes it one cluster at that key.
//!
//! Deliberately not here: which merges are worth making (the rules decide), where a merged
//! kernel may run (`placement.rs`) and building the merged graph (`build.rs`).

use std::collections::BTreeSet;

use ir::{Graph, NodeId, Op, Shape};

use super::loops::{LoopNode, as_loop};

/// One loop of a cluster: members over one domain, reducing one set of axes (or none).
#[derive(Debug, Clone, PartialEq)]
pub struct LoopGroup {
    /// The members, in node order.
    pub members: Vec<NodeId>,
    /// The domain every member's loop walks.
    pub domain: Shape,
    /// The axes the reducing members reduce; `None` while no member reduces.
    pub axes: Option<Vec<usize>>,
}

/// The loops two clusters would form together (a merge rule's answer).
pub type Merged = Vec<LoopGroup>;

/// One kernel under construction.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Its loops.
    pub groups: Vec<LoopGroup>,
    /// Where it runs: kernels run in key order.
    pub key: f64,
}

impl Cluster {
    /// Every member, loop by loop.
    pub fn members(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.groups.iter().flat_map(|g| g.members.iter().copied())
    }
}

/// A kernel of the graph being merged: a cluster of loop nodes, or another node that runs a
/// kernel (an anchor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Unit {
    /// Cluster `c`.
    Cluster(usize),
    /// A kernel node that is no loop.
    Node(NodeId),
}

/// An `f64` key ordered by `total_cmp`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct OrdF64(pub f64);

impl Eq for OrdF64 {}

impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The clusters of a graph's loop nodes (see the module docs).
pub struct Clusters<'g> {
    pub(super) graph: &'g Graph,
    loops: Vec<Option<LoopNode>>,
    cluster_of: Vec<Option<usize>>,
    clusters: Vec<Option<Cluster>>,
    /// Whether each node is read by an output or is an update value.
    escapes: Vec<bool>,
    /// Every kernel by key.
    pub(super) order: BTreeSet<(OrdF64, Unit)>,
    /// Each node's operands, and its users (each once), read far more often than built.
    pub(super) operands: Vec<Vec<NodeId>>,
    pub(super) users: Vec<Vec<NodeId>>,
}

impl<'g> Clusters<'g> {
    /// Every loop node of `graph` in a cluster of its own.
    pub fn new(graph: &'g Graph) -> Self {
        let loops: Vec<Option<LoopNode>> = graph.node_ids().map(|id| as_loop(graph, id)).collect();
        let mut cluster_of = vec![None; graph.len()];
        let mut clusters = Vec::new();
        for id in graph.node_ids() {
            if let Some(l) = &loops[id.index()] {
                cluster_of[id.index()] = Some(clusters.len());
                clusters.push(Some(Cluster {
                    groups: vec![LoopGroup {
                        members: vec![id],
                        domain: l.domain.clone(),
                        axes: (!l.is_elementwise()).then(|| l.axes.clone()),
                    }],
                    key: id.index() as f64,
                }));
            }
        }
        let order = graph
            .node_ids()
            .filter_map(|id| {
                let key = OrdF64(id.index() as f64);
                match (cluster_of[id.index()], graph.op(id)) {
                    (Some(c), _) => Some((key, Unit::Cluster(c))),
                    (None, Op::Input { .. } | Op::Param { .. } | Op::Const(_) | Op::Reshape(_)) => {
                        None
                    }
                    (None, _) => Some((key, Unit::Node(id))),
                }
            })
            .collect();
        let mut escapes = vec![false; graph.len()];
        for id in graph
            .outputs
            .iter()
            .map(|&(_, v)| v)
            .chain(graph.updates.iter().map(|&(_, v)| v))
        {
            escapes[id.index()] = true;
        }
        Clusters {
            graph,
            loops,
            cluster_of,
            clusters,
            escapes,
            order,
            operands: graph.node_ids().map(|id| graph.operands(id)).collect(),
            users: graph.node_ids().map(|id| graph.users(id)).collect(),
        }
    }

    /// The graph.
    pub fn graph(&self) -> &'g Graph {
        self.graph
    }

    /// The loop view of `id` (a member of some cluster).
    pub fn loop_node(&self, id: NodeId) -> &LoopNode {
        self.loops[id.index()]
            .as_ref()
            .expect("cluster members are loops")
    }

    /// Cluster `c`, if it was not merged into another.
    pub fn cluster(&self, c: usize) -> Option<&Cluster> {
        self.clusters[c].as_ref()
    }

    /// The cluster of `id`, if it is a loop node.
    pub fn cluster_of(&self, id: NodeId) -> Option<usize> {
        self.cluster_of[id.index()]
    }

    /// The live clusters in key order.
    pub fn in_key_order(&self) -> Vec<usize> {
        self.order
            .iter()
            .filter_map(|&(_, u)| match u {
                Unit::Cluster(c) => Some(c),
                Unit::Node(_) => None,
            })
            .collect()
    }

    /// The `n` live clusters that run last before cluster `b`, earliest first.
    pub fn partners_before(&self, b: usize, n: usize) -> Vec<usize> {
        let Some(key) = self.cluster(b).map(|c| OrdF64(c.key)) else {
            return Vec::new();
        };
        let mut partners: Vec<usize> = self
            .order
            .range(..(key, Unit::Cluster(b)))
            .rev()
            .filter_map(|&(_, u)| match u {
                Unit::Cluster(c) => Some(c),
                Unit::Node(_) => None,
            })
            .take(n)
            .collect();
        partners.reverse();
        partners
    }

    /// The key of live cluster `c`.
    pub(super) fn key(&self, c: usize) -> f64 {
        self.clusters[c].as_ref().map_or(f64::NAN, |c| c.key)
    }

    /// Whether the value of `id` is needed outside the cluster it is in: a user in another
    /// cluster (or outside every cluster), or an output or update value.
    pub fn needed_outside(&self, id: NodeId) -> bool {
        let own = self.cluster_of(id);
        self.escapes[id.index()]
            || self.users[id.index()]
                .iter()
                .any(|&u| own.is_none() || self.cluster_of(u) != own)
    }

    /// Whether some member of `a` reads a member of `b` or the other way round (directly).
    pub fn edges_between(&self, a: usize, b: usize) -> Vec<(NodeId, NodeId)> {
        let mut edges = Vec::new();
        for (from, to) in [(a, b), (b, a)] {
            let Some(to_cluster) = self.cluster(to) else {
                continue;
            };
            for reader in to_cluster.members() {
                for &o in &self.operands[reader.index()] {
                    if self.cluster_of(o) == Some(from) {
                        edges.push((o, reader));
                    }
                }
            }
        }
        edges
    }

    /// Make `into` the kernel of `merged` at `key`, absorbing `from`.
    pub fn merge(&mut self, from: usize, into: usize, merged: Merged, key: f64) {
        let absorbed = self.clusters[from].take().expect("live cluster");
        self.order
            .remove(&(OrdF64(absorbed.key), Unit::Cluster(from)));
        self.order
            .remove(&(OrdF64(self.key(into)), Unit::Cluster(into)));
        self.order.insert((OrdF64(key), Unit::Cluster(into)));
        for m in absorbed.members() {
            self.cluster_of[m.index()] = Some(into);
        }
        self.clusters[into] = Some(Cluster {
            groups: merged,
            key,
        });
    }
}

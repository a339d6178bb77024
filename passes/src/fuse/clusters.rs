//! [`Clusters`]: the state of kernel merging, the second stage of fusion — which loop nodes
//! (see [`super::loops`]) share a kernel, in which loops, and where each kernel runs.
//!
//! Every loop node starts as a cluster of its own, one loop of one member, at its own
//! position (its *key*). A merge rule ([`super::MERGES`]) proposes the loops two clusters
//! would form together ([`Merged`]); [`Clusters::placement`] then finds where the merged
//! kernel can run, or refuses:
//!
//! - **Between its operands and its users.** The kernel runs after every value it reads
//!   from outside and before every node outside that reads one of its results (through
//!   views too): its *window*. A window that is empty means a merge would make a cycle (a
//!   value that leaves the kernel and comes back), so it is refused. Keys always form a
//!   topological order of the kernels; the rebuild emits them in key order.
//! - **Moving little.** The kernel runs at the key of one of the two clusters. A member
//!   moves from its own key to that one; moving past another kernel keeps its operands (or
//!   delays its results) alive across that kernel, so a member with more than
//!   [`SMALL_LOOP_ELEMENTS`] elements in its domain moves only past kernels that are small
//!   themselves. Small members move freely.
//!
//! Deliberately not here: which merges are worth making (the rules decide) and building
//! the merged graph (`build.rs`).

use std::collections::HashSet;

use ir::{Graph, NodeId, Op, Shape};

use super::loops::{LoopNode, as_loop};

/// Loop domains up to this many elements are *small*: merging may move such a loop past
/// other kernels. At 32768 f32 (128 KiB) a moved loop keeps at most a few cache-sized values
/// alive longer; the seed MLP's loss, metric and bias-gradient loops (up to `[100, 300]`)
/// are below it, a convolution layer's activations (`[100, 26, 26, 32]`) far above.
pub const SMALL_LOOP_ELEMENTS: usize = 1 << 15;

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

/// The clusters of a graph's loop nodes (see the module docs).
pub struct Clusters<'g> {
    graph: &'g Graph,
    loops: Vec<Option<LoopNode>>,
    cluster_of: Vec<Option<usize>>,
    clusters: Vec<Option<Cluster>>,
    /// Whether each node is read by an output or is an update value.
    escapes: Vec<bool>,
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
        let mut live: Vec<usize> = (0..self.clusters.len())
            .filter(|&c| self.clusters[c].is_some())
            .collect();
        live.sort_by(|&a, &b| self.key(a).total_cmp(&self.key(b)));
        live
    }

    fn key(&self, c: usize) -> f64 {
        self.clusters[c].as_ref().map_or(f64::NAN, |c| c.key)
    }

    /// Whether the value of `id` is needed outside the cluster it is in: a user in another
    /// cluster (or outside every cluster), or an output or update value.
    pub fn needed_outside(&self, id: NodeId) -> bool {
        let own = self.cluster_of(id);
        self.escapes[id.index()]
            || self
                .graph
                .users(id)
                .into_iter()
                .any(|u| own.is_none() || self.cluster_of(u) != own)
    }

    /// Whether some member of `a` reads a member of `b` or the other way round (directly).
    pub fn edges_between(&self, a: usize, b: usize) -> Vec<(NodeId, NodeId)> {
        let mut edges = Vec::new();
        for (from, to) in [(a, b), (b, a)] {
            let Some(to_cluster) = self.cluster(to) else {
                continue;
            };
            for reader in to_cluster.members() {
                for o in self.graph.operands(reader) {
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
        for m in absorbed.members() {
            self.cluster_of[m.index()] = Some(into);
        }
        self.clusters[into] = Some(Cluster {
            groups: merged,
            key,
        });
    }
}

impl Clusters<'_> {
    /// The key of the unit that computes `id`'s value: its cluster's, its own for another
    /// kernel, its operand's for a view, before everything for a leaf.
    fn unit_key(&self, id: NodeId) -> f64 {
        match self.graph.op(id) {
            Op::Input { .. } | Op::Param { .. } | Op::Const(_) => f64::NEG_INFINITY,
            Op::Reshape(_) => self.unit_key(self.graph.operands(id)[0]),
            _ => self
                .cluster_of(id)
                .map_or(id.index() as f64, |c| self.key(c)),
        }
    }

    /// The node whose memory a chain of views of `id` shows.
    fn viewed(&self, mut id: NodeId) -> NodeId {
        while matches!(self.graph.op(id), Op::Reshape(_)) {
            id = self.graph.operands(id)[0];
        }
        id
    }

    /// The open interval of keys where a kernel computing `members` can run: after every
    /// value it reads from outside, before every outside reader of its values (through
    /// views). `None` when it would read its own value through a view.
    fn window(&self, members: &HashSet<NodeId>) -> Option<(f64, f64)> {
        let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
        for &m in members {
            for o in self.graph.operands(m) {
                if members.contains(&o) {
                    continue;
                }
                if members.contains(&self.viewed(o)) {
                    return None;
                }
                lo = lo.max(self.unit_key(o));
            }
            let mut readers = self.graph.users(m);
            while let Some(u) = readers.pop() {
                if members.contains(&u) {
                    continue;
                }
                if matches!(self.graph.op(u), Op::Reshape(_)) {
                    readers.extend(self.graph.users(u));
                    continue;
                }
                hi = hi.min(self.unit_key(u));
            }
        }
        Some((lo, hi))
    }
}

impl Clusters<'_> {
    /// Where the kernel of clusters `a` and `b` merged can run: the key of `b`, else of
    /// `a`, whichever lies in its window and lets every member move there (see the module
    /// docs); `None` when neither does.
    pub fn placement(&self, a: usize, b: usize) -> Option<f64> {
        let members: HashSet<NodeId> = [a, b]
            .iter()
            .filter_map(|&c| self.cluster(c))
            .flat_map(Cluster::members)
            .collect();
        let (lo, hi) = self.window(&members)?;
        [self.key(b), self.key(a)]
            .into_iter()
            .find(|&p| lo < p && p < hi && self.members_may_move(&members, [a, b], p))
    }

    /// Whether every member of `clusters` may move from its cluster's key to `p`.
    fn members_may_move(&self, members: &HashSet<NodeId>, clusters: [usize; 2], p: f64) -> bool {
        clusters.iter().all(|&c| {
            let from = self.key(c);
            let big = self.cluster(c).is_some_and(|cl| {
                cl.groups
                    .iter()
                    .any(|g| g.domain.numel() > SMALL_LOOP_ELEMENTS)
            });
            from == p || !big || self.only_small_kernels_between(members, from, p)
        })
    }

    /// Whether every kernel strictly between keys `from` and `to` (members of the merge
    /// aside) is small.
    fn only_small_kernels_between(&self, members: &HashSet<NodeId>, from: f64, to: f64) -> bool {
        let (lo, hi) = (from.min(to), from.max(to));
        self.graph.node_ids().all(|id| {
            let op = self.graph.op(id);
            let kernel = !matches!(
                op,
                Op::Input { .. } | Op::Param { .. } | Op::Const(_) | Op::Reshape(_)
            );
            let k = self.unit_key(id);
            !kernel || members.contains(&id) || k <= lo || k >= hi || self.unit_is_small(id)
        })
    }

    /// Whether the kernel computing `id` is small: its cluster's loops, or its own value.
    fn unit_is_small(&self, id: NodeId) -> bool {
        match self.cluster_of(id).and_then(|c| self.cluster(c)) {
            Some(c) => c
                .groups
                .iter()
                .all(|g| g.domain.numel() <= SMALL_LOOP_ELEMENTS),
            None => self.graph.shape(id).numel() <= SMALL_LOOP_ELEMENTS,
        }
    }
}

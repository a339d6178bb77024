//! Where a merged kernel can run ([`Clusters::placement`]), or why it cannot:
//!
//! - **Between its operands and its users.** The kernel runs after every value it reads
//!   from outside and before every node outside that reads one of its results (through
//!   views too): its *window*. A window that is empty means a merge would make a cycle (a
//!   value that leaves the kernel and comes back), so it is refused. Keys always form a
//!   topological order of the kernels; the rebuild emits them in key order.
//! - **Moving little.** The kernel runs at the key of one of the two clusters. A member
//!   moves from its own key to that one; moving past another kernel keeps its operands (or
//!   delays its results) alive across that kernel, so a cluster with a loop of more than
//!   [`SMALL_LOOP_ELEMENTS`] elements moves only past kernels that are small themselves.
//!   Small clusters move freely.
//!
//! Deliberately not here: whether the merge is wanted (the rules) and what it builds.

use ir::{NodeId, Op};

use super::clusters::{Cluster, Clusters, OrdF64, Unit};

/// Loop domains up to this many elements are *small*: merging may move such a loop past
/// other kernels. At 32768 f32 (128 KiB) a moved loop keeps at most a few cache-sized values
/// alive longer; the seed MLP's loss, metric and bias-gradient loops (up to `[100, 300]`)
/// are below it, a convolution layer's activations (`[100, 26, 26, 32]`) far above.
pub const SMALL_LOOP_ELEMENTS: usize = 1 << 15;

impl Clusters<'_> {
    /// The key of the unit that computes `id`'s value: its cluster's, its own for another
    /// kernel, its operand's for a view, before everything for a leaf.
    fn unit_key(&self, id: NodeId) -> f64 {
        match self.graph.op(id) {
            Op::Input { .. } | Op::Param { .. } | Op::Const(_) => f64::NEG_INFINITY,
            Op::Reshape(_) => self.unit_key(self.operands[id.index()][0]),
            _ => self
                .cluster_of(id)
                .map_or(id.index() as f64, |c| self.key(c)),
        }
    }

    /// The node whose memory a chain of views of `id` shows.
    fn viewed(&self, mut id: NodeId) -> NodeId {
        while matches!(self.graph.op(id), Op::Reshape(_)) {
            id = self.operands[id.index()][0];
        }
        id
    }

    /// The open interval of keys where the kernel of clusters `pair` merged can run: after
    /// every value it reads from outside, before every outside reader of its values
    /// (through views). `None` when it would read its own value through a view.
    fn window(&self, pair: [usize; 2]) -> Option<(f64, f64)> {
        let inside = |n: NodeId| self.cluster_of(n).is_some_and(|c| pair.contains(&c));
        let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
        for m in pair
            .iter()
            .filter_map(|&c| self.cluster(c))
            .flat_map(Cluster::members)
        {
            for &o in &self.operands[m.index()] {
                if inside(o) {
                    continue;
                }
                if inside(self.viewed(o)) {
                    return None;
                }
                lo = lo.max(self.unit_key(o));
            }
            let mut readers = self.users[m.index()].clone();
            while let Some(u) = readers.pop() {
                if inside(u) {
                    continue;
                }
                if matches!(self.graph.op(u), Op::Reshape(_)) {
                    readers.extend(&self.users[u.index()]);
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
        let (lo, hi) = self.window([a, b])?;
        [self.key(b), self.key(a)]
            .into_iter()
            .find(|&p| lo < p && p < hi && self.clusters_may_move([a, b], p))
    }

    /// Whether both `clusters` may move from their keys to `p`.
    fn clusters_may_move(&self, clusters: [usize; 2], p: f64) -> bool {
        clusters.iter().all(|&c| {
            let from = self.key(c);
            let big = self.cluster(c).is_some_and(|cl| !is_small(cl));
            from == p || !big || self.only_small_kernels_between(clusters, from, p)
        })
    }

    /// Whether every kernel strictly between keys `from` and `to` (the merging clusters
    /// aside) is small.
    fn only_small_kernels_between(&self, merging: [usize; 2], from: f64, to: f64) -> bool {
        let (lo, hi) = (OrdF64(from.min(to)), OrdF64(from.max(to)));
        self.order
            .range((lo, Unit::Cluster(0))..(hi, Unit::Cluster(0)))
            .filter(|&&(k, _)| k != lo)
            .all(|&(_, unit)| match unit {
                Unit::Cluster(c) => merging.contains(&c) || self.cluster(c).is_none_or(is_small),
                Unit::Node(id) => self.graph.shape(id).numel() <= SMALL_LOOP_ELEMENTS,
            })
    }
}

/// Whether every loop of `c` is small.
fn is_small(c: &Cluster) -> bool {
    c.groups
        .iter()
        .all(|g| g.domain.numel() <= SMALL_LOOP_ELEMENTS)
}

//! The multi-output rule: two kernels over the same domain become one loop that computes
//! both and writes every value needed outside — a producer whose value is also needed
//! elsewhere fuses into its consumer and is written as an extra result (`s = x - m` and
//! `e = exp(s)` written while `sum(e)` is reduced), and siblings over one domain share one
//! pass (a row maximum, a row argmax and a labels' row sum over `[batch, classes]`; Adam's
//! `m`, `v` and `p` updates of one parameter).
//!
//! Guarantees: both clusters are single loops over equal domains whose reduced axes agree
//! (or one reduces nothing), and every value one reads from the other is an elementwise
//! value of the domain's shape, read at its own index — so each member is still computed
//! once, per element, as the primitive ops compute it (no reduction result is read inside
//! the loop it is reduced in, nothing is broadcast). Placement and cycles are the driver's
//! ([`super::clusters::Clusters::placement`]).
//!
//! Deliberately not done: a loop reading a reduction of the same loop (a softmax's
//! `exp(x - max)` after its `max`: that needs a second pass over the domain), reductions over
//! different axes in one loop, and anchors (matmul, convolution, pooling).

use super::clusters::{Clusters, LoopGroup, Merged};

/// The one loop of clusters `a` and `b`, when they can share one.
pub fn merge(clusters: &Clusters, a: usize, b: usize) -> Option<Merged> {
    let (ca, cb) = (clusters.cluster(a)?, clusters.cluster(b)?);
    let ([ga], [gb]) = (ca.groups.as_slice(), cb.groups.as_slice()) else {
        return None;
    };
    if ga.domain != gb.domain {
        return None;
    }
    let axes = match (&ga.axes, &gb.axes) {
        (Some(x), Some(y)) if x != y => return None,
        (x, y) => x.clone().or_else(|| y.clone()),
    };
    let elementwise_edges = clusters
        .edges_between(a, b)
        .into_iter()
        .all(|(value, _)| clusters.loop_node(value).is_elementwise());
    if !elementwise_edges {
        return None;
    }
    let mut members: Vec<_> = ga.members.iter().chain(&gb.members).copied().collect();
    members.sort_unstable();
    Some(vec![LoopGroup {
        members,
        domain: ga.domain.clone(),
        axes,
    }])
}

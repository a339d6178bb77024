//! The horizontal rule: independent kernels run as one kernel of several loops — the
//! per-parameter updates of an optimizer (each parameter's own loop, one dispatch for all),
//! or the small loss, metric and bias-gradient loops of a step.
//!
//! Guarantees: neither cluster reads a value of the other (and the driver's window rules out
//! a path through other kernels), so the loops can run in any order or side by side; each
//! keeps its own domain, reads and results.
//!
//! Deliberately not done: nothing is shared between the loops (each reads its operands
//! itself), and big loops are merged only where no other kernel runs between them (the
//! driver's movement rule), so merging never stretches a large value's lifetime.

use super::clusters::{Clusters, Merged};

/// The loops of clusters `a` and `b` side by side, when neither reads the other.
pub fn merge(clusters: &Clusters, a: usize, b: usize) -> Option<Merged> {
    let (ca, cb) = (clusters.cluster(a)?, clusters.cluster(b)?);
    if !clusters.edges_between(a, b).is_empty() {
        return None;
    }
    let mut groups = ca.groups.clone();
    groups.extend(cb.groups.iter().cloned());
    groups.sort_by_key(|g| g.members[0]);
    Some(groups)
}

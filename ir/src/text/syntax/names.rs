//! Elementwise ops and reductions looked up by their text-form names.

use crate::op::{BinaryOp, ReduceOp, UnaryOp};

/// Every reduction, in declaration order.
const REDUCE_OPS: [ReduceOp; 5] = [
    ReduceOp::Sum,
    ReduceOp::Mean,
    ReduceOp::Max,
    ReduceOp::Min,
    ReduceOp::ArgMax,
];

/// The reduction called `name`.
pub(super) fn reduce_op_named(name: &str) -> Option<ReduceOp> {
    REDUCE_OPS.into_iter().find(|r| r.name() == name)
}

/// The unary op called `name`.
pub(in crate::text) fn unary_named(name: &str) -> Option<UnaryOp> {
    UnaryOp::ALL.into_iter().find(|u| u.name() == name)
}

/// The binary op called `name`.
pub(in crate::text) fn binary_named(name: &str) -> Option<BinaryOp> {
    BinaryOp::ALL.into_iter().find(|b| b.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reduction_is_listed_once() {
        // Exhaustive: a new reduction fails to compile here until it gets an index.
        let index = |r: ReduceOp| match r {
            ReduceOp::Sum => 0,
            ReduceOp::Mean => 1,
            ReduceOp::Max => 2,
            ReduceOp::Min => 3,
            ReduceOp::ArgMax => 4,
        };
        assert_eq!(REDUCE_OPS.map(index), [0, 1, 2, 3, 4]);
        for r in REDUCE_OPS {
            assert_eq!(reduce_op_named(r.name()), Some(r));
        }
    }
}

//! Common subexpression elimination.
//!
//! Guarantees: two nodes with identical ops and identical (already merged) operands become
//! one node; every user, output and update of the dropped copy uses the survivor (the
//! earliest). Constants are identical when shape and every value's *bits* agree, so `0.0`
//! and `-0.0` stay apart. Other ops compare by all attributes; a float attribute (a pad
//! value, a fused program's constant) compares by its exact printed value, which separates
//! `-0.0` from `0.0` and merges only NaNs (whose payload no op observes).
//! `RandomUniform` nodes merge only when their seed operand is the same node: the same seed
//! gives the same numbers, so that is the same value.
//!
//! Deliberately not done: `Input`/`Param` leaves never merge (they are distinct bindings
//! even when shaped alike); no commutativity (`a + b` and `b + a` stay two nodes); unused
//! nodes are not removed (run [`super::dce()`] after).

use std::collections::HashMap;

use ir::{Graph, NodeId, Op, Shape};

use crate::error::PassError;
use crate::rebuild::Rebuild;

/// What two nodes must share to be merged: the op (by [`op_key`]) and the new operands.
type Key = (OpKey, Vec<NodeId>);

/// An op reduced to what decides equality for CSE.
#[derive(PartialEq, Eq, Hash)]
enum OpKey {
    /// A constant: its shape and the bits of every element.
    Const(Shape, Vec<u32>),
    /// Any other op: its full debug form (every attribute, floats in round-trip form).
    Other(String),
}

/// Merge nodes that compute the same op on the same operands.
pub fn cse(graph: &Graph) -> Result<Graph, PassError> {
    let mut rebuild = Rebuild::new(graph);
    let mut seen: HashMap<Key, NodeId> = HashMap::new();
    for id in graph.node_ids() {
        let Some(op_key) = op_key(graph.op(id)) else {
            rebuild.copy(id)?;
            continue;
        };
        let operands = graph
            .operands(id)
            .into_iter()
            .map(|o| rebuild.mapped(o))
            .collect::<Result<Vec<_>, _>>()?;
        let key = (op_key, operands);
        match seen.get(&key) {
            Some(&survivor) => rebuild.set(id, survivor),
            None => {
                let new = rebuild.copy(id)?;
                seen.insert(key, new);
            }
        }
    }
    rebuild.finish()
}

/// A key that is equal for two ops exactly when CSE may merge them; `None` for leaves that
/// must never merge.
fn op_key(op: &Op) -> Option<OpKey> {
    match op {
        Op::Input { .. } | Op::Param { .. } => None,
        Op::Const(t) => Some(OpKey::Const(
            t.shape.clone(),
            t.data.iter().map(|v| v.to_bits()).collect(),
        )),
        other => Some(OpKey::Other(format!("{other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::{BinaryOp, Tensor, UnaryOp};

    #[test]
    fn merges_identical_subtrees_and_constants_by_bits() {
        let mut g = Graph::new();
        let x = g.input("x", [3]);
        let one_a = g.scalar(1.0);
        let one_b = g.scalar(1.0);
        let neg_zero = g.scalar(-0.0);
        let zero = g.scalar(0.0);
        let e1 = g.unary(UnaryOp::Exp, x).unwrap();
        let e2 = g.unary(UnaryOp::Exp, x).unwrap();
        let s1 = g.binary(BinaryOp::Add, e1, one_a).unwrap();
        let s2 = g.binary(BinaryOp::Add, e2, one_b).unwrap();
        let t1 = g.binary(BinaryOp::Mul, s1, neg_zero).unwrap();
        let t2 = g.binary(BinaryOp::Mul, s2, zero).unwrap();
        g.add_output("a", t1).unwrap();
        g.add_output("b", t2).unwrap();
        g.add_output("c", s2).unwrap();

        let out = cse(&g).unwrap();
        // x, 1.0, -0.0, 0.0, exp, add, mul(-0.0), mul(0.0)
        assert_eq!(out.len(), 8);
        assert_ne!(
            out.output("a"),
            out.output("b"),
            "-0.0 and 0.0 are different constants"
        );
        let sum = out.output("c").unwrap();
        assert_eq!(out.operands(out.output("a").unwrap())[0], sum);
        assert_eq!(out.operands(out.output("b").unwrap())[0], sum);
    }

    #[test]
    fn random_uniform_merges_only_on_the_same_seed_node() {
        let mut g = Graph::new();
        let seed_a = g.input("seed_a", Shape::scalar());
        let seed_b = g.input("seed_b", Shape::scalar());
        let shape = Shape::from([4]);
        let r1 = g.add(Op::RandomUniform(shape.clone()), &[seed_a]).unwrap();
        let r2 = g.add(Op::RandomUniform(shape.clone()), &[seed_a]).unwrap();
        let r3 = g.add(Op::RandomUniform(shape), &[seed_b]).unwrap();
        for (name, id) in [("r1", r1), ("r2", r2), ("r3", r3)] {
            g.add_output(name, id).unwrap();
        }
        let out = cse(&g).unwrap();
        assert_eq!(out.output("r1"), out.output("r2"));
        assert_ne!(out.output("r1"), out.output("r3"));
    }

    #[test]
    fn inputs_with_equal_shapes_stay_distinct() {
        let mut g = Graph::new();
        let a = g.input("a", [2]);
        let b = g.input("b", [2]);
        g.add_output("a", a).unwrap();
        g.add_output("b", b).unwrap();
        let c = g.constant(Tensor::new([2], vec![1.0, 2.0]).unwrap());
        let d = g.constant(Tensor::new([2], vec![1.0, 2.0]).unwrap());
        g.add_output("c", c).unwrap();
        g.add_output("d", d).unwrap();
        let out = cse(&g).unwrap();
        assert_ne!(out.output("a"), out.output("b"));
        assert_eq!(out.output("c"), out.output("d"));
    }
}

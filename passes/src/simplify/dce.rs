//! Dead code elimination.
//!
//! Guarantees: the result holds exactly the nodes that an output or an update (param and new
//! value) transitively needs, plus every `Input` and `Param` leaf, in their original relative
//! order. Leaves are kept even when unused because callers (and codegen) bind inputs and
//! params by name: dropping one would change the compiled function's interface.
//!
//! Deliberately not done: no node is changed or merged, and nothing is dropped because its
//! value is "obviously" unused inside a fused program (fused ops are opaque here).

use ir::{Graph, Op};

use crate::error::PassError;
use crate::rebuild::Rebuild;

/// Remove every node that no output or update needs (keeping all `Input`/`Param` leaves).
pub fn dce(graph: &Graph) -> Result<Graph, PassError> {
    let mut live = vec![false; graph.len()];
    let roots = graph
        .outputs
        .iter()
        .map(|&(_, id)| id)
        .chain(graph.updates.iter().flat_map(|&(p, v)| [p, v]));
    for id in roots {
        live[id.index()] = true;
    }
    for id in graph.node_ids() {
        if matches!(graph.op(id), Op::Input { .. } | Op::Param { .. }) {
            live[id.index()] = true;
        }
    }
    // Operands precede users, so one backward sweep propagates liveness to a fixed point.
    for id in graph.node_ids().rev() {
        if live[id.index()] {
            for operand in graph.operands(id) {
                live[operand.index()] = true;
            }
        }
    }
    let mut rebuild = Rebuild::new(graph);
    for id in graph.node_ids().filter(|id| live[id.index()]) {
        rebuild.copy(id)?;
    }
    rebuild.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::{BinaryOp, UnaryOp};

    #[test]
    fn drops_unused_nodes_but_keeps_leaves_and_updates() {
        let mut g = Graph::new();
        let x = g.input("x", [4]);
        let unused_input = g.input("unused", [2]);
        let w = g.param("w", [4]);
        let dead = g.unary(UnaryOp::Exp, x).unwrap();
        let _dead_too = g.unary(UnaryOp::Log, dead).unwrap();
        let y = g.binary(BinaryOp::Mul, x, w).unwrap();
        let step = g.scalar(0.5);
        let w_new = g.binary(BinaryOp::Sub, w, step).unwrap();
        g.add_output("y", y).unwrap();
        g.add_update(w, w_new).unwrap();

        let out = dce(&g).unwrap();
        assert_eq!(out.len(), 6, "x, unused, w, y, step, w_new");
        assert!(out.find_leaf("unused").is_some());
        assert!(out.node_ids().all(|n| !matches!(out.op(n), Op::Unary(_))));
        let y = out.output("y").unwrap();
        assert_eq!(out.op(y), &Op::Binary(BinaryOp::Mul));
        let (p, v) = out.updates[0];
        assert!(matches!(out.op(p), Op::Param { name, .. } if name == "w"));
        assert_eq!(out.op(v), &Op::Binary(BinaryOp::Sub));
        let _ = unused_input;
    }
}

//! The verifier: checks that a [`Graph`] is well formed before passes or backends rely on it.
//!
//! Invariants checked, in this order (the first broken one is reported as
//! [`IrError::Verify`] naming the node, or the output/update, at fault):
//!
//! 1. **Operands precede users**: every operand id of node `%n` is below `n`, so id order is
//!    a schedule. *[`Graph::add`] already refuses operands that do not exist yet, so no graph
//!    built through the public API breaks this; it is checked for robustness.*
//! 2. **Leaves have no operands**: `input`, `param` and `const` nodes take none. *Shape
//!    inference in [`Graph::add`] enforces this too.*
//! 3. **Stored shapes are the inferred shapes**: re-running [`infer_shape`] on each node's op
//!    and operand shapes succeeds and gives the stored shape (this covers operand counts,
//!    constant sizes, reduction axes, conv/pool geometry, broadcasting). *Shapes are only
//!    set by [`Graph::add`], so this cannot break through the public API either.*
//! 4. **Fused programs are well formed**: each program is non-empty; each register reads
//!    only earlier registers; each `in i` is below the number of inputs the kernel gives its
//!    program (all operands for `fused.elementwise`/`fused.reduce`; for the epilogue kernels
//!    `fused.matmul`, `fused.conv2d`, `fused.depthwise_conv2d`, `fused.pool2d`, the anchor's
//!    result as input 0 and the operands after the anchor's own, see
//!    [`crate::FusedOp::anchored_epilogue`]; for each loop of `fused.multi`, all operands).
//!    *[`Graph::add`] checks input ranges but not register order, nor an empty elementwise
//!    program.*
//! 5. **Multi-result kernels are read through `extract`**: every user of a `fused.multi` node
//!    is an `extract` (its node holds no value); an `extract` reads a `fused.multi` node, names
//!    one of its results and has that result's shape; no result has two `extract`s.
//! 6. **Leaf names are unique**: no two `input`/`param` nodes share a name (inputs and
//!    params share one namespace, as [`Graph::find_leaf`] looks both up).
//! 7. **Outputs** name nodes of this graph, and no two outputs share a name.
//! 8. **Updates**: both nodes belong to this graph, the target is a `param`, the new value
//!    has the param's shape, and each param is updated at most once.
//!    *[`Graph::add_update`] checks these, but `Graph::updates` is a public field.*

use std::collections::HashSet;

use crate::error::{IrError, Result};
use crate::fused::{FusedOp, Instr, Program};
use crate::graph::{Graph, NodeId};
use crate::infer::infer_shape;
use crate::op::Op;
use crate::shape::Shape;

/// Check every invariant listed in the [module docs](self).
pub fn verify(graph: &Graph) -> Result<()> {
    for id in graph.node_ids() {
        verify_node(graph, id)?;
    }
    verify_leaf_names(graph)?;
    verify_outputs(graph)?;
    verify_updates(graph)
}

fn fail(node: impl ToString, msg: impl Into<String>) -> IrError {
    IrError::Verify {
        node: node.to_string(),
        msg: msg.into(),
    }
}

fn verify_node(graph: &Graph, id: NodeId) -> Result<()> {
    let op = graph.op(id);
    let operands = graph.operands(id);
    if let Some(late) = operands.iter().find(|o| o.index() >= id.index()) {
        return Err(fail(
            id,
            format!("operand {late} does not precede its user"),
        ));
    }
    if matches!(op, Op::Input { .. } | Op::Param { .. } | Op::Const(_)) && !operands.is_empty() {
        return Err(fail(id, format!("a leaf has {} operands", operands.len())));
    }
    let shapes: Vec<&Shape> = operands.iter().map(|&o| graph.shape(o)).collect();
    let inferred = infer_shape(op, &shapes).map_err(|e| fail(id, e.to_string()))?;
    if &inferred != graph.shape(id) {
        return Err(fail(
            id,
            format!(
                "stored shape {} but inference gives {inferred}",
                graph.shape(id)
            ),
        ));
    }
    if let Op::Fused(f) = op {
        // An epilogue reads the anchor's result and the operands after the anchor's own.
        let n_inputs = match f.anchored_epilogue() {
            Some(k) => operands.len().saturating_sub(k.arity) + 1,
            None => operands.len(),
        };
        for program in f.programs() {
            verify_program(program, n_inputs)
                .map_err(|msg| fail(id, format!("{}: {msg}", f.name())))?;
        }
    }
    verify_multi_results(graph, id)
}

/// Invariant 5 at node `id`: a `fused.multi` node is read only by `extract`s, one per result
/// at most, and an `extract` names a result of the kernel it reads, with its shape.
fn verify_multi_results(graph: &Graph, id: NodeId) -> Result<()> {
    match graph.op(id) {
        Op::Fused(FusedOp::Multi(_)) => {
            let mut seen = HashSet::new();
            for user in graph.users(id) {
                let Op::Extract { index, .. } = graph.op(user) else {
                    return Err(fail(
                        id,
                        format!("a multi-result kernel is read by {user}, which is not an extract"),
                    ));
                };
                if !seen.insert(*index) {
                    return Err(fail(user, format!("result {index} is extracted twice")));
                }
            }
            Ok(())
        }
        Op::Extract { index, shape } => {
            let kernel = graph.operands(id)[0];
            let Op::Fused(FusedOp::Multi(k)) = graph.op(kernel) else {
                return Err(fail(
                    id,
                    format!("extracts from {kernel}, not a fused.multi"),
                ));
            };
            let result_shape = k.result(*index).map(|(l, r)| k.loops[l].result_shape(r));
            match result_shape {
                Some(Ok(s)) if s == *shape => Ok(()),
                Some(Ok(s)) => Err(fail(
                    id,
                    format!("result {index} of {kernel} has shape {s}, not {shape}"),
                )),
                _ => Err(fail(
                    id,
                    format!("{kernel} has {} results, no result {index}", k.n_results()),
                )),
            }
        }
        _ => Ok(()),
    }
}

/// A program is non-empty, reads only earlier registers and only inputs below `n_inputs`.
fn verify_program(program: &Program, n_inputs: usize) -> Result<(), String> {
    if program.instrs.is_empty() {
        return Err("empty program".into());
    }
    for (i, instr) in program.instrs.iter().enumerate() {
        let reads: &[usize] = match instr {
            Instr::Input(n) if *n >= n_inputs => {
                return Err(format!(
                    "r{i} reads input {n} but the program has {n_inputs} inputs"
                ));
            }
            Instr::Input(_) | Instr::Const(_) => &[],
            Instr::Unary(_, a) => &[*a],
            Instr::Binary(_, a, b) => &[*a, *b],
            Instr::Select(c, a, b) => &[*c, *a, *b],
        };
        if let Some(r) = reads.iter().find(|&&r| r >= i) {
            return Err(format!("r{i} reads r{r}, which is not an earlier register"));
        }
    }
    Ok(())
}

fn verify_leaf_names(graph: &Graph) -> Result<()> {
    let mut seen = HashSet::new();
    for id in graph.node_ids() {
        if let Op::Input { name, .. } | Op::Param { name, .. } = graph.op(id)
            && !seen.insert(name.as_str())
        {
            return Err(fail(id, format!("input/param name {name:?} is used twice")));
        }
    }
    Ok(())
}

fn exists(graph: &Graph, id: NodeId) -> bool {
    id.index() < graph.len()
}

fn verify_outputs(graph: &Graph) -> Result<()> {
    let mut seen = HashSet::new();
    for (name, id) in &graph.outputs {
        if !exists(graph, *id) {
            return Err(fail(
                id,
                format!("output {name:?} names a node that is not in the graph"),
            ));
        }
        if !seen.insert(name.as_str()) {
            return Err(fail(id, format!("output name {name:?} is used twice")));
        }
    }
    Ok(())
}

fn verify_updates(graph: &Graph) -> Result<()> {
    let mut updated = HashSet::new();
    for &(param, value) in &graph.updates {
        for node in [param, value] {
            if !exists(graph, node) {
                return Err(fail(
                    node,
                    format!("update {param} = {value} names a node that is not in the graph"),
                ));
            }
        }
        if !matches!(graph.op(param), Op::Param { .. }) {
            return Err(fail(param, "update target is not a param"));
        }
        if graph.shape(param) != graph.shape(value) {
            return Err(fail(
                param,
                format!(
                    "update value {value} has shape {} but the param has {}",
                    graph.shape(value),
                    graph.shape(param)
                ),
            ));
        }
        if !updated.insert(param) {
            return Err(fail(param, "param updated twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::UnaryOp;

    #[test]
    fn program_inputs_must_be_in_range() {
        let p = Program {
            instrs: vec![
                Instr::Input(0),
                Instr::Input(2),
                Instr::Unary(UnaryOp::Neg, 1),
            ],
        };
        assert_eq!(verify_program(&p, 3), Ok(()));
        assert_eq!(
            verify_program(&p, 2),
            Err("r1 reads input 2 but the program has 2 inputs".to_string())
        );
    }
}

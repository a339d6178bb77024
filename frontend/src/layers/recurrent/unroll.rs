//! The one time loop every recurrent cell shares, unrolled into ordinary IR ops: the input
//! projection of all steps as one matmul (`[steps * batch, features] · kernel + bias`, time
//! major so each step's block is contiguous), then per step a slice of that projection and
//! the cell's step (its recurrent product and gate arithmetic). It does not decide what the
//! layer returns (last output, the sequence, the final states) — the layer does.

use ir::{BinaryOp, Graph, NodeId, Op, Shape};

use crate::error::Result;
use crate::layers::recurrent::cell::{Cell, StepContext};

/// The parameter nodes of one recurrent layer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Weights {
    /// `kernel` `[features, gates * units]`.
    pub kernel: NodeId,
    /// `recurrent_kernel` `[units, gates * units]`.
    pub recurrent: NodeId,
    /// `bias`, if the layer has one.
    pub bias: Option<NodeId>,
}

/// What a run of a recurrent layer over a sequence gives.
#[derive(Debug, Clone)]
pub(crate) struct Unrolled {
    /// Each step's output `h` `[batch, units]`, in processing order.
    pub outputs: Vec<NodeId>,
    /// The states after the last processed step (`h` first; LSTM: `h`, `c`).
    pub states: Vec<NodeId>,
}

/// Runs `cell` over `x` `[batch, steps, features]` (last step first when `backwards`):
/// each step's output and the final states.
pub(crate) fn unroll<C: Cell>(
    cell: &C,
    g: &mut Graph,
    x: NodeId,
    w: Weights,
    mut cx: StepContext,
    backwards: bool,
) -> Result<Unrolled> {
    let [batch, steps, features] = *g.shape(x).dims() else {
        unreachable!("the layer checked the rank")
    };
    let width = cell.gates() * cx.units;
    let (input_bias, recurrent_bias) = match w.bias {
        Some(b) => {
            let (i, r) = cell.split_bias(g, b)?;
            (Some(i), r)
        }
        None => (None, None),
    };
    cx.recurrent_bias = recurrent_bias;
    cx.recurrent = cell.prepare_recurrent(g, w.recurrent, cx.units)?;

    let time_major = g.add(Op::Transpose(vec![1, 0, 2]), &[x])?;
    let rows = g.reshape(time_major, [steps * batch, features])?;
    let mut projected = g.matmul(rows, w.kernel, false, false)?;
    if let Some(b) = input_bias {
        projected = g.binary(BinaryOp::Add, projected, b)?;
    }
    let projected = g.reshape(projected, [steps, batch, width])?;

    let order: Vec<usize> = if backwards {
        (0..steps).rev().collect()
    } else {
        (0..steps).collect()
    };
    let mut states: Option<Vec<NodeId>> = None;
    let mut outputs = Vec::with_capacity(steps);
    for t in order {
        let block = g.add(
            Op::Slice {
                starts: vec![t, 0, 0],
                ends: vec![t + 1, batch, width],
            },
            &[projected],
        )?;
        let xp = g.reshape(block, [batch, width])?;
        let next = cell.step(g, &cx, xp, states.as_deref())?;
        outputs.push(next[0]);
        states = Some(next);
    }
    Ok(Unrolled {
        outputs,
        states: states.expect("at least one step"),
    })
}

/// The outputs `[batch, units]` of each step joined as a sequence `[batch, steps, units]`.
pub(crate) fn sequence(g: &mut Graph, outputs: &[NodeId]) -> Result<NodeId> {
    let parts = outputs
        .iter()
        .map(|&h| {
            let [batch, units] = *g.shape(h).dims() else {
                unreachable!("step outputs are matrices")
            };
            Ok(g.reshape(h, Shape::from([batch, 1, units]))?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(g.add(Op::Concat { axis: 1 }, &parts)?)
}

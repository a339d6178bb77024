//! Summing the gradient contributions of a node used several times. Contributions that are
//! zero paddings (`pad(d, value 0)`, the gradient of a `slice`) of disjoint ranges along the
//! same single axis are joined by one `concat` (zeros filling the gaps) instead of added:
//! a value sliced into `n` pieces (a sequence into its time steps) then gets its gradient
//! in one write of its size, not `n` full-size pads and `n - 1` full-size adds. The other
//! contributions are added as they arrive (a running sum, so each dies at once), and the
//! joined pads last. Nothing else is rewritten.

use ir::{BinaryOp, Graph, NodeId, Op, Shape, Tensor};

use crate::error::PassError;

/// A zero padding along exactly one axis: `(axis, before, length of the padded operand)`.
fn one_axis_pad(g: &Graph, id: NodeId) -> Option<(usize, usize, usize)> {
    let Op::Pad {
        before,
        after,
        value,
    } = g.op(id)
    else {
        return None;
    };
    if *value != 0.0 {
        return None;
    }
    let mut axes = (0..before.len()).filter(|&a| before[a] != 0 || after[a] != 0);
    let axis = axes.next()?;
    if axes.next().is_some() {
        return None;
    }
    let operand = g.operands(id)[0];
    Some((axis, before[axis], g.shape(operand).dims()[axis]))
}

/// Zeros of `shape` (a broadcast scalar: nothing stored).
fn zeros(g: &mut Graph, shape: Shape) -> Result<NodeId, PassError> {
    let zero = g.constant(Tensor::scalar(0.0));
    Ok(g.add(Op::Broadcast(shape), &[zero])?)
}

/// A one-axis zero pad of a contribution: the pad node, its operand's offset and length.
type Piece = (NodeId, usize, usize);

/// The pads of `parts` along the most common axis, sorted by offset, when they are at least
/// two and do not overlap.
fn disjoint_pads(g: &Graph, parts: &[NodeId]) -> Option<(usize, Vec<Piece>)> {
    let pads: Vec<(NodeId, (usize, usize, usize))> = parts
        .iter()
        .filter_map(|&p| one_axis_pad(g, p).map(|info| (p, info)))
        .collect();
    let axis = (0..g.shape(*parts.first()?).rank())
        .max_by_key(|&a| pads.iter().filter(|(_, i)| i.0 == a).count())?;
    let mut chosen: Vec<Piece> = pads
        .iter()
        .filter(|(_, i)| i.0 == axis)
        .map(|&(p, (_, start, len))| (p, start, len))
        .collect();
    chosen.sort_by_key(|&(_, start, _)| start);
    let disjoint = chosen.windows(2).all(|w| w[0].1 + w[0].2 <= w[1].1);
    (chosen.len() >= 2 && disjoint).then_some((axis, chosen))
}

/// The gradient of one node while its contributions arrive.
#[derive(Debug, Clone, Default)]
pub(super) struct Adjoint {
    /// The running sum of the contributions that are not one-axis zero pads.
    sum: Option<NodeId>,
    /// One-axis zero pads, kept to be joined.
    pads: Vec<NodeId>,
}

impl Adjoint {
    /// Whether no contribution has arrived.
    pub fn is_empty(&self) -> bool {
        self.sum.is_none() && self.pads.is_empty()
    }

    /// One more contribution `dx`.
    pub fn push(&mut self, g: &mut Graph, dx: NodeId) -> Result<(), PassError> {
        if one_axis_pad(g, dx).is_some() {
            self.pads.push(dx);
        } else {
            self.add(g, dx)?;
        }
        Ok(())
    }

    fn add(&mut self, g: &mut Graph, dx: NodeId) -> Result<(), PassError> {
        self.sum = Some(match self.sum {
            Some(acc) => g.binary(BinaryOp::Add, acc, dx)?,
            None => dx,
        });
        Ok(())
    }

    /// The whole gradient (`None` when nothing arrived); afterwards this adjoint holds just
    /// that value.
    pub fn finish(&mut self, g: &mut Graph) -> Result<Option<NodeId>, PassError> {
        let pads = std::mem::take(&mut self.pads);
        match disjoint_pads(g, &pads) {
            Some((axis, chosen)) => {
                let joined = join(g, axis, &chosen)?;
                for p in pads.iter().filter(|p| !chosen.iter().any(|c| c.0 == **p)) {
                    self.add(g, *p)?;
                }
                self.add(g, joined)?;
            }
            None => {
                for p in pads {
                    self.add(g, p)?;
                }
            }
        }
        Ok(self.sum)
    }
}

/// The sum of the disjoint one-axis zero pads `pads` (sorted by offset) as one concat of their
/// operands with zeros in the gaps.
fn join(g: &mut Graph, axis: usize, pads: &[Piece]) -> Result<NodeId, PassError> {
    let full = g.shape(pads[0].0).clone();
    let mut pieces = Vec::with_capacity(2 * pads.len() + 1);
    let mut cursor = 0;
    let gap = |g: &mut Graph, from: usize, to: usize| {
        let mut dims = full.dims().to_vec();
        dims[axis] = to - from;
        zeros(g, Shape::new(dims))
    };
    for &(pad, start, len) in pads {
        if start > cursor {
            pieces.push(gap(g, cursor, start)?);
        }
        pieces.push(g.operands(pad)[0]);
        cursor = start + len;
    }
    if cursor < full.dims()[axis] {
        pieces.push(gap(g, cursor, full.dims()[axis])?);
    }
    Ok(g.add(Op::Concat { axis }, &pieces)?)
}

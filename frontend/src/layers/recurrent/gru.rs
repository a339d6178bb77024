//! The `GRU` cell (Keras' gate order z, r, h) in both of Keras' forms:
//! `reset_after=True` (the default; bias `[2, 3 * units]`: row 0 the input bias, row 1 the
//! recurrent bias; the reset gate multiplies the recurrent projection) and
//! `reset_after=False` (bias `[3 * units]`; the reset gate multiplies `h_prev` before its
//! product with the candidate block of the recurrent kernel). In both,
//! `h = z * h_prev + (1 - z) * candidate`.

use ir::{Graph, NodeId, Op, Shape};
use serde_json::{Map, Value, json};

use crate::error::Result;
use crate::layers::ConfigReader;
use crate::layers::recurrent::cell::{Cell, Ops, StepContext};

/// The cell of Keras' `GRU`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GruCell {
    /// Apply the reset gate after the recurrent product (Keras' default, true).
    pub reset_after: bool,
}

impl Default for GruCell {
    fn default() -> Self {
        GruCell { reset_after: true }
    }
}

impl GruCell {
    /// `z * h_prev + (1 - z) * candidate`, `(1 - z) * candidate` at the first step.
    fn blend(
        o: &mut Ops<'_>,
        z: NodeId,
        prev: Option<NodeId>,
        candidate: NodeId,
    ) -> Result<NodeId> {
        let one = o.0.scalar(1.0);
        let keep_new = o.sub(one, z)?;
        let new = o.mul(keep_new, candidate)?;
        match prev {
            Some(h) => {
                let old = o.mul(z, h)?;
                o.add(old, new)
            }
            None => Ok(new),
        }
    }

    /// `reset_after=True`: the recurrent projection (with its bias) is split like the input's;
    /// it is absent (zero) at the first step of a layer without bias.
    fn step_reset_after(
        o: &mut Ops<'_>,
        cx: &StepContext,
        xp: NodeId,
        h: Option<NodeId>,
    ) -> Result<NodeId> {
        let u = cx.units;
        let inner = match (h, cx.recurrent_bias) {
            (Some(h), rb) => {
                let m = o.matmul(h, cx.recurrent[0])?;
                match rb {
                    Some(rb) => Some(o.add(m, rb)?),
                    None => Some(m),
                }
            }
            (None, Some(rb)) => {
                let rows = o.0.shape(xp).dims()[0];
                Some(o.0.add(Op::Broadcast(Shape::from([rows, 3 * u])), &[rb])?)
            }
            (None, None) => None,
        };
        let (xz, xr, xh) = (o.gate(xp, 0, u)?, o.gate(xp, 1, u)?, o.gate(xp, 2, u)?);
        let (sz, sh) = match inner {
            Some(inner) => {
                let (rz, rr, rh) = (
                    o.gate(inner, 0, u)?,
                    o.gate(inner, 1, u)?,
                    o.gate(inner, 2, u)?,
                );
                let sr = o.add(xr, rr)?;
                let r = o.act(cx.recurrent_activation, sr)?;
                let gated = o.mul(r, rh)?;
                (o.add(xz, rz)?, o.add(xh, gated)?)
            }
            None => (xz, xh),
        };
        let z = o.act(cx.recurrent_activation, sz)?;
        let candidate = o.act(cx.activation, sh)?;
        Self::blend(o, z, h, candidate)
    }

    /// `reset_after=False`: `recurrent` holds the z/r blocks and the candidate block apart.
    fn step_reset_before(
        o: &mut Ops<'_>,
        cx: &StepContext,
        xp: NodeId,
        h: Option<NodeId>,
    ) -> Result<NodeId> {
        let u = cx.units;
        let (xz, xr, xh) = (o.gate(xp, 0, u)?, o.gate(xp, 1, u)?, o.gate(xp, 2, u)?);
        let (sz, candidate_in) = match h {
            Some(h) => {
                let zr = o.matmul(h, cx.recurrent[0])?;
                let (rz, rr) = (o.gate(zr, 0, u)?, o.gate(zr, 1, u)?);
                let sr = o.add(xr, rr)?;
                let r = o.act(cx.recurrent_activation, sr)?;
                let reset = o.mul(r, h)?;
                let rh = o.matmul(reset, cx.recurrent[1])?;
                (o.add(xz, rz)?, o.add(xh, rh)?)
            }
            None => (xz, xh),
        };
        let z = o.act(cx.recurrent_activation, sz)?;
        let candidate = o.act(cx.activation, candidate_in)?;
        Self::blend(o, z, h, candidate)
    }
}

impl Cell for GruCell {
    const CLASS: &'static str = "GRU";
    const HAS_RECURRENT_ACTIVATION: bool = true;

    fn gates(&self) -> usize {
        3
    }

    fn bias_shape(&self, units: usize) -> Shape {
        if self.reset_after {
            Shape::from([2, 3 * units])
        } else {
            Shape::from([3 * units])
        }
    }

    fn split_bias(&self, g: &mut Graph, bias: NodeId) -> Result<(NodeId, Option<NodeId>)> {
        if !self.reset_after {
            return Ok((bias, None));
        }
        let n = g.shape(bias).dims()[1];
        let mut row = |k: usize| -> Result<NodeId> {
            let r = g.add(
                Op::Slice {
                    starts: vec![k, 0],
                    ends: vec![k + 1, n],
                },
                &[bias],
            )?;
            Ok(g.reshape(r, [n])?)
        };
        Ok((row(0)?, Some(row(1)?)))
    }

    fn prepare_recurrent(
        &self,
        g: &mut Graph,
        kernel: NodeId,
        units: usize,
    ) -> Result<Vec<NodeId>> {
        if self.reset_after {
            return Ok(vec![kernel]);
        }
        let mut o = Ops(g);
        Ok(vec![
            o.columns(kernel, 0, 2 * units)?,
            o.columns(kernel, 2 * units, 3 * units)?,
        ])
    }

    fn step(
        &self,
        g: &mut Graph,
        cx: &StepContext,
        xp: NodeId,
        prev: Option<&[NodeId]>,
    ) -> Result<Vec<NodeId>> {
        let mut o = Ops(g);
        let h = prev.map(|p| p[0]);
        let new = if self.reset_after {
            Self::step_reset_after(&mut o, cx, xp, h)?
        } else {
            Self::step_reset_before(&mut o, cx, xp, h)?
        };
        Ok(vec![new])
    }

    fn config_fields(&self, fields: &mut Map<String, Value>) {
        fields.insert("implementation".into(), json!(2));
        fields.insert("reset_after".into(), json!(self.reset_after));
    }

    fn from_config(c: &ConfigReader) -> Result<Self> {
        Ok(GruCell {
            reset_after: c.bool_or("reset_after", true)?,
        })
    }
}

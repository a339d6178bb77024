//! The `LSTM` cell (Keras' gate order i, f, c, o):
//! `z = x · kernel + bias + h_prev · recurrent_kernel`, `i, f, o = recurrent_activation(z_i,
//! z_f, z_o)`, `c = f * c_prev + i * activation(z_c)`, `h = o * activation(c)`; and
//! `unit_forget_bias` (the forget block of the initial bias is ones).

use ir::{Graph, NodeId, Shape, Tensor};
use serde_json::{Map, Value, json};

use crate::error::Result;
use crate::initializers::Initializer;
use crate::layers::ConfigReader;
use crate::layers::recurrent::cell::{Cell, Ops, StepContext};

/// The cell of Keras' `LSTM`: states `h` and `c`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LstmCell {
    /// Start the forget gate's bias at one (Keras' default, true).
    pub unit_forget_bias: bool,
}

impl Default for LstmCell {
    fn default() -> Self {
        LstmCell {
            unit_forget_bias: true,
        }
    }
}

impl Cell for LstmCell {
    const CLASS: &'static str = "LSTM";
    const HAS_RECURRENT_ACTIVATION: bool = true;
    const STATES: usize = 2;

    fn gates(&self) -> usize {
        4
    }

    fn step(
        &self,
        g: &mut Graph,
        cx: &StepContext,
        xp: NodeId,
        prev: Option<&[NodeId]>,
    ) -> Result<Vec<NodeId>> {
        let u = cx.units;
        let mut o = Ops(g);
        let z = o.project(xp, prev.map(|p| p[0]), cx.recurrent[0])?;
        let zi = o.gate(z, 0, u)?;
        let i = o.act(cx.recurrent_activation, zi)?;
        let zc = o.gate(z, 2, u)?;
        let candidate = o.act(cx.activation, zc)?;
        let mut c = o.mul(i, candidate)?;
        if let Some(prev) = prev {
            let zf = o.gate(z, 1, u)?;
            let f = o.act(cx.recurrent_activation, zf)?;
            let kept = o.mul(f, prev[1])?;
            c = o.add(kept, c)?;
        }
        let zo = o.gate(z, 3, u)?;
        let out_gate = o.act(cx.recurrent_activation, zo)?;
        let squashed = o.act(cx.activation, c)?;
        let h = o.mul(out_gate, squashed)?;
        Ok(vec![h, c])
    }

    fn config_fields(&self, fields: &mut Map<String, Value>) {
        fields.insert("unit_forget_bias".into(), json!(self.unit_forget_bias));
        fields.insert("implementation".into(), json!(2));
    }

    fn from_config(c: &ConfigReader) -> Result<Self> {
        Ok(LstmCell {
            unit_forget_bias: c.bool_or("unit_forget_bias", true)?,
        })
    }

    /// Keras: `concat(bias_initializer(units), ones(units), bias_initializer(2 * units))`.
    fn initial_bias(&self, base: Initializer, units: usize, seed: u64) -> Result<Option<Tensor>> {
        if !self.unit_forget_bias {
            return Ok(None);
        }
        let first = base.initialize(&Shape::from([units]), seed)?;
        let rest = base.initialize(&Shape::from([2 * units]), seed ^ 0x5eed)?;
        let mut data = first.data;
        data.extend(std::iter::repeat_n(1.0, units));
        data.extend(rest.data);
        Ok(Some(Tensor {
            shape: Shape::from([4 * units]),
            data,
        }))
    }
}

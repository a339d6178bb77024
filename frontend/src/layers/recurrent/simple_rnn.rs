//! The `SimpleRNN` cell: `h = activation(x · kernel + bias + h_prev · recurrent_kernel)`,
//! one gate block. The layer around it is the shared recurrent layer (`layer.rs`).

use ir::{Graph, NodeId};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::layers::ConfigReader;
use crate::layers::recurrent::cell::{Cell, Ops, StepContext};

/// The fully connected recurrent cell of Keras' `SimpleRNN`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct SimpleRnnCell;

impl Cell for SimpleRnnCell {
    const CLASS: &'static str = "SimpleRNN";
    const HAS_RECURRENT_ACTIVATION: bool = false;

    fn gates(&self) -> usize {
        1
    }

    fn step(
        &self,
        g: &mut Graph,
        cx: &StepContext,
        xp: NodeId,
        prev: Option<&[NodeId]>,
    ) -> Result<Vec<NodeId>> {
        let mut o = Ops(g);
        let z = o.project(xp, prev.map(|p| p[0]), cx.recurrent[0])?;
        Ok(vec![o.act(cx.activation, z)?])
    }

    fn config_fields(&self, _fields: &mut Map<String, Value>) {}

    fn from_config(_c: &ConfigReader) -> Result<Self> {
        Ok(SimpleRnnCell)
    }
}

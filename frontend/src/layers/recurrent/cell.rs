//! The [`Cell`] trait: what distinguishes `SimpleRNN`, `LSTM` and `GRU` — the number of
//! gates, the bias layout, the states and the per-step gate arithmetic — plus the small IR
//! helpers the cells share ([`Ops`]). The time loop itself is in `unroll.rs`; the layer
//! around it (options, config, parameters) in `layer.rs`. Cells compute nothing: they
//! append IR ops.

use std::fmt;

use ir::{BinaryOp, Graph, NodeId, Op, Shape, Tensor};
use serde_json::{Map, Value};

use crate::activations::Activation;
use crate::error::Result;
use crate::layers::ConfigReader;

/// What a cell's step sees besides its inputs: the unit count, the activations and the
/// recurrent weights as the cell prepared them once before the loop
/// ([`Cell::prepare_recurrent`]).
#[derive(Debug, Clone)]
pub(crate) struct StepContext {
    /// Units (the width of each gate and state).
    pub units: usize,
    /// The candidate/output activation (`activation`, default tanh).
    pub activation: Activation,
    /// The gates' activation (`recurrent_activation`, default sigmoid).
    pub recurrent_activation: Activation,
    /// The recurrent kernel, possibly split ([`Cell::prepare_recurrent`]).
    pub recurrent: Vec<NodeId>,
    /// The recurrent bias where the cell has one apart from the input bias (GRU with
    /// `reset_after`).
    pub recurrent_bias: Option<NodeId>,
}

/// One kind of recurrent cell. `gates` blocks of `units` columns make up the kernels
/// (`kernel` `[features, gates * units]`, `recurrent_kernel` `[units, gates * units]`), in
/// Keras' gate order.
pub(crate) trait Cell: fmt::Debug + Clone + PartialEq + Send + Sync + 'static {
    /// Keras' class name of the layer (`"LSTM"`).
    const CLASS: &'static str;
    /// Whether the layer has a `recurrent_activation` (SimpleRNN has none).
    const HAS_RECURRENT_ACTIVATION: bool;
    /// How many states the cell carries, each `[batch, units]`, `h` first (LSTM: `h`, `c`).
    const STATES: usize = 1;

    /// The number of gate blocks of `units` columns in the kernels.
    fn gates(&self) -> usize;

    /// The shape of the `bias` parameter.
    fn bias_shape(&self, units: usize) -> Shape {
        Shape::from([self.gates() * units])
    }

    /// The bias added to the input projection (the whole bias by default) and the recurrent
    /// bias where the cell keeps one apart.
    fn split_bias(&self, _g: &mut Graph, bias: NodeId) -> Result<(NodeId, Option<NodeId>)> {
        Ok((bias, None))
    }

    /// The recurrent kernel as the step uses it (whole by default), computed once.
    fn prepare_recurrent(
        &self,
        _g: &mut Graph,
        kernel: NodeId,
        _units: usize,
    ) -> Result<Vec<NodeId>> {
        Ok(vec![kernel])
    }

    /// One time step: `xp` is this step's input projection `[batch, gates * units]` (input
    /// bias included), `prev` the previous states (`None` at the first step, where Keras'
    /// initial states are zeros). Returns the new states, `h` (the step's output) first.
    fn step(
        &self,
        g: &mut Graph,
        cx: &StepContext,
        xp: NodeId,
        prev: Option<&[NodeId]>,
    ) -> Result<Vec<NodeId>>;

    /// The cell's own Keras config fields (`unit_forget_bias`, `reset_after`, ...).
    fn config_fields(&self, fields: &mut Map<String, Value>);

    /// The cell's own options from a Keras config.
    fn from_config(c: &ConfigReader) -> Result<Self>;

    /// The initial bias when it is not one initializer's draw (LSTM's `unit_forget_bias`);
    /// `None` for the default.
    fn initial_bias(
        &self,
        _base: crate::initializers::Initializer,
        _units: usize,
        _seed: u64,
    ) -> Result<Option<Tensor>> {
        Ok(None)
    }
}

/// The IR helpers cells share, on one graph.
pub(crate) struct Ops<'g>(pub &'g mut Graph);

impl Ops<'_> {
    /// Columns `[k * units, (k + 1) * units)` of a `[batch, n]` value: gate block `k`.
    pub fn gate(&mut self, z: NodeId, k: usize, units: usize) -> Result<NodeId> {
        let rows = self.0.shape(z).dims()[0];
        Ok(self.0.add(
            Op::Slice {
                starts: vec![0, k * units],
                ends: vec![rows, (k + 1) * units],
            },
            &[z],
        )?)
    }

    /// Columns `[from, to)` of a matrix `w` (a kernel split once before the loop).
    pub fn columns(&mut self, w: NodeId, from: usize, to: usize) -> Result<NodeId> {
        let rows = self.0.shape(w).dims()[0];
        Ok(self.0.add(
            Op::Slice {
                starts: vec![0, from],
                ends: vec![rows, to],
            },
            &[w],
        )?)
    }

    /// `a + b`.
    pub fn add(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        Ok(self.0.binary(BinaryOp::Add, a, b)?)
    }

    /// `a * b`.
    pub fn mul(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        Ok(self.0.binary(BinaryOp::Mul, a, b)?)
    }

    /// `a - b`.
    pub fn sub(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        Ok(self.0.binary(BinaryOp::Sub, a, b)?)
    }

    /// `h · w`.
    pub fn matmul(&mut self, h: NodeId, w: NodeId) -> Result<NodeId> {
        Ok(self.0.matmul(h, w, false, false)?)
    }

    /// `activation(x)`.
    pub fn act(&mut self, activation: Activation, x: NodeId) -> Result<NodeId> {
        activation.build(self.0, x)
    }

    /// `xp + h · w` (`xp` alone when `h` is the zero initial state).
    pub fn project(&mut self, xp: NodeId, h: Option<NodeId>, w: NodeId) -> Result<NodeId> {
        match h {
            Some(h) => {
                let r = self.matmul(h, w)?;
                self.add(xp, r)
            }
            None => Ok(xp),
        }
    }
}

//! The recurrent layer every cell shares ([`Recurrent`]): shape checks, the `kernel`,
//! `recurrent_kernel` and `bias` parameters (Keras' names, so `.h5` weights load by name),
//! Keras config and lowering through the shared time loop; and [`Recurrence`], the view of
//! it the `Bidirectional` wrapper uses. The public `SimpleRNN`, `LSTM` and `GRU` types are
//! thin wrappers made in `mod.rs`; the gate arithmetic is the cells'.

use ir::{Graph, NodeId, Shape, Tensor};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::layers::naming::name_methods;
use crate::layers::recurrent::cell::{Cell, StepContext};
use crate::layers::recurrent::options::RecurrentOptions;
use crate::layers::recurrent::unroll::{Unrolled, Weights, sequence, unroll};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
    single_input,
};

/// A recurrent layer of cell `C`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Recurrent<C> {
    /// The cell's own options.
    pub cell: C,
    /// Units.
    pub units: usize,
    /// The options all cells share.
    pub options: RecurrentOptions,
    /// The layer's name.
    pub name: Option<String>,
}

/// A recurrent layer as the `Bidirectional` wrapper sees it.
pub(crate) trait Recurrence: Layer {
    /// Each step's output `[batch, units]` in processing order (reversed time when the layer
    /// goes backwards) and the final states, for the batched input `x` and the layer's
    /// parameter nodes.
    fn run(&self, g: &mut Graph, x: NodeId, params: &[NodeId]) -> Result<Unrolled>;

    /// Whether the layer returns the whole sequence.
    fn returns_sequences(&self) -> bool;

    /// How many final states the layer returns (0 without `return_state`).
    fn returned_states(&self) -> usize;

    /// Whether the layer processes time backwards.
    fn goes_backwards(&self) -> bool;

    /// A copy named `name`, processing time backwards when `backwards`.
    fn directed(&self, name: String, backwards: bool) -> Box<dyn Recurrence>;
}

impl<C: Cell + Default> Recurrent<C> {
    /// A layer of `units` units with Keras' defaults.
    pub fn new(units: usize) -> Self {
        Recurrent {
            cell: C::default(),
            units,
            options: RecurrentOptions::default(),
            name: None,
        }
    }
}

impl<C: Cell> Recurrent<C> {
    /// The layer a Keras config describes.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        Ok(Recurrent {
            cell: C::from_config(c)?,
            units: c.usize("units")?,
            options: RecurrentOptions::from_config(c)?,
            name: Some(c.name().to_string()),
        })
    }

    /// `[steps, features]` from a per-example input, or an error naming the layer.
    fn steps_and_features(&self, input: &Shape) -> Result<(usize, usize)> {
        if self.units == 0 {
            return Err(layer_error(self, "units must be at least 1"));
        }
        match *input.dims() {
            [steps, features] if steps > 0 && features > 0 => Ok((steps, features)),
            _ => Err(layer_error(
                self,
                format!(
                    "expects a 2-D input (steps, features) per example, got {}",
                    keras_shape(input)
                ),
            )),
        }
    }

    fn weights(&self, params: &[NodeId]) -> Result<Weights> {
        let want = if self.options.use_bias { 3 } else { 2 };
        if params.len() != want {
            return Err(layer_error(
                self,
                format!("given {} parameter nodes, needs {want}", params.len()),
            ));
        }
        Ok(Weights {
            kernel: params[0],
            recurrent: params[1],
            bias: params.get(2).copied(),
        })
    }
}

impl<C: Cell> Layer for Recurrent<C> {
    fn class_name(&self) -> &'static str {
        C::CLASS
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        let (steps, _) = self.steps_and_features(input)?;
        Ok(if self.options.return_sequences {
            Shape::from([steps, self.units])
        } else {
            Shape::from([self.units])
        })
    }

    fn output_count(&self) -> usize {
        1 + self.returned_states()
    }

    fn output_shapes_many(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let first = self.output_shape_many(inputs)?;
        let state = Shape::from([self.units]);
        Ok(std::iter::once(first)
            .chain(std::iter::repeat_n(state, self.returned_states()))
            .collect())
    }

    fn params(&self, input: &Shape) -> Vec<ParamSpec> {
        let features = input.dims().last().copied().unwrap_or(0);
        let (width, o) = (self.cell.gates().saturating_mul(self.units), &self.options);
        let spec = |name, shape, initializer, regularizer| ParamSpec {
            name,
            shape,
            initializer,
            trainable: true,
            regularizer,
        };
        let mut params = vec![
            spec(
                "kernel",
                Shape::from([features, width]),
                o.kernel_initializer,
                o.kernel_regularizer,
            ),
            spec(
                "recurrent_kernel",
                Shape::from([self.units, width]),
                o.recurrent_initializer,
                o.recurrent_regularizer,
            ),
        ];
        if o.use_bias {
            let shape = self.cell.bias_shape(self.units);
            params.push(spec("bias", shape, o.bias_initializer, o.bias_regularizer));
        }
        params
    }

    fn initial_value(&self, spec: &ParamSpec, seed: u64) -> Result<Tensor> {
        if spec.name == "bias"
            && let Some(t) =
                self.cell
                    .initial_bias(self.options.bias_initializer, self.units, seed)?
        {
            return Ok(t);
        }
        spec.initializer.initialize(&spec.shape, seed)
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        Ok(self.build_outputs(g, &[x], ctx)?[0])
    }

    fn build_outputs(
        &self,
        g: &mut Graph,
        xs: &[NodeId],
        ctx: LayerContext<'_>,
    ) -> Result<Vec<NodeId>> {
        let x = *single_input(self, xs)?;
        let run = self.run(g, x, ctx.params)?;
        let first = if self.options.return_sequences {
            sequence(g, &run.outputs)?
        } else {
            *run.outputs.last().expect("at least one step")
        };
        let states = run.states.into_iter().take(self.returned_states());
        Ok(std::iter::once(first).chain(states).collect())
    }

    fn config(&self) -> Value {
        let mut cell_fields = Map::new();
        self.cell.config_fields(&mut cell_fields);
        let fields =
            self.options
                .config_fields(self.units, C::HAS_RECURRENT_ACTIVATION, cell_fields);
        layer_config(self, fields)
    }
}

impl<C: Cell> Recurrence for Recurrent<C> {
    fn run(&self, g: &mut Graph, x: NodeId, params: &[NodeId]) -> Result<Unrolled> {
        let per_example = Shape::new(g.shape(x).dims().get(1..).unwrap_or(&[]).to_vec());
        if g.shape(x).rank() != 3 {
            return Err(layer_error(self, "input has no batch axis"));
        }
        self.steps_and_features(&per_example)?;
        let weights = self.weights(params)?;
        let cx = StepContext {
            units: self.units,
            activation: self.options.activation,
            recurrent_activation: self.options.recurrent_activation,
            recurrent: Vec::new(),
            recurrent_bias: None,
        };
        unroll(&self.cell, g, x, weights, cx, self.options.go_backwards)
    }

    fn returns_sequences(&self) -> bool {
        self.options.return_sequences
    }

    fn returned_states(&self) -> usize {
        if self.options.return_state {
            C::STATES
        } else {
            0
        }
    }

    fn goes_backwards(&self) -> bool {
        self.options.go_backwards
    }

    fn directed(&self, name: String, backwards: bool) -> Box<dyn Recurrence> {
        let mut copy = self.clone();
        copy.name = Some(name);
        copy.options.go_backwards = backwards;
        Box::new(copy)
    }
}

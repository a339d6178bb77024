//! Recurrent layers, unrolled in the frontend into ordinary IR ops (no loop op in the IR):
//! `SimpleRNN`, `LSTM`, `GRU` (one generic layer, `layer.rs`, over a cell table entry each:
//! `simple_rnn.rs`, `lstm.rs`, `gru.rs`; the shared time loop in `unroll.rs`), and the
//! wrappers `Bidirectional` and `TimeDistributed`.
//!
//! Keras semantics (tf-keras 2.21): inputs `(batch, steps, features)`, zero initial states,
//! `return_sequences`, `go_backwards` (outputs in processing order, i.e. reversed), `unroll`
//! accepted (Kiln always unrolls), `return_state` (the layer's outputs are `[output,
//! state...]`: apply it with [`crate::model::Functional::apply_outputs`]). Refused with an
//! error naming the layer and the option: `stateful=True`, `time_major=True`, `dropout`/`recurrent_dropout`
//! other than 0, constraints and activity regularizers. Masking is not implemented here.

mod bidirectional;
mod cell;
mod gru;
mod layer;
mod lstm;
mod options;
mod simple_rnn;
mod time_distributed;
mod unroll;

pub use bidirectional::{Bidirectional, MergeMode};
pub use time_distributed::TimeDistributed;

use ir::{Graph, NodeId, Shape, Tensor};
use serde_json::Value;

use crate::error::Result;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec};
use gru::GruCell;
use layer::{Recurrence, Recurrent};
use lstm::LstmCell;
use simple_rnn::SimpleRnnCell;

/// A public recurrent layer type: a wrapper over `Recurrent<cell>` with the shared builder
/// setters and the `Layer` methods passed through.
macro_rules! recurrent_layer {
    ($(#[$doc:meta])* $name:ident, $cell:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            inner: Recurrent<$cell>,
        }

        impl $name {
            /// A layer of `units` units with Keras' defaults (tanh, glorot-uniform kernel,
            /// orthogonal recurrent kernel, zero bias, the last output only).
            pub fn new(units: usize) -> Self {
                $name {
                    inner: Recurrent::new(units),
                }
            }

            /// The layer a Keras config describes (Keras' defaults for missing fields);
            /// unsupported options are errors naming the layer and the option.
            pub fn from_config(c: &ConfigReader) -> Result<Self> {
                Ok($name {
                    inner: Recurrent::from_config(c)?,
                })
            }

            /// Number of units.
            pub fn units(&self) -> usize {
                self.inner.units
            }

            $crate::builder::builder_setters! {
                /// Set the activation of the candidate and output (default tanh).
                activation(inner.options.activation: $crate::activations::Activation);
                /// Whether to add a bias (default true).
                use_bias(inner.options.use_bias: bool);
                /// Set the kernel initializer (default `glorot_uniform`).
                kernel_initializer(inner.options.kernel_initializer: $crate::initializers::Initializer);
                /// Set the recurrent kernel initializer (default `orthogonal`).
                recurrent_initializer(inner.options.recurrent_initializer: $crate::initializers::Initializer);
                /// Set the bias initializer (default `zeros`).
                bias_initializer(inner.options.bias_initializer: $crate::initializers::Initializer);
                /// Penalise the kernel (default none).
                kernel_regularizer(inner.options.kernel_regularizer: $crate::regularizers::Regularizer) => Some;
                /// Penalise the recurrent kernel (default none).
                recurrent_regularizer(inner.options.recurrent_regularizer: $crate::regularizers::Regularizer) => Some;
                /// Penalise the bias (default none).
                bias_regularizer(inner.options.bias_regularizer: $crate::regularizers::Regularizer) => Some;
                /// Return every step's output `(steps, units)` instead of the last (default false).
                return_sequences(inner.options.return_sequences: bool);
                /// Also return the final states: the layer's outputs are `[output, h]`
                /// (LSTM: `[output, h, c]`), each state `(units,)` (default false).
                return_state(inner.options.return_state: bool);
                /// Process the steps last to first; a returned sequence is in that reversed
                /// order, as in Keras (default false).
                go_backwards(inner.options.go_backwards: bool);
                /// Keras' `unroll` (Kiln always unrolls: either value computes the same).
                unroll(inner.options.unroll: bool);
            }

            named_builder!(inner.name);
        }

        impl Layer for $name {
            fn class_name(&self) -> &'static str {
                self.inner.class_name()
            }

            name_methods!(inner.name);

            fn output_shape(&self, input: &Shape) -> Result<Shape> {
                self.inner.output_shape(input)
            }

            fn params(&self, input: &Shape) -> Vec<ParamSpec> {
                self.inner.params(input)
            }

            fn initial_value(&self, spec: &ParamSpec, seed: u64) -> Result<Tensor> {
                self.inner.initial_value(spec, seed)
            }

            fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
                self.inner.build(g, x, ctx)
            }

            fn output_count(&self) -> usize {
                self.inner.output_count()
            }

            fn output_shapes_many(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
                self.inner.output_shapes_many(inputs)
            }

            fn build_outputs(
                &self,
                g: &mut Graph,
                xs: &[NodeId],
                ctx: LayerContext<'_>,
            ) -> Result<Vec<NodeId>> {
                self.inner.build_outputs(g, xs, ctx)
            }

            fn config(&self) -> Value {
                self.inner.config()
            }
        }
    };
}

recurrent_layer!(
    /// Keras' `SimpleRNN`: `h = activation(x · kernel + h_prev · recurrent_kernel + bias)`.
    ///
    /// ```
    /// use kiln::layers::SimpleRNN;
    /// use kiln::layers::Layer;
    /// let rnn = SimpleRNN::new(8).return_sequences(true);
    /// assert_eq!(rnn.output_shape(&[10, 3].into()).unwrap(), [10, 8].into());
    /// ```
    SimpleRNN,
    SimpleRnnCell
);

recurrent_layer!(
    /// Keras' `LSTM` (gates i, f, c, o in the kernels' columns; `recurrent_activation`
    /// sigmoid; `unit_forget_bias` on by default).
    ///
    /// ```
    /// use kiln::layers::{Layer, LSTM};
    /// let lstm = LSTM::new(4);
    /// assert_eq!(lstm.params(&[5, 3].into())[0].shape, [3, 16].into());
    /// ```
    LSTM,
    LstmCell
);

recurrent_layer!(
    /// Keras' `GRU` (gates z, r, h), `reset_after=True` by default (bias `(2, 3 * units)`);
    /// `reset_after(false)` gives the original form (bias `(3 * units,)`).
    GRU,
    GruCell
);

impl LSTM {
    crate::builder::builder_setters! {
        /// Set the gates' activation (default sigmoid).
        recurrent_activation(inner.options.recurrent_activation: crate::activations::Activation);
        /// Start the forget gate's bias at one (default true).
        unit_forget_bias(inner.cell.unit_forget_bias: bool);
    }
}

impl GRU {
    crate::builder::builder_setters! {
        /// Set the gates' activation (default sigmoid).
        recurrent_activation(inner.options.recurrent_activation: crate::activations::Activation);
        /// Apply the reset gate after the recurrent product (default true, Keras 2's default).
        reset_after(inner.cell.reset_after: bool);
    }
}

/// The recurrent layer a Keras `{class_name, config}` pair describes, for the wrappers;
/// `None` when the class is not a recurrent layer Kiln has.
fn recurrence_from_config(class: &str, c: &ConfigReader) -> Option<Result<Box<dyn Recurrence>>> {
    fn boxed<C: cell::Cell>(c: &ConfigReader) -> Result<Box<dyn Recurrence>> {
        Ok(Box::new(Recurrent::<C>::from_config(c)?))
    }
    Some(match class {
        "SimpleRNN" => boxed::<SimpleRnnCell>(c),
        "LSTM" => boxed::<LstmCell>(c),
        "GRU" => boxed::<GruCell>(c),
        _ => return None,
    })
}

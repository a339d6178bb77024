//! [`RecurrentOptions`]: the options `SimpleRNN`, `LSTM` and `GRU` share (activations,
//! initializers, regularizers, `return_sequences`, `go_backwards`, `unroll`) with Keras'
//! defaults, their Keras config fields, and the refusal of the options Kiln does not
//! implement (`stateful`, `time_major`, dropout, constraints). Cell-specific
//! options (`unit_forget_bias`, `reset_after`) are the cells'.

use serde_json::{Map, Value, json};

use crate::activations::{Activation, activation_json};
use crate::error::Result;
use crate::initializers::{Initializer, initializer_json};
use crate::layers::ConfigReader;
use crate::regularizers::{Regularizer, regularizer_json};

/// The shared options of a recurrent layer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecurrentOptions {
    /// Candidate/output activation (default tanh).
    pub activation: Activation,
    /// Gate activation (default sigmoid; SimpleRNN has none).
    pub recurrent_activation: Activation,
    /// Whether there is a bias (default true).
    pub use_bias: bool,
    /// How `kernel` is filled (default `glorot_uniform`).
    pub kernel_initializer: Initializer,
    /// How `recurrent_kernel` is filled (default `orthogonal`).
    pub recurrent_initializer: Initializer,
    /// How `bias` is filled (default `zeros`).
    pub bias_initializer: Initializer,
    /// Penalty on `kernel`.
    pub kernel_regularizer: Option<Regularizer>,
    /// Penalty on `recurrent_kernel`.
    pub recurrent_regularizer: Option<Regularizer>,
    /// Penalty on `bias`.
    pub bias_regularizer: Option<Regularizer>,
    /// Return every step's output (`[steps, units]`) instead of the last (`[units]`).
    pub return_sequences: bool,
    /// Also return the final states (`[output, h]`; LSTM `[output, h, c]`).
    pub return_state: bool,
    /// Process the steps last to first (outputs in processing order, as Keras).
    pub go_backwards: bool,
    /// Keras' `unroll`: Kiln always unrolls, so either value computes the same.
    pub unroll: bool,
}

impl Default for RecurrentOptions {
    fn default() -> Self {
        RecurrentOptions {
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            recurrent_initializer: Initializer::Orthogonal { gain: 1.0 },
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: None,
            recurrent_regularizer: None,
            bias_regularizer: None,
            return_sequences: false,
            return_state: false,
            go_backwards: false,
            unroll: false,
        }
    }
}

/// Options Kiln refuses unless false or zero, with why.
const REFUSED_FLAGS: [(&str, &str); 2] = [
    (
        "stateful",
        "is not supported (states are not kept between batches)",
    ),
    (
        "time_major",
        "is not supported (inputs are (batch, steps, features))",
    ),
];

/// Config fields Kiln only accepts as `null`.
const NULL_ONLY: [&str; 4] = [
    "activity_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
];

impl RecurrentOptions {
    /// The options a Keras config describes (Keras' defaults for missing fields); refused
    /// options are errors naming the layer and the field.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        for (field, why) in REFUSED_FLAGS {
            if c.bool_or(field, false)? {
                return Err(c.error(field, format!("= true {why}")));
            }
        }
        for field in ["dropout", "recurrent_dropout"] {
            let rate = c.f32_or(field, 0.0)?;
            if rate != 0.0 {
                return Err(c.error(
                    field,
                    format!("= {rate} is not supported (only 0; put a Dropout layer before the recurrent layer)"),
                ));
            }
        }
        c.require_null(&NULL_ONLY)?;
        let d = RecurrentOptions::default();
        Ok(RecurrentOptions {
            activation: c.activation_or("activation", d.activation)?,
            recurrent_activation: c
                .activation_or("recurrent_activation", d.recurrent_activation)?,
            use_bias: c.bool_or("use_bias", d.use_bias)?,
            kernel_initializer: c.initializer_or("kernel_initializer", d.kernel_initializer)?,
            recurrent_initializer: c
                .initializer_or("recurrent_initializer", d.recurrent_initializer)?,
            bias_initializer: c.initializer_or("bias_initializer", d.bias_initializer)?,
            kernel_regularizer: c.regularizer("kernel_regularizer")?,
            recurrent_regularizer: c.regularizer("recurrent_regularizer")?,
            bias_regularizer: c.regularizer("bias_regularizer")?,
            return_sequences: c.bool_or("return_sequences", false)?,
            return_state: c.bool_or("return_state", false)?,
            go_backwards: c.bool_or("go_backwards", false)?,
            unroll: c.bool_or("unroll", false)?,
        })
    }

    /// The Keras config fields, in Keras' order: the base-layer flags, `units`, the
    /// activations (`recurrent_activation` only when `with_recurrent_activation`), the
    /// initializers, then `cell_fields` (the cell's own, e.g. `unit_forget_bias`), the
    /// regularizers, constraints and dropouts.
    pub fn config_fields(
        &self,
        units: usize,
        with_recurrent_activation: bool,
        cell_fields: Map<String, Value>,
    ) -> Value {
        let mut out = Map::new();
        let mut put = |key: &str, value: Value| {
            out.insert(key.to_string(), value);
        };
        put("return_sequences", json!(self.return_sequences));
        put("return_state", json!(self.return_state));
        put("go_backwards", json!(self.go_backwards));
        put("stateful", json!(false));
        put("unroll", json!(self.unroll));
        put("time_major", json!(false));
        put("units", json!(units));
        put("activation", activation_json(self.activation));
        if with_recurrent_activation {
            put(
                "recurrent_activation",
                activation_json(self.recurrent_activation),
            );
        }
        put("use_bias", json!(self.use_bias));
        put(
            "kernel_initializer",
            initializer_json(self.kernel_initializer),
        );
        put(
            "recurrent_initializer",
            initializer_json(self.recurrent_initializer),
        );
        put("bias_initializer", initializer_json(self.bias_initializer));
        let (early, late): (Vec<_>, Vec<_>) = cell_fields
            .into_iter()
            .partition(|(k, _)| k == "unit_forget_bias");
        for (k, v) in early {
            put(&k, v);
        }
        put(
            "kernel_regularizer",
            regularizer_json(self.kernel_regularizer),
        );
        put(
            "recurrent_regularizer",
            regularizer_json(self.recurrent_regularizer),
        );
        put("bias_regularizer", regularizer_json(self.bias_regularizer));
        for field in NULL_ONLY {
            put(field, Value::Null);
        }
        put("dropout", json!(0.0));
        put("recurrent_dropout", json!(0.0));
        for (k, v) in late {
            put(&k, v);
        }
        Value::Object(out)
    }
}

//! The `Embedding` layer: each integer id of its input (carried as an f32 value) replaced by
//! a trainable row of `output_dim` values, lowered to one IR `gather` (its gradient, a
//! `scatter_add`, comes from autodiff).
//!
//! Ids must be integers in `[0, input_dim)`: the model checks an input that feeds an
//! `Embedding` directly before any kernel runs ([`Layer::ids_below`]), and the backends check
//! every graph input that holds ids. Not supported (refused with an error naming the layer
//! and the option): `mask_zero=True` (Keras' masking), a non-null `embeddings_constraint` or
//! `activity_regularizer`.

use ir::{Graph, NodeId, Op, Shape};
use serde_json::{Value, json};

use crate::error::Result;
use crate::initializers::{Initializer, initializer_json};
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};
use crate::regularizers::{Regularizer, regularizer_json};

/// Keras' default `embeddings_initializer`: `RandomUniform(-0.05, 0.05)`.
const DEFAULT_INITIALIZER: Initializer = Initializer::RandomUniform {
    minval: -0.05,
    maxval: 0.05,
};

/// A lookup table of `input_dim` rows of `output_dim` values: an input of ids of any shape
/// per example, `(None, ...)`, gives `(None, ..., output_dim)`. Its parameter is
/// `embeddings`, `[input_dim, output_dim]`.
///
/// ```
/// use kiln::prelude::*;
/// let model = sequential![Input::new([5]), Embedding::new(100, 8)];
/// assert_eq!(model.output_shape().unwrap(), [5, 8].into());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    input_dim: usize,
    output_dim: usize,
    embeddings_initializer: Initializer,
    embeddings_regularizer: Option<Regularizer>,
    input_length: Option<usize>,
    name: Option<String>,
}

impl Embedding {
    /// A table of `input_dim` rows (the vocabulary size; ids are `0..input_dim`) of
    /// `output_dim` values each, with Keras' defaults.
    pub fn new(input_dim: usize, output_dim: usize) -> Self {
        Embedding {
            input_dim,
            output_dim,
            embeddings_initializer: DEFAULT_INITIALIZER,
            embeddings_regularizer: None,
            input_length: None,
            name: None,
        }
    }

    crate::builder::builder_setters! {
        /// Set the table's initializer (default `RandomUniform(-0.05, 0.05)`).
        embeddings_initializer(embeddings_initializer: Initializer);
        /// Penalise the table (default none).
        embeddings_regularizer(embeddings_regularizer: Regularizer) => Some;
        /// Require inputs of this many ids per example (Keras' `input_length`).
        input_length(input_length: usize) => Some;
    }

    named_builder!();

    /// The vocabulary size: ids are integers in `0..input_dim`.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// The length of each row.
    pub fn output_dim(&self) -> usize {
        self.output_dim
    }

    /// The layer a Keras `Embedding` config describes (Keras' defaults for missing fields).
    /// `mask_zero: true` and constraints are refused, naming the field.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_null(&["embeddings_constraint", "activity_regularizer"])?;
        if c.bool_or("mask_zero", false)? {
            return Err(c.error(
                "mask_zero",
                "true is not supported (Kiln has no masking yet); use mask_zero=false",
            ));
        }
        let input_length = match c.get("input_length") {
            None => None,
            Some(_) => Some(c.usize("input_length")?),
        };
        Ok(Embedding {
            input_dim: c.usize("input_dim")?,
            output_dim: c.usize("output_dim")?,
            embeddings_initializer: c
                .initializer_or("embeddings_initializer", DEFAULT_INITIALIZER)?,
            embeddings_regularizer: c.regularizer("embeddings_regularizer")?,
            input_length,
            name: Some(c.name().to_string()),
        })
    }
}

impl Layer for Embedding {
    fn class_name(&self) -> &'static str {
        "Embedding"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        if self.input_dim == 0 || self.output_dim == 0 {
            return Err(layer_error(
                self,
                format!(
                    "input_dim and output_dim must be at least 1, got {} and {}",
                    self.input_dim, self.output_dim
                ),
            ));
        }
        if let Some(length) = self.input_length
            && input.dims().last() != Some(&length)
        {
            return Err(layer_error(
                self,
                format!(
                    "input_length is {length} but the input is {}",
                    keras_shape(input)
                ),
            ));
        }
        let mut dims = input.dims().to_vec();
        dims.push(self.output_dim);
        Ok(Shape::new(dims))
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        vec![ParamSpec {
            name: "embeddings",
            shape: Shape::from([self.input_dim, self.output_dim]),
            initializer: self.embeddings_initializer,
            trainable: true,
            regularizer: self.embeddings_regularizer,
        }]
    }

    fn ids_below(&self) -> Option<usize> {
        Some(self.input_dim)
    }

    fn config(&self) -> Value {
        layer_config(
            self,
            json!({
                "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": initializer_json(self.embeddings_initializer),
                "embeddings_regularizer": regularizer_json(self.embeddings_regularizer),
                "activity_regularizer": null,
                "embeddings_constraint": null,
                "mask_zero": false,
                "input_length": self.input_length,
            }),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        let [table] = ctx.params else {
            return Err(layer_error(
                self,
                format!("given {} parameter nodes, needs 1", ctx.params.len()),
            ));
        };
        Ok(g.add(Op::Gather, &[*table, x])?)
    }
}

//! Keras layers: the [`Layer`] trait and the layers that implement it.
//!
//! A layer describes itself (Keras class name, optional user-given name), maps a per-example
//! input shape (no batch axis) to its output shape, lists the parameters it needs, and lowers
//! itself to IR ops given the graph node of its batched input and its parameter nodes.
//! Shapes are per example, like Keras' `(None, ...)` with the `None` left out.
//!
//! Every layer also writes its Keras config ([`Layer::config`]) and is rebuilt from one by
//! the registry ([`layer_from_config`]); [`config`] says how a new layer takes part.

mod activation_kinds;
mod activation_layer;
mod batch_normalization;
pub mod config;
mod conv2d;
mod conv2d_transpose;
mod dense;
mod dot;
mod dropout;
mod embedding;
mod flatten;
mod global_pooling;
mod input;
mod kernel_options;
mod layer_normalization;
mod merge;
mod multi_head_attention;
pub(crate) mod naming;
mod one_d;
mod permute;
mod pooling;
mod prelu;
mod recurrent;
pub mod registry;
mod repeat_vector;
mod reshape;
mod separable_conv2d;
mod upsampling;
mod zero_padding;
// Layers the ONNX importer needs: a constant operand, a batch size fixed by the file.
mod constant_operand;
mod pinned_batch;
// The layers of the Keras applications (zoo): preprocessing, TF ops, their own small layers.
mod application_layers;
mod grouped_conv;
mod normalization;
mod rescaling;
mod tf_op_lambda;
// Image augmentation (active only while training).
mod augment;
mod moments;

pub use activation_kinds::{
    ActivationLayer, ELU, EluKind, LeakyReLU, LeakyReluKind, ReLU, ReluKind, Softmax, SoftmaxKind,
};
pub use activation_layer::{ActivationKind, ActivationLayerOf};
pub use batch_normalization::BatchNormalization;
pub use config::{ConfigReader, layer_config};
pub use conv2d::{Conv2D, Padding, Size2D};
pub use dense::Dense;
pub use dot::{Dot, DotAxes};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use flatten::Flatten;
pub use global_pooling::{GlobalAveragePooling2D, GlobalMaxPooling2D, GlobalPooling2D};
pub use input::Input;
pub use layer_normalization::LayerNormalization;
pub use merge::{
    Add, Average, ConcatAxis, Concatenate, Difference, ElementwiseFold, Greatest, Least, Maximum,
    Mean, Merge, MergeKind, Minimum, Multiply, Product, Subtract, Sum,
};
pub use multi_head_attention::MultiHeadAttention;
pub use permute::Permute;
pub use pooling::{
    Average as AveragePoolingKind, AveragePooling2D, AvgPool2D, Max as MaxPoolingKind, MaxPool2D,
    MaxPooling2D, Pooling2D, PoolingKind,
};
pub use recurrent::{Bidirectional, GRU, LSTM, MergeMode, SimpleRNN, TimeDistributed};
pub use registry::{layer_from_config, layer_from_json, layer_to_json};
pub use repeat_vector::RepeatVector;
pub use reshape::Reshape;
pub use separable_conv2d::{DepthwiseConv2D, SeparableConv2D};
pub use zero_padding::ZeroPadding2D;
// The 1-D convolution family, transposed convolutions, up-sampling, cropping, PReLU.
pub use conv2d_transpose::Conv2DTranspose;
pub use one_d::{
    AveragePooling1D, AvgPool1D, Conv1D, Conv1DTranspose, Cropping1D, Form as OneDForm,
    GlobalAveragePooling1D, GlobalMaxPooling1D, Lift, MaxPool1D, MaxPooling1D, OneD, Padding1D,
    UpSampling1D, ZeroPadding1D,
};
pub use prelu::PReLU;
pub use upsampling::{Interpolation, UpSampling2D};
pub use zero_padding::{Border2D, BorderKind, Crop, Cropping2D, Pad};
// Layers the ONNX importer needs.
pub use constant_operand::{ConstantArithmetic, ConstantOperand};
pub use pinned_batch::PinnedBatch;
// The layers of the Keras applications (zoo).
pub use application_layers::{CustomScaleLayer, LayerScale};
pub use normalization::Normalization;
pub use rescaling::Rescaling;
pub use tf_op_lambda::{
    CallArgs as TfCallArgs, Elementwise as TfElementwise, TFOpLambda, TfFunction,
    supported_tf_functions,
};
// Image augmentation.
pub use augment::{
    Factor, FillMode, FlipMode, RandomContrast, RandomCrop, RandomFlip, RandomRotation,
    RandomTranslation, RandomZoom, TransformOptions,
};

use std::fmt;

use ir::{Graph, NodeId, Shape};

use crate::error::{Error, Result};
use crate::initializers::Initializer;
use crate::regularizers::Regularizer;

/// A parameter a layer needs: its local name (`kernel`, `bias`), shape, initializer,
/// whether training updates it, and an optional regularizer.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Name within the layer; the model's parameter is called `layer_name/name`.
    pub name: &'static str,
    /// Its shape.
    pub shape: Shape,
    /// How it is filled before training.
    pub initializer: Initializer,
    /// Whether the optimizer updates it.
    pub trainable: bool,
    /// A penalty added to the loss, if any.
    pub regularizer: Option<Regularizer>,
}

/// What a layer gets when it lowers itself: its parameter nodes (in the order of
/// [`Layer::params`]), whether the graph is a training graph, and a seed for its randomness.
#[derive(Debug, Clone, Copy)]
pub struct LayerContext<'a> {
    /// The layer's parameter nodes, in the order its `params` listed them.
    pub params: &'a [NodeId],
    /// Whether this is the training graph (layers like Dropout behave differently).
    pub training: bool,
    /// A seed for layers that draw random numbers (Dropout), derived from the model's seed
    /// and the layer's position: the same model seed gives the same draws.
    pub seed: u64,
}

/// One Keras layer.
pub trait Layer: fmt::Debug + Send + Sync {
    /// Keras' class name (`"Dense"`, `"Flatten"`), shown by the model summary.
    fn class_name(&self) -> &'static str;

    /// The user-given or model-assigned name, if any. (The layers of this module write
    /// `name` and `set_name` over their name field with one macro, `naming::name_methods!`.)
    fn name(&self) -> Option<&str>;

    /// Set the layer's name (the model assigns Keras-style names to unnamed layers).
    fn set_name(&mut self, name: String);

    /// The per-example input shape if this is an input layer.
    fn input_shape(&self) -> Option<&Shape> {
        None
    }

    /// The per-example output shape for a per-example `input` shape. Errors name the layer
    /// and the shape.
    fn output_shape(&self, input: &Shape) -> Result<Shape>;

    /// The parameters this layer needs for a per-example `input` shape (already validated by
    /// [`Layer::output_shape`]).
    fn params(&self, input: &Shape) -> Vec<ParamSpec>;

    /// Append this layer's computation on the batched input `x` to `g`; returns its output.
    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId>;

    /// For a layer whose input holds ids picking rows of a table (`Embedding`): the number of
    /// rows, so that ids must be integers in `[0, rows)`. A model checks every model input
    /// that feeds such a layer directly before any kernel runs; an error names the layer.
    fn ids_below(&self) -> Option<usize> {
        None
    }

    /// Number of inputs the layer takes: `Some(1)` for ordinary layers, `None` for layers
    /// that take several (merge layers such as `Add`: two or more; a layer taking another
    /// range says which in [`Layer::input_counts`]). A model calls the
    /// `*_many` methods below; single-input layers only implement the one-input forms.
    fn arity(&self) -> Option<usize> {
        Some(1)
    }

    /// How many inputs the layer takes. Defaults to what [`Layer::arity`] says; a layer
    /// taking a range (`MultiHeadAttention`: query, value, key — 1 to 3) overrides this.
    fn input_counts(&self) -> std::ops::RangeInclusive<usize> {
        match self.arity() {
            Some(n) => n..=n,
            None => 2..=usize::MAX,
        }
    }

    /// The names of the inputs after the first that Keras passes as keyword arguments, in
    /// input order (`MultiHeadAttention`: `value`, `key`); empty for most layers. A model
    /// config reads them from an inbound node's kwargs and writes them back there.
    fn keyword_inputs(&self) -> &'static [&'static str] {
        &[]
    }

    /// The non-tensor keyword arguments of the layer's call as Keras 2 records them in its
    /// inbound node (`MultiHeadAttention`'s `use_causal_mask`); empty for most layers.
    fn call_kwargs(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }

    /// Take the non-tensor keyword arguments of an inbound node read from a Keras config.
    /// The default ignores them; a layer that reads some rejects the ones it cannot honour.
    fn set_call_kwargs(
        &mut self,
        _kwargs: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        Ok(())
    }

    /// The per-example output shape for several per-example `inputs` (one per inbound
    /// tensor). Defaults to [`Layer::output_shape`] for exactly one input.
    fn output_shape_many(&self, inputs: &[Shape]) -> Result<Shape> {
        self.output_shape(single_input(self, inputs)?)
    }

    /// The parameters for several per-example `inputs` (validated by
    /// [`Layer::output_shape_many`]). Defaults to [`Layer::params`] of the single input.
    fn params_many(&self, inputs: &[Shape]) -> Vec<ParamSpec> {
        match inputs {
            [one] => self.params(one),
            _ => Vec::new(),
        }
    }

    /// Append the computation on several batched inputs `xs`. Defaults to [`Layer::build`]
    /// for exactly one input.
    fn build_many(&self, g: &mut Graph, xs: &[NodeId], ctx: LayerContext<'_>) -> Result<NodeId> {
        self.build(g, *single_input(self, xs)?, ctx)
    }

    /// How many outputs the layer has: 1 for most layers; a recurrent layer with
    /// `return_state` has its output and its final states. A model connects to output `k`
    /// of a layer ([`crate::model::TensorRef`]); layers with several outputs
    /// implement [`Layer::output_shapes_many`] and [`Layer::build_outputs`].
    fn output_count(&self) -> usize {
        1
    }

    /// The per-example shape of every output, in order, for several per-example `inputs`.
    /// Defaults to the one shape of [`Layer::output_shape_many`].
    fn output_shapes_many(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![self.output_shape_many(inputs)?])
    }

    /// Append the computation on the batched inputs `xs`; returns every output, in order.
    /// Defaults to the one output of [`Layer::build_many`].
    fn build_outputs(
        &self,
        g: &mut Graph,
        xs: &[NodeId],
        ctx: LayerContext<'_>,
    ) -> Result<Vec<NodeId>> {
        Ok(vec![self.build_many(g, xs, ctx)?])
    }

    /// The initial value of `spec`, one of the parameters [`Layer::params`] listed, drawn
    /// from `seed`. Defaults to the spec's initializer; a layer whose initial values no one
    /// initializer describes (LSTM's `unit_forget_bias`) overrides it.
    fn initial_value(&self, spec: &ParamSpec, seed: u64) -> Result<ir::Tensor> {
        spec.initializer.initialize(&spec.shape, seed)
    }

    /// The layer's Keras config: the inner `"config"` object, with Keras 2's field names
    /// (usually `layer_config(self, json!({...}))`, see [`config`]). Together with
    /// [`Layer::class_name`] it rebuilds the layer through [`layer_from_config`].
    fn config(&self) -> serde_json::Value;

    /// The prefix of auto-generated names: the class name in snake case (`dense`, `max_pooling2d`).
    fn name_prefix(&self) -> String {
        snake_case(self.class_name())
    }

    /// `name (Class)`, or the class alone before naming: how errors refer to the layer.
    fn label(&self) -> String {
        match self.name() {
            Some(name) => format!("{name} ({})", self.class_name()),
            None => self.class_name().to_string(),
        }
    }
}

impl<L: Layer + 'static> From<L> for Box<dyn Layer> {
    fn from(layer: L) -> Self {
        Box::new(layer)
    }
}

/// Keras' class-name-to-snake-case rule: `Dense` → `dense`, `MaxPooling2D` → `max_pooling2d`,
/// `Conv2D` → `conv2d`: an underscore before each capital that starts a lowercase/digit run
/// (not at the start), and between a lowercase letter and a capital.
pub fn snake_case(class: &str) -> String {
    let chars: Vec<char> = class.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            let starts_word = chars
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_lowercase() || n.is_ascii_digit());
            let after_lower = chars[i - 1].is_ascii_lowercase();
            if starts_word || after_lower {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// An error about `layer` (named as `name (Class)`).
pub(crate) fn layer_error(layer: &(impl Layer + ?Sized), msg: impl Into<String>) -> Error {
    Error::Layer {
        layer: layer.label(),
        msg: msg.into(),
    }
}

/// The one item of `inputs` (shapes or nodes) of a one-input `layer`; any other count is an
/// error naming the layer.
pub(crate) fn single_input<'a, T>(layer: &(impl Layer + ?Sized), inputs: &'a [T]) -> Result<&'a T> {
    match inputs {
        [one] => Ok(one),
        _ => Err(layer_error(
            layer,
            format!("takes one input, got {}", inputs.len()),
        )),
    }
}

/// Keras' printing of a per-example shape with the batch axis: `(None, 28, 28, 1)`.
pub fn keras_shape(shape: &Shape) -> String {
    let mut s = String::from("(None");
    for d in shape.dims() {
        s.push_str(&format!(", {d}"));
    }
    s.push(')');
    s
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn snake_case_follows_keras() {
        for (class, want) in [
            ("Dense", "dense"),
            ("Flatten", "flatten"),
            ("MaxPooling2D", "max_pooling2d"),
            ("Conv2D", "conv2d"),
            ("DepthwiseConv2D", "depthwise_conv2d"),
            ("SeparableConv2D", "separable_conv2d"),
            ("AveragePooling2D", "average_pooling2d"),
            ("InputLayer", "input_layer"),
            ("LeakyReLU", "leaky_re_lu"),
            ("BatchNormalization", "batch_normalization"),
        ] {
            assert_eq!(snake_case(class), want, "{class}");
        }
    }
}

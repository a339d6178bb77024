//! The export table: one row per Kiln layer class (Keras' class name) and the function that
//! writes that layer as ONNX nodes, like the rule tables of `passes/src/fuse/`. What a rule
//! is given is a [`Site`]: the layer, its Keras config, its input values, its per-example
//! output shape and its weights. A class without a row is an error naming the layer.
//!
//! The rules themselves live beside this file, one file per layer family; this file only
//! lists them.

use std::collections::BTreeMap;

use ir::{Shape, Tensor};
use serde_json::Value as Json;

use super::conv;
use super::graph::{Emitter, Layout, Value};
use super::{activation, dense, merge, normalization, pooling, shape_ops};
use crate::error::{Error, Result};
use crate::layers::{ConfigReader, Layer};

/// Writes one layer; returns its (one) output value.
pub(crate) type Rule = fn(&mut Emitter, &Site<'_>) -> Result<Value>;

/// Every Kiln layer class the exporter writes, with its rule.
const RULES: &[(&str, Rule)] = &[
    ("Dense", dense::dense),
    ("Embedding", dense::embedding),
    ("Activation", activation::activation_layer),
    ("ReLU", activation::relu_layer),
    ("LeakyReLU", activation::leaky_relu_layer),
    ("ELU", activation::elu_layer),
    ("Softmax", activation::softmax_layer),
    ("PReLU", activation::prelu_layer),
    ("Conv2D", conv::conv2d),
    ("DepthwiseConv2D", conv::depthwise_conv2d),
    ("SeparableConv2D", conv::separable_conv2d),
    ("Conv2DTranspose", conv::conv2d_transpose),
    ("MaxPooling2D", pooling::max_pooling2d),
    ("AveragePooling2D", pooling::average_pooling2d),
    ("GlobalAveragePooling2D", pooling::global_average_pooling2d),
    ("GlobalMaxPooling2D", pooling::global_max_pooling2d),
    ("ZeroPadding2D", pooling::zero_padding2d),
    ("Cropping2D", pooling::cropping2d),
    ("UpSampling2D", pooling::upsampling2d),
    ("BatchNormalization", normalization::batch_normalization),
    ("LayerNormalization", normalization::layer_normalization),
    ("Dropout", shape_ops::dropout),
    // Augmentation layers: the identity at inference, as Dropout (RandomCrop resizes: none).
    ("RandomFlip", shape_ops::dropout),
    ("RandomTranslation", shape_ops::dropout),
    ("RandomRotation", shape_ops::dropout),
    ("RandomZoom", shape_ops::dropout),
    ("RandomContrast", shape_ops::dropout),
    ("Flatten", shape_ops::flatten),
    ("Reshape", shape_ops::reshape),
    ("Permute", shape_ops::permute),
    ("Add", merge::add),
    ("Subtract", merge::subtract),
    ("Multiply", merge::multiply),
    ("Average", merge::average),
    ("Maximum", merge::maximum),
    ("Minimum", merge::minimum),
    ("Concatenate", merge::concatenate),
];

/// The rule for layers of Keras class `class`, if there is one.
pub(crate) fn rule_for(class: &str) -> Option<Rule> {
    RULES.iter().find(|row| row.0 == class).map(|row| row.1)
}

/// The classes the exporter writes (for error messages and documentation).
pub fn exported_classes() -> Vec<&'static str> {
    RULES.iter().map(|row| row.0).collect()
}

/// One layer of the model being exported, as its rule sees it.
#[derive(Debug)]
pub(crate) struct Site<'a> {
    /// The layer.
    pub layer: &'a dyn Layer,
    /// Its name (ONNX names of its nodes start with it).
    pub name: &'a str,
    /// Its Keras config (`Layer::config`).
    pub config: Json,
    /// Its input values, in inbound order.
    pub inputs: Vec<Value>,
    /// Its per-example output shape.
    pub output: Shape,
    /// Its weights by parameter name (`kernel`, `bias`, ...).
    pub weights: BTreeMap<&'static str, Tensor>,
}

impl Site<'_> {
    /// A reader of the layer's config.
    pub fn reader(&self) -> Result<ConfigReader<'_>> {
        ConfigReader::new(self.layer.class_name(), &self.config)
    }

    /// An error about this layer.
    pub fn error(&self, msg: impl Into<String>) -> Error {
        Error::Layer {
            layer: self.layer.label(),
            msg: format!("cannot be exported to ONNX: {}", msg.into()),
        }
    }

    /// The parameter `name`.
    pub fn param(&self, name: &str) -> Result<&Tensor> {
        self.weights
            .get(name)
            .ok_or_else(|| self.error(format!("has no parameter `{name}`")))
    }

    /// The parameter `name` if the layer has it.
    pub fn maybe_param(&self, name: &str) -> Option<&Tensor> {
        self.weights.get(name)
    }

    /// The one input of a one-input layer.
    pub fn input(&self) -> Result<&Value> {
        match self.inputs.as_slice() {
            [one] => Ok(one),
            other => Err(self.error(format!("expects one input, got {}", other.len()))),
        }
    }

    /// The one input, moved to `layout`.
    pub fn input_in(&self, e: &mut Emitter, layout: Layout) -> Result<Value> {
        let x = self.input()?;
        Ok(e.in_layout(x, layout))
    }

    /// The one input as a batched image (`(batch, h, w, c)` in Kiln's layout), moved to
    /// ONNX's channels-first layout; `[h, w, c]` besides.
    pub fn image_input(&self, e: &mut Emitter) -> Result<(Value, [usize; 3])> {
        let x = self.input()?;
        let [h, w, c] = x.shape.dims()[..] else {
            return Err(self.error(format!(
                "expects images (height, width, channels), got per-example shape {:?}",
                x.shape.dims()
            )));
        };
        Ok((e.in_layout(x, Layout::ChannelsFirst), [h, w, c]))
    }

    /// The layer's output value called `name` in `layout`.
    pub fn output(&self, name: String, layout: Layout) -> Value {
        Value {
            name,
            layout,
            shape: self.output.clone(),
        }
    }

    /// `name/suffix`: a name for one of the layer's nodes or initializers.
    pub fn named(&self, suffix: &str) -> String {
        format!("{}/{suffix}", self.name)
    }
}

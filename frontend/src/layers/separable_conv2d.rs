//! The depthwise-separable convolution layers: `DepthwiseConv2D` (each input channel
//! convolved with its own `depth_multiplier` filters) and `SeparableConv2D` (that, then a
//! 1×1 pointwise convolution to `filters` channels). Both share [`DepthwiseOptions`].

use ir::{BinaryOp, Conv2dAttrs, Graph, NodeId, Op, Shape};
use serde_json::{Map, Value, json};

use crate::activations::Activation;
use crate::activations::activation_json;
use crate::builder::builder_setters;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::initializers::initializer_json;
use crate::layers::conv2d::{Padding, Size2D, check_positive, read_padding, window_output};
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_config, layer_error};
use crate::regularizers::Regularizer;
use crate::regularizers::regularizer_json;

/// The options both layers share, with Keras' defaults: strides 1, `valid` padding, depth
/// multiplier 1, no dilation, linear activation, bias on, `glorot_uniform` depthwise
/// kernel, `zeros` bias, no regularizers.
#[derive(Debug, Clone, PartialEq)]
struct DepthwiseOptions {
    kernel_size: Size2D,
    strides: Size2D,
    padding: Padding,
    depth_multiplier: usize,
    dilation_rate: Size2D,
    activation: Activation,
    use_bias: bool,
    depthwise_initializer: Initializer,
    bias_initializer: Initializer,
    depthwise_regularizer: Option<Regularizer>,
    bias_regularizer: Option<Regularizer>,
    name: Option<String>,
}

impl DepthwiseOptions {
    fn new(kernel_size: Size2D) -> Self {
        DepthwiseOptions {
            kernel_size,
            strides: Size2D([1, 1]),
            padding: Padding::Valid,
            depth_multiplier: 1,
            dilation_rate: Size2D([1, 1]),
            activation: Activation::Linear,
            use_bias: true,
            depthwise_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            depthwise_regularizer: None,
            bias_regularizer: None,
            name: None,
        }
    }

    /// The shared fields of a Keras config; `extra_null` are the class's own fields that
    /// must be null (constraints).
    fn from_config(c: &ConfigReader, extra_null: &[&str]) -> Result<Self> {
        let mut null = vec![
            "activity_regularizer",
            "depthwise_constraint",
            "bias_constraint",
        ];
        null.extend_from_slice(extra_null);
        c.require_null(&null)?;
        c.require_str("data_format", "channels_last")?;
        Ok(DepthwiseOptions {
            kernel_size: Size2D(c.usize_pair_or("kernel_size", [0, 0])?),
            strides: Size2D(c.usize_pair_or("strides", [1, 1])?),
            padding: read_padding(c)?,
            depth_multiplier: c.usize_or("depth_multiplier", 1)?,
            dilation_rate: Size2D(c.usize_pair_or("dilation_rate", [1, 1])?),
            activation: c.activation_or("activation", Activation::Linear)?,
            use_bias: c.bool_or("use_bias", true)?,
            depthwise_initializer: c
                .initializer_or("depthwise_initializer", Initializer::GlorotUniform)?,
            bias_initializer: c.initializer_or("bias_initializer", Initializer::Zeros)?,
            depthwise_regularizer: c.regularizer("depthwise_regularizer")?,
            bias_regularizer: c.regularizer("bias_regularizer")?,
            name: Some(c.name().to_string()),
        })
    }

    /// The shared fields of the Keras config.
    fn config(&self) -> Map<String, Value> {
        let value = json!({
            "kernel_size": self.kernel_size.0,
            "strides": self.strides.0,
            "padding": self.padding.keras_name(),
            "data_format": "channels_last",
            "dilation_rate": self.dilation_rate.0,
            "depth_multiplier": self.depth_multiplier,
            "activation": activation_json(self.activation),
            "use_bias": self.use_bias,
            "depthwise_initializer": initializer_json(self.depthwise_initializer),
            "bias_initializer": initializer_json(self.bias_initializer),
            "depthwise_regularizer": regularizer_json(self.depthwise_regularizer),
            "bias_regularizer": regularizer_json(self.bias_regularizer),
            "activity_regularizer": null,
            "depthwise_constraint": null,
            "bias_constraint": null,
        });
        value.as_object().cloned().unwrap_or_default()
    }

    fn attrs(&self) -> Conv2dAttrs {
        Conv2dAttrs {
            strides: self.strides.0,
            dilation: self.dilation_rate.0,
            padding: self.padding.to_ir(),
        }
    }

    /// The `(height, width)` after the depthwise window, checking every option.
    fn spatial_output(&self, layer: &(impl Layer + ?Sized), input: &Shape) -> Result<[usize; 2]> {
        if self.depth_multiplier == 0 {
            return Err(layer_error(layer, "depth_multiplier must be at least 1"));
        }
        check_positive(layer, "kernel_size", self.kernel_size)?;
        check_positive(layer, "strides", self.strides)?;
        check_positive(layer, "dilation_rate", self.dilation_rate)?;
        if self.strides.0.iter().any(|&s| s > 1) && self.dilation_rate.0.iter().any(|&d| d > 1) {
            return Err(layer_error(
                layer,
                format!(
                    "strides {:?} > 1 cannot be combined with dilation_rate {:?} > 1",
                    self.strides.0, self.dilation_rate.0
                ),
            ));
        }
        let [kh, kw] = self.kernel_size.0;
        let [dh, dw] = self.dilation_rate.0;
        let window = [(kh - 1) * dh + 1, (kw - 1) * dw + 1];
        window_output(layer, input, window, self.strides.0, self.padding)
    }

    /// The depthwise kernel `[kh, kw, channels, depth_multiplier]`.
    fn depthwise_param(&self, input: &Shape) -> ParamSpec {
        let channels = input.dims().last().copied().unwrap_or(0);
        let [kh, kw] = self.kernel_size.0;
        ParamSpec {
            name: "depthwise_kernel",
            shape: Shape::from([kh, kw, channels, self.depth_multiplier]),
            initializer: self.depthwise_initializer,
            trainable: true,
            regularizer: self.depthwise_regularizer,
        }
    }

    /// The bias of `channels` elements, when on.
    fn bias_param(&self, channels: usize) -> Option<ParamSpec> {
        self.use_bias.then(|| ParamSpec {
            name: "bias",
            shape: Shape::from([channels]),
            initializer: self.bias_initializer,
            trainable: true,
            regularizer: self.bias_regularizer,
        })
    }

    /// Bias (the last parameter node, when on) and activation applied to `y`.
    fn finish(&self, g: &mut Graph, mut y: NodeId, params: &[NodeId]) -> Result<NodeId> {
        if self.use_bias {
            let bias = params[params.len() - 1];
            y = g.binary(BinaryOp::Add, y, bias)?;
        }
        self.activation.build(g, y)
    }
}

/// Checks the number of parameter nodes a layer was given.
fn check_param_count(
    layer: &(impl Layer + ?Sized),
    ctx: &LayerContext<'_>,
    expected: usize,
) -> Result<()> {
    if ctx.params.len() != expected {
        return Err(layer_error(
            layer,
            format!(
                "given {} parameter nodes, needs {expected}",
                ctx.params.len()
            ),
        ));
    }
    Ok(())
}

/// The builder methods both layers share, over their `options` field.
macro_rules! shared_builders {
    ($layer:ty) => {
        impl $layer {
            builder_setters! {
                /// Set the strides (default 1).
                strides(options.strides: impl Into<Size2D>) => Into::into;
                /// Set the padding (default `valid`).
                padding(options.padding: Padding);
                /// Set the depth multiplier: filters per input channel (default 1).
                depth_multiplier(options.depth_multiplier: usize);
                /// Set the dilation rate (default 1; more than 1 needs strides of 1, as in Keras).
                dilation_rate(options.dilation_rate: impl Into<Size2D>) => Into::into;
                /// Set the activation (default linear).
                activation(options.activation: Activation);
                /// Whether to add a bias (default true).
                use_bias(options.use_bias: bool);
                /// Set the depthwise kernel initializer (default `glorot_uniform`).
                depthwise_initializer(options.depthwise_initializer: Initializer);
                /// Set the bias initializer (default `zeros`).
                bias_initializer(options.bias_initializer: Initializer);
                /// Penalise the depthwise kernel (default none).
                depthwise_regularizer(options.depthwise_regularizer: Regularizer) => Some;
                /// Penalise the bias (default none).
                bias_regularizer(options.bias_regularizer: Regularizer) => Some;
            }

            named_builder!(options.name);
        }
    };
}

/// Keras' depthwise 2-D convolution. Input `(None, h, w, c)`, depthwise kernel
/// `[kh, kw, c, depth_multiplier]`, output `(None, oh, ow, c * depth_multiplier)` with
/// output channel `ci * depth_multiplier + mi` computed from input channel `ci`.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthwiseConv2D {
    options: DepthwiseOptions,
}

shared_builders!(DepthwiseConv2D);

impl DepthwiseConv2D {
    /// A depthwise convolution with a `kernel_size` window (`3` or `[3, 5]`).
    pub fn new(kernel_size: impl Into<Size2D>) -> Self {
        DepthwiseConv2D {
            options: DepthwiseOptions::new(kernel_size.into()),
        }
    }

    /// The layer a Keras `DepthwiseConv2D` config describes (Keras' defaults for missing fields).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        Ok(DepthwiseConv2D {
            options: DepthwiseOptions::from_config(c, &[])?,
        })
    }
}

impl Layer for DepthwiseConv2D {
    fn class_name(&self) -> &'static str {
        "DepthwiseConv2D"
    }

    name_methods!(options.name);

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        let [oh, ow] = self.options.spatial_output(self, input)?;
        let channels = input.dims()[2];
        Ok(Shape::from([
            oh,
            ow,
            channels.saturating_mul(self.options.depth_multiplier),
        ]))
    }

    fn params(&self, input: &Shape) -> Vec<ParamSpec> {
        let channels = input.dims().last().copied().unwrap_or(0);
        let out = channels.saturating_mul(self.options.depth_multiplier);
        let mut params = vec![self.options.depthwise_param(input)];
        params.extend(self.options.bias_param(out));
        params
    }

    fn config(&self) -> Value {
        layer_config(self, Value::Object(self.options.config()))
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        check_param_count(self, &ctx, 1 + usize::from(self.options.use_bias))?;
        let y = g.add(
            Op::DepthwiseConv2d(self.options.attrs()),
            &[x, ctx.params[0]],
        )?;
        self.options.finish(g, y, ctx.params)
    }
}

/// Keras' depthwise-separable 2-D convolution: a depthwise convolution (kernel
/// `[kh, kw, c, depth_multiplier]`, no bias) then a 1×1 pointwise convolution (kernel
/// `[1, 1, c * depth_multiplier, filters]`) plus the bias. Output `(None, oh, ow, filters)`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeparableConv2D {
    filters: usize,
    options: DepthwiseOptions,
    pointwise_initializer: Initializer,
    pointwise_regularizer: Option<Regularizer>,
}

shared_builders!(SeparableConv2D);

impl SeparableConv2D {
    /// `filters` output channels from a `kernel_size` depthwise window (`3` or `[3, 5]`).
    pub fn new(filters: usize, kernel_size: impl Into<Size2D>) -> Self {
        SeparableConv2D {
            filters,
            options: DepthwiseOptions::new(kernel_size.into()),
            pointwise_initializer: Initializer::GlorotUniform,
            pointwise_regularizer: None,
        }
    }

    builder_setters! {
        /// Set the pointwise kernel initializer (default `glorot_uniform`).
        pointwise_initializer(pointwise_initializer: Initializer);
        /// Penalise the pointwise kernel (default none).
        pointwise_regularizer(pointwise_regularizer: Regularizer) => Some;
    }

    /// Number of output channels.
    pub fn filters(&self) -> usize {
        self.filters
    }

    /// The layer a Keras `SeparableConv2D` config describes (Keras' defaults for missing fields).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        Ok(SeparableConv2D {
            filters: c.usize("filters")?,
            options: DepthwiseOptions::from_config(c, &["pointwise_constraint"])?,
            pointwise_initializer: c
                .initializer_or("pointwise_initializer", Initializer::GlorotUniform)?,
            pointwise_regularizer: c.regularizer("pointwise_regularizer")?,
        })
    }
}

impl Layer for SeparableConv2D {
    fn class_name(&self) -> &'static str {
        "SeparableConv2D"
    }

    name_methods!(options.name);

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        if self.filters == 0 {
            return Err(layer_error(self, "filters must be at least 1"));
        }
        let [oh, ow] = self.options.spatial_output(self, input)?;
        Ok(Shape::from([oh, ow, self.filters]))
    }

    fn params(&self, input: &Shape) -> Vec<ParamSpec> {
        let channels = input.dims().last().copied().unwrap_or(0);
        let mut params = vec![
            self.options.depthwise_param(input),
            ParamSpec {
                name: "pointwise_kernel",
                shape: Shape::from([
                    1,
                    1,
                    channels.saturating_mul(self.options.depth_multiplier),
                    self.filters,
                ]),
                initializer: self.pointwise_initializer,
                trainable: true,
                regularizer: self.pointwise_regularizer,
            },
        ];
        params.extend(self.options.bias_param(self.filters));
        params
    }

    fn config(&self) -> Value {
        let mut config = Map::new();
        config.insert("filters".into(), json!(self.filters));
        config.extend(self.options.config());
        config.insert(
            "pointwise_initializer".into(),
            initializer_json(self.pointwise_initializer),
        );
        config.insert(
            "pointwise_regularizer".into(),
            regularizer_json(self.pointwise_regularizer),
        );
        config.insert("pointwise_constraint".into(), Value::Null);
        layer_config(self, Value::Object(config))
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        check_param_count(self, &ctx, 2 + usize::from(self.options.use_bias))?;
        let depthwise = g.add(
            Op::DepthwiseConv2d(self.options.attrs()),
            &[x, ctx.params[0]],
        )?;
        let pointwise = Conv2dAttrs {
            strides: [1, 1],
            dilation: [1, 1],
            padding: ir::Padding::Valid,
        };
        let y = g.add(Op::Conv2d(pointwise), &[depthwise, ctx.params[1]])?;
        self.options.finish(g, y, ctx.params)
    }
}

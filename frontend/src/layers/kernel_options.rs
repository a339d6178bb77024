//! [`KernelOptions`]: the activation, bias switch, kernel/bias initializers and kernel/bias
//! regularizers that `Dense` and `Conv2D` share, with their builder setters
//! ([`kernel_option_setters!`]), parameter specs, Keras config fields and lowering tail
//! (bias add, activation).

use ir::{BinaryOp, Graph, NodeId, Shape};
use serde_json::{Value, json};

use crate::activations::Activation;
use crate::activations::activation_json;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::initializers::initializer_json;
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_error};
use crate::regularizers::Regularizer;
use crate::regularizers::regularizer_json;

/// The kernel/bias options of a layer computing `activation(kernel_op(x) + bias)`, with
/// Keras' defaults: linear activation, bias on, `glorot_uniform` kernel, `zeros` bias, no
/// regularizers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KernelOptions {
    /// Applied to the output.
    pub activation: Activation,
    /// Whether a bias is added.
    pub use_bias: bool,
    /// How the kernel is filled.
    pub kernel_initializer: Initializer,
    /// How the bias is filled.
    pub bias_initializer: Initializer,
    /// The kernel's penalty, if any.
    pub kernel_regularizer: Option<Regularizer>,
    /// The bias' penalty, if any.
    pub bias_regularizer: Option<Regularizer>,
}

impl Default for KernelOptions {
    fn default() -> Self {
        KernelOptions {
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: None,
            bias_regularizer: None,
        }
    }
}

/// The public setters of the [`KernelOptions`] held in a layer's `options` field (or the
/// nested field given, such as `inner.options`); invoke inside the layer's `impl` block.
macro_rules! kernel_option_setters {
    () => {
        $crate::layers::kernel_options::kernel_option_setters!(options);
    };
    ($($options:ident).+) => {
        $crate::builder::builder_setters! {
            /// Set the activation (default linear).
            activation($($options).+.activation: $crate::activations::Activation);
            /// Whether to add a bias (default true).
            use_bias($($options).+.use_bias: bool);
            /// Set the kernel initializer (default `glorot_uniform`).
            kernel_initializer($($options).+.kernel_initializer: $crate::initializers::Initializer);
            /// Set the bias initializer (default `zeros`).
            bias_initializer($($options).+.bias_initializer: $crate::initializers::Initializer);
            /// Penalise the kernel (default none).
            kernel_regularizer($($options).+.kernel_regularizer: $crate::regularizers::Regularizer)
                => Some;
            /// Penalise the bias (default none).
            bias_regularizer($($options).+.bias_regularizer: $crate::regularizers::Regularizer)
                => Some;
        }
    };
}

pub(crate) use kernel_option_setters;

impl KernelOptions {
    /// Config fields Kiln only accepts as `null`.
    pub const UNSUPPORTED: [&'static str; 3] = [
        "activity_regularizer",
        "kernel_constraint",
        "bias_constraint",
    ];

    /// The options a Keras config describes (Keras' defaults for missing fields).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        let d = KernelOptions::default();
        Ok(KernelOptions {
            activation: c.activation_or("activation", d.activation)?,
            use_bias: c.bool_or("use_bias", d.use_bias)?,
            kernel_initializer: c.initializer_or("kernel_initializer", d.kernel_initializer)?,
            bias_initializer: c.initializer_or("bias_initializer", d.bias_initializer)?,
            kernel_regularizer: c.regularizer("kernel_regularizer")?,
            bias_regularizer: c.regularizer("bias_regularizer")?,
        })
    }

    /// `layer_fields` (a JSON object) with these options' Keras config fields added.
    pub fn with_config_fields(&self, mut layer_fields: Value) -> Value {
        let fields = json!({
            "activation": activation_json(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializer_json(self.kernel_initializer),
            "bias_initializer": initializer_json(self.bias_initializer),
            "kernel_regularizer": regularizer_json(self.kernel_regularizer),
            "bias_regularizer": regularizer_json(self.bias_regularizer),
            "activity_regularizer": null,
            "kernel_constraint": null,
            "bias_constraint": null,
        });
        if let (Value::Object(out), Value::Object(fields)) = (&mut layer_fields, fields) {
            out.extend(fields);
        }
        layer_fields
    }

    /// The `kernel` of `kernel_shape` and, with a bias, the `bias` of `[units]`.
    pub fn params(&self, kernel_shape: Shape, units: usize) -> Vec<ParamSpec> {
        let mut params = vec![ParamSpec {
            name: "kernel",
            shape: kernel_shape,
            initializer: self.kernel_initializer,
            trainable: true,
            regularizer: self.kernel_regularizer,
        }];
        if self.use_bias {
            params.push(ParamSpec {
                name: "bias",
                shape: Shape::from([units]),
                initializer: self.bias_initializer,
                trainable: true,
                regularizer: self.bias_regularizer,
            });
        }
        params
    }

    /// Lowers `activation(apply_kernel(g, x, kernel) + bias)` for `layer`, checking that
    /// `ctx` holds the parameter nodes [`KernelOptions::params`] listed.
    pub fn build(
        &self,
        layer: &(impl Layer + ?Sized),
        g: &mut Graph,
        x: NodeId,
        ctx: LayerContext<'_>,
        apply_kernel: impl FnOnce(&mut Graph, NodeId, NodeId) -> Result<NodeId>,
    ) -> Result<NodeId> {
        let expected = if self.use_bias { 2 } else { 1 };
        if ctx.params.len() != expected {
            return Err(layer_error(
                layer,
                format!(
                    "given {} parameter nodes, needs {expected}",
                    ctx.params.len()
                ),
            ));
        }
        let mut y = apply_kernel(g, x, ctx.params[0])?;
        if self.use_bias {
            y = g.binary(BinaryOp::Add, y, ctx.params[1])?;
        }
        self.activation.build(g, y)
    }
}

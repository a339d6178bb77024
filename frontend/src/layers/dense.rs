//! The `Dense` layer: `activation(x · kernel + bias)` on the last axis of inputs of any rank
//! (the leading axes are folded into one for the product, as Keras applies it per position).

use ir::{Graph, NodeId, Shape};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::kernel_options::{KernelOptions, kernel_option_setters};
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};

/// A fully connected layer with Keras' defaults: linear activation, bias on,
/// `glorot_uniform` kernel, `zeros` bias, no regularizers. On an input of more than one axis
/// per example it applies to the last axis: `(None, 10, 8)` → `(None, 10, units)`, as Keras.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    units: usize,
    options: KernelOptions,
    name: Option<String>,
}

impl Dense {
    /// A dense layer of `units` outputs with Keras' defaults.
    pub fn new(units: usize) -> Self {
        Dense {
            units,
            options: KernelOptions::default(),
            name: None,
        }
    }

    kernel_option_setters!();

    named_builder!();

    /// Number of output units.
    pub fn units(&self) -> usize {
        self.units
    }

    /// The layer a Keras `Dense` config describes (Keras' defaults for missing fields).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_null(&KernelOptions::UNSUPPORTED)?;
        Ok(Dense {
            units: c.usize("units")?,
            options: KernelOptions::from_config(c)?,
            name: Some(c.name().to_string()),
        })
    }
}

impl Layer for Dense {
    fn class_name(&self) -> &'static str {
        "Dense"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        if self.units == 0 {
            return Err(layer_error(self, "units must be at least 1"));
        }
        let Some((&features, leading)) = input.dims().split_last() else {
            return Err(layer_error(
                self,
                format!(
                    "expects at least a 1-D input per example, got {}",
                    keras_shape(input)
                ),
            ));
        };
        if features == 0 {
            return Err(layer_error(
                self,
                format!("input {} has an empty last axis", keras_shape(input)),
            ));
        }
        let mut dims = leading.to_vec();
        dims.push(self.units);
        Ok(Shape::new(dims))
    }

    fn params(&self, input: &Shape) -> Vec<ParamSpec> {
        self.options.params(
            Shape::from([input.dims().last().copied().unwrap_or(0), self.units]),
            self.units,
        )
    }

    fn config(&self) -> Value {
        layer_config(
            self,
            self.options
                .with_config_fields(json!({ "units": self.units })),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        self.options.build(self, g, x, ctx, |g, x, kernel| {
            let dims = g.shape(x).dims().to_vec();
            if dims.len() <= 2 {
                return Ok(g.matmul(x, kernel, false, false)?);
            }
            let (&features, leading) = dims.split_last().expect("rank above 2");
            let rows = g.reshape(x, [leading.iter().product(), features])?;
            let y = g.matmul(rows, kernel, false, false)?;
            let mut out = leading.to_vec();
            out.push(self.units);
            Ok(g.reshape(y, Shape::new(out))?)
        })
    }
}

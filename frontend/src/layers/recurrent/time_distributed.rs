//! The `TimeDistributed` wrapper: one layer applied to every time step (axis 1) of its input,
//! by folding the steps into the batch (`[batch, steps, ...]` → `[batch * steps, ...]`), the
//! inner layer's lowering, and unfolding again. The parameters are the inner layer's (shared
//! by all steps). It does not handle layers of several inputs.

use ir::{Graph, NodeId, Shape, Tensor};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
    layer_from_json, layer_to_json,
};

/// Applies `layer` to every step: `TimeDistributed::new(Dense::new(4))` on `(None, 10, 8)`
/// gives `(None, 10, 4)`.
///
/// ```
/// use kiln::layers::{Dense, Layer, TimeDistributed};
/// let td = TimeDistributed::new(Dense::new(4));
/// assert_eq!(td.output_shape(&[10, 8].into()).unwrap(), [10, 4].into());
/// ```
#[derive(Debug)]
pub struct TimeDistributed {
    layer: Box<dyn Layer>,
    name: Option<String>,
}

impl TimeDistributed {
    /// Wraps `layer` (named by its class, as Keras names it, when it has no name).
    pub fn new(layer: impl Into<Box<dyn Layer>>) -> Self {
        let mut layer = layer.into();
        if layer.name().is_none_or(str::is_empty) {
            let prefix = layer.name_prefix();
            layer.set_name(prefix);
        }
        TimeDistributed { layer, name: None }
    }

    named_builder!();

    /// The layer a Keras `TimeDistributed` config describes (`layer`: a nested layer entry).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        let entry = c
            .get("layer")
            .ok_or_else(|| c.error("layer", "is required"))?;
        let layer = layer_from_json(entry)?;
        Ok(TimeDistributed {
            layer,
            name: Some(c.name().to_string()),
        })
    }

    /// `(steps, inner shape)` of a per-example input, or an error naming this layer.
    fn split<'s>(&self, input: &'s Shape) -> Result<(usize, &'s [usize])> {
        let count = self.layer.output_count();
        if count != 1 {
            return Err(layer_error(
                self,
                format!(
                    "inner layer {} has {count} outputs; TimeDistributed wraps a layer with one",
                    self.layer.label()
                ),
            ));
        }
        match input.dims() {
            [steps, rest @ ..] if !rest.is_empty() => Ok((*steps, rest)),
            _ => Err(layer_error(
                self,
                format!(
                    "expects at least a 2-D input (steps, ...) per example, got {}",
                    keras_shape(input)
                ),
            )),
        }
    }

    /// An inner layer's error, said as this wrapper's.
    fn wrap(&self, e: Error) -> Error {
        match e {
            Error::Layer { layer, msg } => layer_error(self, format!("inner layer {layer}: {msg}")),
            other => other,
        }
    }
}

impl Layer for TimeDistributed {
    fn class_name(&self) -> &'static str {
        "TimeDistributed"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        let (steps, rest) = self.split(input)?;
        let inner = self
            .layer
            .output_shape(&Shape::new(rest.to_vec()))
            .map_err(|e| self.wrap(e))?;
        let mut dims = vec![steps];
        dims.extend_from_slice(inner.dims());
        Ok(Shape::new(dims))
    }

    fn params(&self, input: &Shape) -> Vec<ParamSpec> {
        match self.split(input) {
            Ok((_, rest)) => self.layer.params(&Shape::new(rest.to_vec())),
            Err(_) => Vec::new(),
        }
    }

    fn initial_value(&self, spec: &ParamSpec, seed: u64) -> Result<Tensor> {
        self.layer.initial_value(spec, seed)
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        let dims = g.shape(x).dims().to_vec();
        let [batch, steps, rest @ ..] = dims.as_slice() else {
            return Err(layer_error(self, "input has no time axis"));
        };
        let mut folded = vec![batch * steps];
        folded.extend_from_slice(rest);
        let x = g.reshape(x, Shape::new(folded))?;
        let y = self.layer.build(g, x, ctx).map_err(|e| self.wrap(e))?;
        let mut unfolded = vec![*batch, *steps];
        unfolded.extend_from_slice(&g.shape(y).dims()[1..]);
        Ok(g.reshape(y, Shape::new(unfolded))?)
    }

    fn config(&self) -> Value {
        layer_config(self, json!({"layer": layer_to_json(self.layer.as_ref())}))
    }
}

//! The `Reshape` layer: a new per-example shape with the same element count (one axis may be
//! `-1`, inferred).

use ir::{Graph, NodeId, Shape};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};

/// Reshapes each example to `target_shape`; one entry may be `-1`, computed from the rest.
/// `Reshape::new([7, 7, -1])` on `(None, 49)` gives `(None, 7, 7, 1)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reshape {
    target_shape: Vec<i64>,
    name: Option<String>,
}

impl Reshape {
    /// A reshape to `target_shape` (per example, no batch axis).
    pub fn new(target_shape: impl IntoIterator<Item = i64>) -> Self {
        Reshape {
            target_shape: target_shape.into_iter().collect(),
            name: None,
        }
    }

    /// The layer a Keras `Reshape` config describes (`target_shape` a list of integers).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        let target = c
            .get("target_shape")
            .and_then(Value::as_array)
            .and_then(|items| {
                items
                    .iter()
                    .map(Value::as_i64)
                    .collect::<Option<Vec<i64>>>()
            })
            .ok_or_else(|| c.error("target_shape", "must be a list of integers"))?;
        Ok(Reshape {
            target_shape: target,
            name: Some(c.name().to_string()),
        })
    }

    named_builder!();

    /// The target as Keras prints it: `(None, 7, 7, -1)`.
    fn target_text(&self) -> String {
        let mut s = String::from("(None");
        for d in &self.target_shape {
            s.push_str(&format!(", {d}"));
        }
        s.push(')');
        s
    }
}

impl Layer for Reshape {
    fn class_name(&self) -> &'static str {
        "Reshape"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        let fail = |why: &str| {
            layer_error(
                self,
                format!(
                    "cannot reshape {} to {}: {why}",
                    keras_shape(input),
                    self.target_text()
                ),
            )
        };
        let unknown: Vec<usize> = (0..self.target_shape.len())
            .filter(|&i| self.target_shape[i] == -1)
            .collect();
        if unknown.len() > 1 {
            return Err(fail("at most one axis may be -1"));
        }
        if self.target_shape.iter().any(|&d| d == 0 || d < -1) {
            return Err(fail("every axis must be positive or -1"));
        }
        let positive: Vec<usize> = self
            .target_shape
            .iter()
            .filter(|&&d| d > 0)
            .map(|&d| d as usize)
            .collect();
        let known = ir::size::checked_numel(&positive).map_err(|e| fail(&e.to_string()))?;
        let total = input.numel();
        let mut dims: Vec<usize> = self
            .target_shape
            .iter()
            .map(|&d| d.max(0) as usize)
            .collect();
        if let Some(&axis) = unknown.first() {
            if !total.is_multiple_of(known) {
                return Err(fail(&format!(
                    "{total} elements do not divide into axes of {known}"
                )));
            }
            dims[axis] = total / known;
        } else if known != total {
            return Err(fail(&format!(
                "{total} elements cannot become {known} elements"
            )));
        }
        Ok(Shape::new(dims))
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        layer_config(self, json!({"target_shape": self.target_shape}))
    }

    fn build(&self, g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        let dims = g.shape(x).dims().to_vec();
        let (&batch, per_example) = dims
            .split_first()
            .ok_or_else(|| layer_error(self, "input has no batch axis"))?;
        let target = self.output_shape(&Shape::new(per_example.to_vec()))?;
        let mut full = vec![batch];
        full.extend_from_slice(target.dims());
        Ok(g.reshape(x, Shape::new(full))?)
    }
}

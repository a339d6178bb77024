//! The `PinnedBatch` layer: the identity, but only at one batch size. An imported model
//! whose file fixes the batch size (an ONNX `Reshape` to a constant `[2, 8]`) carries one
//! after the node that fixes it, so predicting or training at another batch size is an error
//! naming that node instead of wrong numbers. It is not a Keras layer.

use ir::{Graph, NodeId, Shape};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_config, layer_error};

/// Passes its input through when the batch has `batch_size` examples; any other batch size
/// is an error that names `origin` (what fixed the batch size).
///
/// ```
/// use kiln::layers::{Layer, PinnedBatch};
/// let pin = PinnedBatch::new(2, "ONNX node `view` (Reshape to [2, 8])");
/// assert_eq!(pin.output_shape(&[8].into()).unwrap(), [8].into());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PinnedBatch {
    batch_size: usize,
    origin: String,
    name: Option<String>,
}

impl PinnedBatch {
    /// Only batches of `batch_size`; `origin` says what fixed it.
    pub fn new(batch_size: usize, origin: impl Into<String>) -> Self {
        PinnedBatch {
            batch_size,
            origin: origin.into(),
            name: None,
        }
    }

    named_builder!();

    /// The layer a `PinnedBatch` config describes (`batch_size`, `origin`).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        Ok(PinnedBatch {
            batch_size: c.usize("batch_size")?,
            origin: c.str_or("origin", "")?,
            name: Some(c.name().to_string()),
        })
    }

    /// The one batch size the model runs at.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
}

impl Layer for PinnedBatch {
    fn class_name(&self) -> &'static str {
        "PinnedBatch"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        Ok(input.clone())
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        layer_config(
            self,
            json!({"batch_size": self.batch_size, "origin": self.origin}),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        let batch = g.shape(x).dims().first().copied().unwrap_or(0);
        if batch != self.batch_size {
            return Err(layer_error(
                self,
                format!(
                    "the model file pins the batch size to {}: {} fixes it; got a batch of {batch} \
                     (Kiln also builds every graph at batch 1 when compiling). Run it at batch \
                     size {}, re-export the model with a dynamic batch axis, or import it with \
                     kiln::onnx::ImportOptions {{ free_batch: true }}",
                    self.batch_size, self.origin, self.batch_size
                ),
            ));
        }
        Ok(x)
    }
}

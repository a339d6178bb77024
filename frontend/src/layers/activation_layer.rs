//! [`ActivationLayerOf`]: the one parameter-free, shape-preserving activation layer, and the
//! [`ActivationKind`] it applies. A kind is an activation's data and formula (Keras class
//! name, hyper-parameters, check, config fields, lowering); the layer adds the name and
//! implements [`Layer`] once for every kind. The kinds and the Keras layers they make
//! (`ActivationLayer`, `ReLU`, `LeakyReLU`, `ELU`, `Softmax`) are in
//! [`crate::layers::activation_kinds`].

use std::fmt::Debug;

use ir::{Graph, NodeId, Shape};
use serde_json::Value;

use crate::error::Result;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_config, layer_error};

/// What an activation layer applies elementwise (softmax: along an axis): its Keras class,
/// its hyper-parameters (the implementing type's fields) and what they mean.
pub trait ActivationKind: Debug + Clone + PartialEq + Send + Sync + 'static {
    /// Keras' class name.
    const CLASS: &'static str;

    /// Why the hyper-parameters cannot apply to a per-example `input`, if they cannot.
    fn check(&self, input: &Shape) -> std::result::Result<(), String>;

    /// The kind's own Keras config fields (an object).
    fn fields(&self) -> Value;

    /// The kind a Keras config of its class describes (Keras' defaults for missing fields).
    fn from_config(c: &ConfigReader) -> Result<Self>;

    /// Append the activation of the batched `x` (already checked by
    /// [`ActivationKind::check`] on its per-example shape).
    fn lower(&self, g: &mut Graph, x: NodeId) -> Result<NodeId>;
}

/// A layer applying the activation `K`: no parameters, output shape = input shape.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActivationLayerOf<K: ActivationKind> {
    /// The activation applied (read and set by each kind's own constructors and setters).
    pub(super) kind: K,
    name: Option<String>,
}

impl<K: ActivationKind> ActivationLayerOf<K> {
    /// An unnamed layer applying `kind`.
    pub(super) fn of(kind: K) -> Self {
        ActivationLayerOf { kind, name: None }
    }

    named_builder!();

    /// The layer a Keras config of its class describes.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        Ok(ActivationLayerOf::of(K::from_config(c)?).named(c.name()))
    }
}

impl<K: ActivationKind> Layer for ActivationLayerOf<K> {
    fn class_name(&self) -> &'static str {
        K::CLASS
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        self.kind
            .check(input)
            .map_err(|msg| layer_error(self, msg))?;
        Ok(input.clone())
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        layer_config(self, self.kind.fields())
    }

    fn build(&self, g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        self.kind.lower(g, x)
    }
}

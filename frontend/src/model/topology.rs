//! What a [`Model`] says about its layers, read off its [`LayerGraph`](super::graph): names,
//! kinds, connections, shapes (validating the model, errors naming the layer) and the
//! parameters the layers ask for.

use std::collections::BTreeMap;

use ir::{Shape, Tensor};

use super::Model;
use super::graph::{LayerShapes, ModelKind};
use crate::error::{Error, Result};
use crate::layers::{Layer, ParamSpec};

impl Model {
    /// The model's name.
    pub fn name(&self) -> &str {
        self.graph.name()
    }

    /// Sequential or functional.
    pub fn kind(&self) -> ModelKind {
        self.graph.kind()
    }

    /// The layers in topological order (for a sequential model: the `Input` first, then
    /// the stack). A shared layer appears once per call: its later calls are copies of it
    /// that own no weights (they read the first call's).
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        self.graph.layers()
    }

    /// The layer called `name`, if any.
    pub fn layer(&self, name: &str) -> Option<&dyn Layer> {
        self.graph
            .layer_index(name)
            .map(|i| self.graph.layers()[i].as_ref())
    }

    /// The names of the layers feeding the layer at `index`, in order.
    pub fn inbound_layers(&self, index: usize) -> Vec<&str> {
        if index >= self.graph.layers().len() {
            return Vec::new();
        }
        let layers: Vec<usize> = self.graph.inbound(index).iter().map(|p| p.layer).collect();
        self.names(&layers)
    }

    /// The names of the model's input layers, in order.
    pub fn input_names(&self) -> Vec<&str> {
        self.names(self.graph.inputs())
    }

    /// The names of the layers whose outputs the model returns, in order (a layer appears
    /// once per output of it the model returns, as in Keras).
    pub fn output_names(&self) -> Vec<&str> {
        let layers: Vec<usize> = self.graph.outputs().iter().map(|p| p.layer).collect();
        self.names(&layers)
    }

    /// The layer outputs feeding the layer at `index`, as (layer name, output index).
    pub(crate) fn inbound_ports(&self, index: usize) -> Vec<(&str, usize)> {
        self.ports(self.graph.inbound(index))
    }

    /// The layer outputs the model returns, as (layer name, output index).
    pub(crate) fn output_ports(&self) -> Vec<(&str, usize)> {
        self.ports(self.graph.outputs())
    }

    /// The layer outputs feeding entry `index`, as Keras' (layer name, node index, tensor
    /// index): the node index says which call of a shared layer.
    pub(crate) fn inbound_refs(&self, index: usize) -> Vec<(&str, usize, usize)> {
        self.refs(self.graph.inbound(index))
    }

    /// The layer outputs the model returns, as (layer name, node index, tensor index).
    pub(crate) fn output_refs(&self) -> Vec<(&str, usize, usize)> {
        self.refs(self.graph.outputs())
    }

    fn refs(&self, ports: &[super::graph::Port]) -> Vec<(&str, usize, usize)> {
        ports
            .iter()
            .map(|p| {
                (
                    self.graph.layer_name(p.layer),
                    self.graph.node_index(p.layer),
                    p.output,
                )
            })
            .collect()
    }

    /// The entries of the calls of the layer whose first call is entry `index`, in order;
    /// empty when entry `index` is itself a later call of a shared layer.
    pub(crate) fn calls_of(&self, index: usize) -> Vec<usize> {
        if self.graph.owner(index) != index {
            return Vec::new();
        }
        self.graph.calls_of(index)
    }

    /// Whether entry `index` is a later call of a shared layer (it owns no weights and is
    /// not a layer of its own in Keras' lists).
    pub(crate) fn is_shared_call(&self, index: usize) -> bool {
        self.graph.owner(index) != index
    }

    fn ports(&self, ports: &[super::graph::Port]) -> Vec<(&str, usize)> {
        ports
            .iter()
            .map(|p| (self.graph.layer_name(p.layer), p.output))
            .collect()
    }

    /// The names of the layers at `indices`.
    fn names(&self, indices: &[usize]) -> Vec<&str> {
        indices.iter().map(|&i| self.graph.layer_name(i)).collect()
    }

    /// An error about the model as a whole, naming it.
    pub(crate) fn model_error(&self, msg: impl Into<String>) -> Error {
        self.graph.error(msg)
    }

    /// The per-example input shape of a one-input model (from its `Input` layer).
    pub fn input_shape(&self) -> Result<Shape> {
        self.graph.input_shape()
    }

    /// The per-example shape of every model input, in order.
    pub fn input_shapes(&self) -> Result<Vec<Shape>> {
        self.graph.input_shapes()
    }

    /// Validate the model and return each layer's shapes and parameters, in layer order.
    /// Errors name the layer at fault and the shapes involved.
    pub fn layer_shapes(&self) -> Result<Vec<LayerShapes>> {
        self.graph.layer_shapes()
    }

    /// The per-example output shape of a one-output model.
    pub fn output_shape(&self) -> Result<Shape> {
        let shapes = self.output_shapes()?;
        match <[Shape; 1]>::try_from(shapes) {
            Ok([one]) => Ok(one),
            Err(shapes) => {
                Err(self.model_error(format!("has {} outputs; use output_shapes", shapes.len())))
            }
        }
    }

    /// The per-example shape of every model output, in order.
    pub fn output_shapes(&self) -> Result<Vec<Shape>> {
        self.graph.output_shapes()
    }

    /// Total number of parameter elements.
    pub fn count_params(&self) -> Result<usize> {
        Ok(self
            .layer_shapes()?
            .iter()
            .flat_map(|l| &l.params)
            .map(|p| p.shape.numel())
            .fold(0, usize::saturating_add))
    }

    /// Every parameter as `(layer/param, spec)`, in layer order; `trainable` is cleared
    /// for the parameters of frozen layers.
    pub(crate) fn param_specs(&self) -> Result<Vec<(String, ParamSpec)>> {
        let shapes = self.layer_shapes()?;
        Ok(shapes
            .into_iter()
            .enumerate()
            .flat_map(|(i, s)| {
                let layer_name = self.graph.layer_name(i).to_string();
                let frozen = self.frozen.contains(&layer_name);
                s.params.into_iter().map(move |mut p| {
                    p.trainable &= !frozen;
                    (format!("{layer_name}/{}", p.name), p)
                })
            })
            .collect())
    }

    /// Initial values of every parameter, from the model's seed: parameter `k` uses a seed
    /// derived from `(seed, k)`, so the same seed gives the same weights. Values in `keep`
    /// with the right shape are taken as they are instead.
    pub(crate) fn initial_weights_keeping(
        &self,
        keep: &BTreeMap<String, Tensor>,
    ) -> Result<BTreeMap<String, Tensor>> {
        let shapes = self.layer_shapes()?;
        let owned = shapes.iter().enumerate().flat_map(|(i, s)| {
            let layer = self.graph.layers()[i].as_ref();
            let layer_name = self.graph.layer_name(i);
            s.params.iter().map(move |p| (layer, layer_name, p))
        });
        owned
            .enumerate()
            .map(|(k, (layer, layer_name, spec))| {
                let name = format!("{layer_name}/{}", spec.name);
                if let Some(kept) = keep.get(&name).filter(|t| t.shape == spec.shape) {
                    return Ok((name, kept.clone()));
                }
                let seed = self.seed ^ (k as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                Ok((name, layer.initial_value(spec, seed)?))
            })
            .collect()
    }
}

//! [`Functional`]: building a [`Model`] as a graph of layers (Keras' functional API).
//!
//! ```
//! # fn main() -> kiln::Result<()> {
//! use kiln::prelude::*;
//! let mut f = Functional::builder("two_heads");
//! let x = f.input(Input::new([8]));
//! let h = f.apply(Dense::new(16).activation(Activation::Relu), x)?;
//! let a = f.apply(Dense::new(3), h)?;
//! let b = f.apply(Dense::new(1), h)?;
//! let model = f.build(&[x], &[a, b])?;
//! assert_eq!(model.output_names(), ["dense_1", "dense_2"]);
//! # Ok(())
//! # }
//! ```
//!
//! A layer with several outputs (an `LSTM` with `return_state`) is applied with
//! [`Functional::apply_outputs`], which returns one tensor per output, as Keras'
//! `out, h, c = LSTM(4, return_state=True)(x)`:
//!
//! ```
//! # fn main() -> kiln::Result<()> {
//! use kiln::layers::Concatenate;
//! use kiln::prelude::*;
//! use kiln::Shape;
//! let mut f = Functional::builder("states");
//! let x = f.input(Input::new([5, 3]));
//! let [out, h, c] = f.apply_outputs(LSTM::new(4).return_state(true), &[x])?[..] else {
//!     unreachable!("an LSTM with return_state has three outputs")
//! };
//! let hc = f.apply_many(Concatenate::new(), &[h, c])?;
//! let y = f.apply(Dense::new(2), hc)?;
//! let model = f.build(&[x], &[y, out])?;
//! assert_eq!(model.output_shapes()?, [Shape::from([2]), Shape::from([4])]);
//! # Ok(())
//! # }
//! ```
//!
//! A layer applied again with [`Functional::apply_shared`] is shared (its calls use one set
//! of weights); shapes are checked as layers are applied, so an error names the layer at
//! fault. A whole model is applied as a
//! layer with `Functional::apply_model` (see `nested.rs`: it is inlined).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use ir::{Shape, Tensor};

use super::graph::{
    GraphParts, LayerGraph, ModelKind, Port, ancestors_with_owners, check_arity, layer_lists,
    moved_shared,
};
use super::{DEFAULT_SEED, Model};
use crate::error::{Error, Result};
use crate::layers::naming::name_new_layer;
use crate::layers::{Input, Layer, layer_from_json, layer_to_json};

/// Distinguishes builders, so a tensor of one cannot be used in another.
static NEXT_BUILDER: AtomicU64 = AtomicU64::new(1);

/// The output of a layer applied in a [`Functional`] builder (Keras' symbolic tensor): one
/// of the layer's outputs ([`Functional::apply_outputs`] for a layer with several).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TensorRef {
    builder: u64,
    port: Port,
}

/// A model under construction with the functional API: declare inputs, apply layers to
/// earlier outputs, then [`Functional::build`] a [`Model`] from chosen inputs and outputs.
#[derive(Debug)]
pub struct Functional {
    id: u64,
    name: String,
    seed: u64,
    layers: Vec<Box<dyn Layer>>,
    inbound: Vec<Vec<Port>>,
    /// Per-example shape of each output of each layer.
    shapes: Vec<Vec<Shape>>,
    /// Weights carried over from a model (`Model::into_builder`).
    weights: BTreeMap<String, Tensor>,
    /// Frozen layers carried over.
    frozen: BTreeSet<String>,
    /// Later calls of shared layers: entry → the entry of the layer's first call.
    shared: BTreeMap<usize, usize>,
}

impl Functional {
    /// An empty builder for a model called `name`.
    pub fn builder(name: impl Into<String>) -> Self {
        Functional {
            id: NEXT_BUILDER.fetch_add(1, Ordering::Relaxed),
            name: name.into(),
            seed: DEFAULT_SEED,
            layers: Vec::new(),
            inbound: Vec::new(),
            shapes: Vec::new(),
            weights: BTreeMap::new(),
            frozen: BTreeSet::new(),
            shared: BTreeMap::new(),
        }
    }

    /// The seed the built model uses (weight initialisation, shuffling).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The per-example shape of `tensor`.
    pub fn shape(&self, tensor: TensorRef) -> Result<&Shape> {
        let port = self.check(tensor)?;
        Ok(&self.shapes[port.layer][port.output])
    }

    /// Declare a model input. An unnamed input gets `input`, `input_1`, ...; a duplicate
    /// name is reported by [`Functional::build`].
    pub fn input(&mut self, input: Input) -> TensorRef {
        let mut layer: Box<dyn Layer> = Box::new(input);
        name_new_layer(layer.as_mut(), &self.layers);
        let shape = layer.input_shape().cloned().expect("an Input has a shape");
        self.push(layer, Vec::new(), vec![shape])[0]
    }

    /// Apply a one-input layer to `x`; returns its output. Shape errors name the layer.
    pub fn apply(&mut self, layer: impl Into<Box<dyn Layer>>, x: TensorRef) -> Result<TensorRef> {
        self.apply_many(layer, &[x])
    }

    /// Apply a layer to several inputs (merge layers such as `Add`); returns its output
    /// (the first, for a layer with several: see [`Functional::apply_outputs`]).
    pub fn apply_many(
        &mut self,
        layer: impl Into<Box<dyn Layer>>,
        xs: &[TensorRef],
    ) -> Result<TensorRef> {
        Ok(self.apply_outputs(layer, xs)?[0])
    }

    /// Apply a layer to one or more inputs; returns every output of the layer, in order
    /// (Keras' `out, h, c = LSTM(4, return_state=True)(x)`). One tensor for most layers.
    pub fn apply_outputs(
        &mut self,
        layer: impl Into<Box<dyn Layer>>,
        xs: &[TensorRef],
    ) -> Result<Vec<TensorRef>> {
        let mut layer = layer.into();
        name_new_layer(layer.as_mut(), &self.layers);
        if layer.input_shape().is_some() {
            return Err(Error::Layer {
                layer: layer.label(),
                msg: "an Input is declared with Functional::input, not applied".into(),
            });
        }
        let inbound = xs
            .iter()
            .map(|&x| self.check(x))
            .collect::<Result<Vec<Port>>>()?;
        check_arity(layer.as_ref(), inbound.len())?;
        let inputs: Vec<Shape> = inbound
            .iter()
            .map(|p| self.shapes[p.layer][p.output].clone())
            .collect();
        let outputs = layer.output_shapes_many(&inputs)?;
        if outputs.len() != layer.output_count() {
            return Err(Error::Layer {
                layer: layer.label(),
                msg: format!(
                    "declares {} outputs but gave {} shapes",
                    layer.output_count(),
                    outputs.len()
                ),
            });
        }
        Ok(self.push(layer, inbound, outputs))
    }

    /// Call the layer already applied under the name `layer` again, on `xs`: a shared
    /// layer (Keras' `shared = Dense(4); a = shared(x1); b = shared(x2)`), whose calls all
    /// use one set of weights, so training sums their gradients into it. The inputs must
    /// have the shapes that need the same weights. Returns every output of this call.
    ///
    /// ```
    /// # fn main() -> kiln::Result<()> {
    /// use kiln::layers::Subtract;
    /// use kiln::prelude::*;
    /// let mut f = Functional::builder("siamese");
    /// let left = f.input(Input::new([4]));
    /// let right = f.input(Input::new([4]));
    /// let a = f.apply(Dense::new(2).named("embed"), left)?;
    /// let b = f.apply_shared("embed", &[right])?[0];
    /// let d = f.apply_many(Subtract::new(), &[a, b])?;
    /// let model = f.build(&[left, right], &[d])?;
    /// assert_eq!(model.count_params()?, 4 * 2 + 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn apply_shared(&mut self, layer: &str, xs: &[TensorRef]) -> Result<Vec<TensorRef>> {
        let Some(owner) = self.layers.iter().position(|l| l.name() == Some(layer)) else {
            return Err(Error::Model {
                model: self.name.clone(),
                msg: format!("has no layer named `{layer}` to call again"),
            });
        };
        let first = self.layers[owner].as_ref();
        if first.input_shape().is_some() {
            return Err(Error::Layer {
                layer: first.label(),
                msg: "is an Input; it cannot be called".into(),
            });
        }
        let ports = xs
            .iter()
            .map(|&x| self.check(x))
            .collect::<Result<Vec<Port>>>()?;
        let shapes_of = |ports: &[Port]| -> Vec<Shape> {
            (ports.iter())
                .map(|p| self.shapes[p.layer][p.output].clone())
                .collect()
        };
        let (was, now) = (shapes_of(&self.inbound[owner]), shapes_of(&ports));
        let specs = |inputs: &[Shape]| -> Vec<Shape> {
            first
                .params_many(inputs)
                .into_iter()
                .map(|p| p.shape)
                .collect()
        };
        if check_arity(first, now.len()).is_ok() && specs(&was) != specs(&now) {
            let list = |s: &[Shape]| {
                s.iter()
                    .map(Shape::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(Error::Layer {
                layer: first.label(),
                msg: format!(
                    "is shared: called on inputs of shape {} after {}, which needs other weights",
                    list(&now),
                    list(&was)
                ),
            });
        }
        let copy = layer_from_json(&layer_to_json(first))?;
        let before = self.layers.len();
        let outputs = self.apply_outputs(copy, xs)?;
        self.shared.insert(before, owner);
        Ok(outputs)
    }

    /// A chain of one-input layers applied in turn, starting from `x`.
    pub fn apply_all(
        &mut self,
        layers: impl IntoIterator<Item = Box<dyn Layer>>,
        x: TensorRef,
    ) -> Result<TensorRef> {
        layers
            .into_iter()
            .try_fold(x, |x, layer| self.apply(layer, x))
    }

    /// The model from `inputs` (each declared with [`Functional::input`]) to `outputs`.
    /// Only the layers the outputs depend on are kept, in the order they were applied;
    /// every input they depend on must be among `inputs`. Weights carried over from a
    /// model keep their values; other layers get initial weights.
    pub fn build(self, inputs: &[TensorRef], outputs: &[TensorRef]) -> Result<Model> {
        let error = |msg: String| Error::Model {
            model: self.name.clone(),
            msg,
        };
        if inputs.is_empty() || outputs.is_empty() {
            return Err(error("needs at least one input and one output".into()));
        }
        let inputs = inputs
            .iter()
            .map(|&x| self.check(x).map(|p| p.layer))
            .collect::<Result<Vec<usize>>>()?;
        let outputs = outputs
            .iter()
            .map(|&x| self.check(x))
            .collect::<Result<Vec<Port>>>()?;
        let mut seen = HashSet::new();
        for &i in &inputs {
            let layer = &self.layers[i];
            if !self.inbound[i].is_empty() {
                return Err(error(format!(
                    "model inputs must be Input layers, got {}",
                    layer.label()
                )));
            }
            if !seen.insert(i) {
                return Err(error(format!("input {} is given twice", layer.label())));
            }
        }
        let output_layers: Vec<usize> = outputs.iter().map(|p| p.layer).collect();
        let keep = ancestors_with_owners(
            &layer_lists(&self.inbound),
            &self.shared,
            &[output_layers.as_slice(), &inputs].concat(),
        );
        if let Some(missing) = (0..self.layers.len())
            .find(|&i| keep[i] && self.inbound[i].is_empty() && !inputs.contains(&i))
        {
            return Err(error(format!(
                "the outputs depend on input {}, which is not among the model's inputs",
                self.layers[missing].label()
            )));
        }
        let mut new_index = vec![usize::MAX; self.layers.len()];
        let mut layers = Vec::new();
        let mut inbound = Vec::new();
        for (i, (layer, from)) in self.layers.into_iter().zip(self.inbound).enumerate() {
            if keep[i] {
                new_index[i] = layers.len();
                layers.push(layer);
                inbound.push(from.iter().map(|&p| moved(p, &new_index)).collect());
            }
        }
        let mut model = Model::from_graph(LayerGraph::from_parts(GraphParts {
            name: self.name,
            kind: ModelKind::Functional,
            layers,
            inbound,
            shared: moved_shared(&self.shared, &new_index),
            inputs: inputs.iter().map(|&i| new_index[i]).collect(),
            outputs: outputs.iter().map(|&p| moved(p, &new_index)).collect(),
        }))
        .with_seed(self.seed);
        model.layer_shapes()?;
        model.set_frozen_layers(self.frozen);
        if !self.weights.is_empty() {
            model.weights = self.weights.into();
            model.refit_weights()?;
        }
        Ok(model)
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether a layer called `name` was applied (or declared) already.
    pub(crate) fn has_layer(&self, name: &str) -> bool {
        self.layers.iter().any(|l| l.name() == Some(name))
    }

    /// Carry `weights` (by parameter name) and the `frozen` layers over into the model
    /// this builder builds.
    pub(crate) fn carry(&mut self, weights: BTreeMap<String, Tensor>, frozen: BTreeSet<String>) {
        self.weights.extend(weights);
        self.frozen.extend(frozen);
    }

    /// Which layer output `tensor` is, checking it comes from this builder.
    fn check(&self, tensor: TensorRef) -> Result<Port> {
        if tensor.builder != self.id || tensor.port.layer >= self.layers.len() {
            return Err(Error::Model {
                model: self.name.clone(),
                msg: "got a tensor from another Functional builder".into(),
            });
        }
        Ok(tensor.port)
    }

    /// Add `layer` fed by `inbound`; returns a tensor per output.
    fn push(
        &mut self,
        layer: Box<dyn Layer>,
        inbound: Vec<Port>,
        shapes: Vec<Shape>,
    ) -> Vec<TensorRef> {
        let count = shapes.len();
        self.layers.push(layer);
        self.inbound.push(inbound);
        self.shapes.push(shapes);
        let layer = self.layers.len() - 1;
        (0..count)
            .map(|output| TensorRef {
                builder: self.id,
                port: Port { layer, output },
            })
            .collect()
    }
}

/// `port` with its layer renumbered by `new_index`.
fn moved(port: Port, new_index: &[usize]) -> Port {
    Port {
        layer: new_index[port.layer],
        output: port.output,
    }
}

impl Model {
    /// A functional builder holding this model's layers, connections, current weights and
    /// frozen layers, with the model's inputs and outputs as tensors: apply new layers to
    /// the outputs and `build` to extend the model (transfer learning). Returns
    /// `(builder, inputs, outputs)`.
    pub fn into_builder(self) -> Result<(Functional, Vec<TensorRef>, Vec<TensorRef>)> {
        let shapes = self.layer_shapes()?;
        let weights = self.layer_weights()?;
        let parts = self.graph.into_parts();
        let mut f = Functional::builder(parts.name).with_seed(self.seed);
        f.weights = weights;
        f.frozen = self.frozen;
        f.layers = parts.layers;
        f.inbound = parts.inbound;
        f.shared = parts.shared;
        f.shapes = shapes.into_iter().map(|s| s.outputs).collect();
        let refs = |ports: &[Port]| {
            ports
                .iter()
                .map(|&port| TensorRef {
                    builder: f.id,
                    port,
                })
                .collect()
        };
        let inputs: Vec<Port> = parts.inputs.iter().map(|&i| Port::first(i)).collect();
        let (inputs, outputs) = (refs(&inputs), refs(&parts.outputs));
        Ok((f, inputs, outputs))
    }

    /// This model with `layers` applied in turn to its output (a model with one output),
    /// keeping every current weight; new layers get initial weights. A sequential model
    /// stays sequential.
    pub fn extend(mut self, layers: impl IntoIterator<Item = Box<dyn Layer>>) -> Result<Model> {
        if self.kind() == ModelKind::Sequential {
            for layer in layers {
                self.add(layer)?;
            }
            return Ok(self);
        }
        if self.graph.outputs().len() != 1 {
            return Err(self.model_error(format!(
                "has {} outputs; extend one with into_builder",
                self.graph.outputs().len()
            )));
        }
        let (mut f, inputs, outputs) = self.into_builder()?;
        let y = f.apply_all(layers, outputs[0])?;
        f.build(&inputs, &[y])
    }
}

//! [`LayerGraph`]: a model's layers and how they connect — each layer's inbound layers, the
//! model's input and output layers — kept in a topological order, and what can be read off
//! it without weights: validation with per-layer shapes (errors name the layer), names and
//! lookups. The forward IR graph is built in [`forward`], the order from unordered
//! connections in [`order`]; unnamed layers are named by [`crate::layers::naming`].
//!
//! Each entry of the graph is one call of a layer (Keras' node), so a tensor is identified
//! by a [`Port`]: the entry and which of its outputs (always 0 but for layers with several,
//! such as an LSTM with `return_state`). An entry's inbound entries come before it. A layer
//! called more than once (a shared layer, as in a siamese network) has one entry per call:
//! the first owns the layer's parameters, each later one holds a copy of the layer (for its
//! shapes and lowering), is marked as a call of the first ([`LayerGraph::owner`]), owns no
//! parameters and reads the first's, so their gradients add up in one weight.
//!
//! This module knows nothing of weights, compilation or training: it sits below the rest of
//! [`crate::model`].

pub(crate) mod forward;
pub(crate) mod order;

use std::collections::{BTreeMap, HashSet};

use ir::Shape;

use crate::error::{Error, Result};
use crate::layers::naming::{name_new_layer, name_unnamed};
use crate::layers::{Layer, ParamSpec};

/// How a model was defined, which decides its config form and summary layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// A stack of layers (Keras' `Sequential`): each layer feeds the next.
    Sequential,
    /// A graph of layers built with [`crate::model::Functional`] (Keras' functional API).
    Functional,
}

/// One output of one graph entry (one call of a layer): Keras' `[layer_name, node_index,
/// tensor_index]`, the node index being which call of a shared layer the entry is
/// ([`LayerGraph::node_index`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Port {
    /// The layer's position.
    pub layer: usize,
    /// Which of the layer's outputs (0 for a one-output layer).
    pub output: usize,
}

impl Port {
    /// The first (for most layers the only) output of the layer at `layer`.
    pub fn first(layer: usize) -> Self {
        Port { layer, output: 0 }
    }
}

/// The layer positions of each list of ports (to walk the graph by layers).
pub(crate) fn layer_lists(inbound: &[Vec<Port>]) -> Vec<Vec<usize>> {
    inbound
        .iter()
        .map(|ports| ports.iter().map(|p| p.layer).collect())
        .collect()
}

/// A layer's place in a validated model: its per-example input and output shapes and its
/// parameters.
#[derive(Debug, Clone)]
pub struct LayerShapes {
    /// Per-example input shape (the first input's for a layer with several).
    pub input: Shape,
    /// Per-example shape of every input, in inbound order (an `Input` lists its own).
    pub inputs: Vec<Shape>,
    /// Per-example output shape (the first output's for a layer with several).
    pub output: Shape,
    /// Per-example shape of every output, in order (one for most layers).
    pub outputs: Vec<Shape>,
    /// Parameters the layer needs.
    pub params: Vec<ParamSpec>,
}

/// The layers of a model and their connections, in topological order.
#[derive(Debug)]
pub(crate) struct LayerGraph {
    /// The model's name (errors name it).
    name: String,
    kind: ModelKind,
    layers: Vec<Box<dyn Layer>>,
    /// For each layer, the layer outputs it takes, in order (empty for inputs).
    inbound: Vec<Vec<Port>>,
    /// The model's input layers, in order.
    inputs: Vec<usize>,
    /// The layer outputs the model returns, in order.
    outputs: Vec<Port>,
    /// The later calls of shared layers: entry → the entry of the layer's first call.
    shared: BTreeMap<usize, usize>,
}

/// A layer graph's parts, to build one ([`LayerGraph::from_parts`]) or take one apart
/// ([`LayerGraph::into_parts`]).
pub(crate) struct GraphParts {
    /// The model's name.
    pub name: String,
    /// Sequential or functional.
    pub kind: ModelKind,
    /// The layers, in topological order.
    pub layers: Vec<Box<dyn Layer>>,
    /// For each layer, the layer outputs feeding it, in order.
    pub inbound: Vec<Vec<Port>>,
    /// The positions of the model's input layers.
    pub inputs: Vec<usize>,
    /// The layer outputs the model returns.
    pub outputs: Vec<Port>,
    /// The later calls of shared layers: entry → the entry of the layer's first call.
    pub shared: BTreeMap<usize, usize>,
}

impl LayerGraph {
    /// A stack of `layers` (the first an `Input`) called `name`: each layer feeds the next.
    /// Unnamed layers get Keras-style names.
    pub fn chain(name: String, mut layers: Vec<Box<dyn Layer>>) -> Self {
        name_unnamed(&mut layers);
        let count = layers.len();
        let inbound = (0..count)
            .map(|i| {
                if i == 0 {
                    vec![]
                } else {
                    vec![Port::first(i - 1)]
                }
            })
            .collect();
        LayerGraph::from_parts(GraphParts {
            name,
            kind: ModelKind::Sequential,
            layers,
            inbound,
            inputs: vec![0],
            outputs: vec![Port::first(count.saturating_sub(1))],
            shared: BTreeMap::new(),
        })
    }

    /// A graph from its parts, the inbound lists already in topological order (not
    /// validated: see [`LayerGraph::layer_shapes`]).
    pub fn from_parts(parts: GraphParts) -> Self {
        let GraphParts {
            name,
            kind,
            layers,
            inbound,
            inputs,
            outputs,
            shared,
        } = parts;
        LayerGraph {
            name,
            kind,
            layers,
            inbound,
            inputs,
            outputs,
            shared,
        }
    }

    /// The graph taken apart.
    pub fn into_parts(self) -> GraphParts {
        GraphParts {
            name: self.name,
            kind: self.kind,
            layers: self.layers,
            inbound: self.inbound,
            inputs: self.inputs,
            outputs: self.outputs,
            shared: self.shared,
        }
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Rename the model.
    pub fn rename(&mut self, name: String) {
        self.name = name;
    }

    /// Sequential or functional.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// The layers in topological order.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// The layer outputs feeding the layer at `index`, in order.
    pub fn inbound(&self, index: usize) -> &[Port] {
        &self.inbound[index]
    }

    /// The positions of the model's input layers, in order.
    pub fn inputs(&self) -> &[usize] {
        &self.inputs
    }

    /// The layer outputs the model returns, in order.
    pub fn outputs(&self) -> &[Port] {
        &self.outputs
    }

    /// The entry of the first call of the layer called at entry `index` (`index` itself
    /// unless it is a later call of a shared layer).
    pub fn owner(&self, index: usize) -> usize {
        self.shared.get(&index).copied().unwrap_or(index)
    }

    /// The entries of the calls of the layer first called at entry `owner`, in order
    /// (`owner` first): Keras' node indices are positions in this list.
    pub fn calls_of(&self, owner: usize) -> Vec<usize> {
        let later = self.shared.iter().filter(|(_, o)| **o == owner);
        std::iter::once(owner)
            .chain(later.map(|(i, _)| *i))
            .collect()
    }

    /// Keras' node index of entry `index`: which call of its layer it is.
    pub fn node_index(&self, index: usize) -> usize {
        let calls = self.calls_of(self.owner(index));
        calls.iter().position(|&i| i == index).unwrap_or(0)
    }

    /// The name of the layer at `index`.
    pub fn layer_name(&self, index: usize) -> &str {
        self.layers[index].name().unwrap_or_default()
    }

    /// The position of the layer called `name`.
    pub fn layer_index(&self, name: &str) -> Option<usize> {
        self.layers.iter().position(|l| l.name() == Some(name))
    }

    /// The position of the layer called `name`, or an error naming it and listing the layers.
    pub fn require_layer(&self, name: &str) -> Result<usize> {
        self.layer_index(name).ok_or_else(|| {
            let names: Vec<&str> = (0..self.layers.len()).map(|i| self.layer_name(i)).collect();
            self.error(format!(
                "has no layer named `{name}` (layers: {})",
                names.join(", ")
            ))
        })
    }

    /// An error about the model as a whole.
    pub fn error(&self, msg: impl Into<String>) -> Error {
        Error::Model {
            model: self.name.clone(),
            msg: msg.into(),
        }
    }

    /// An error unless the model has exactly one input and one output: what `what`
    /// (compile, fit, evaluate, predict) needs.
    pub fn require_single_io(&self, what: &str) -> Result<()> {
        if self.inputs.len() == 1 && self.outputs.len() == 1 {
            return Ok(());
        }
        Err(self.error(format!(
            "has {} inputs and {} outputs; {what} supports models with one input and one output (use predict_many for predictions of the others)",
            self.inputs.len(),
            self.outputs.len()
        )))
    }

    /// Validate the graph and return each layer's shapes and parameters, in layer order.
    /// Errors name the layer at fault and the shapes involved.
    pub fn layer_shapes(&self) -> Result<Vec<LayerShapes>> {
        if self.layers.is_empty() {
            return Err(self.error("has no layers"));
        }
        let mut names = HashSet::new();
        let mut out: Vec<LayerShapes> = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            let name = layer.name().unwrap_or_default();
            if self.owner(i) == i && !names.insert(name.to_string()) {
                return Err(self.error(format!(
                    "two layers are named `{name}`; layer names must be unique"
                )));
            }
            let count = layer.output_count();
            if self.kind == ModelKind::Sequential && count != 1 {
                return Err(Error::Layer {
                    layer: layer.label(),
                    msg: format!(
                        "has {count} outputs; the layers of a Sequential model have one output each (use the functional API)"
                    ),
                });
            }
            let inputs = self.input_shapes_of(i, &out)?;
            let outputs = layer.output_shapes_many(&inputs)?;
            let mut params = layer.params_many(&inputs);
            check_sizes(layer.as_ref(), &outputs, &params)?;
            if self.owner(i) != i {
                self.check_shared_params(i, &params, &out)?;
                params.clear();
            }
            out.push(LayerShapes {
                input: inputs[0].clone(),
                output: outputs[0].clone(),
                inputs,
                outputs,
                params,
            });
        }
        Ok(out)
    }

    /// An error unless the later call at `index` of a shared layer asks for the parameters
    /// (`params`) its first call owns: a layer shares its weights only with calls on inputs
    /// of the same shapes.
    fn check_shared_params(
        &self,
        index: usize,
        params: &[ParamSpec],
        before: &[LayerShapes],
    ) -> Result<()> {
        let first = &before[self.owner(index)];
        let same = first.params.len() == params.len()
            && first
                .params
                .iter()
                .zip(params)
                .all(|(a, b)| a.shape == b.shape);
        if same {
            return Ok(());
        }
        let shapes = |inputs: &[Shape]| {
            inputs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(Error::Layer {
            layer: self.layers[index].label(),
            msg: format!(
                "is shared: called on inputs of shape {} after {}, which needs other weights",
                shapes(&self.input_shapes_of(index, before)?),
                shapes(&first.inputs)
            ),
        })
    }

    /// The per-example input shapes of the layer at `index`, given the shapes of the layers
    /// before it: its declared shape for an input layer, else its inbound layers' outputs.
    fn input_shapes_of(&self, index: usize, before: &[LayerShapes]) -> Result<Vec<Shape>> {
        let layer = self.layers[index].as_ref();
        let inbound = &self.inbound[index];
        if inbound.is_empty() {
            return Ok(vec![self.declared_input_shape(index)?]);
        }
        if layer.input_shape().is_some() {
            return Err(self.error(format!("{} must be the first layer", layer.label())));
        }
        check_arity(layer, inbound.len())?;
        inbound
            .iter()
            .map(|p| {
                let shapes = &before[p.layer].outputs;
                shapes.get(p.output).cloned().ok_or_else(|| {
                    self.error(format!(
                        "{} takes output {} of {}, which has {}",
                        layer.label(),
                        p.output,
                        self.layers[p.layer].label(),
                        shapes.len()
                    ))
                })
            })
            .collect()
    }

    /// The declared shape of the input layer at `index`.
    fn declared_input_shape(&self, index: usize) -> Result<Shape> {
        let layer = self.layers[index].as_ref();
        layer.input_shape().cloned().ok_or_else(|| {
            self.error(format!(
                "the first layer must be an Input, got {}",
                layer.label()
            ))
        })
    }

    /// The per-example input shape of a one-input model (from its `Input` layer).
    pub fn input_shape(&self) -> Result<Shape> {
        if self.layers.is_empty() {
            return Err(self.error("has no layers"));
        }
        if self.inputs.len() != 1 {
            return Err(self.error(format!(
                "has {} inputs; use input_shapes",
                self.inputs.len()
            )));
        }
        self.declared_input_shape(self.inputs[0])
    }

    /// The per-example shape of every model input, in order.
    pub fn input_shapes(&self) -> Result<Vec<Shape>> {
        let ports: Vec<Port> = self.inputs.iter().map(|&i| Port::first(i)).collect();
        self.shapes_of(&ports)
    }

    /// The per-example shape of every model output, in order.
    pub fn output_shapes(&self) -> Result<Vec<Shape>> {
        self.shapes_of(&self.outputs)
    }

    /// The shapes of the layer outputs `ports`, validating the graph.
    fn shapes_of(&self, ports: &[Port]) -> Result<Vec<Shape>> {
        let shapes = self.layer_shapes()?;
        ports
            .iter()
            .map(|p| {
                shapes[p.layer]
                    .outputs
                    .get(p.output)
                    .cloned()
                    .ok_or_else(|| {
                        self.error(format!(
                            "returns output {} of {}, which has {}",
                            p.output,
                            self.layers[p.layer].label(),
                            shapes[p.layer].outputs.len()
                        ))
                    })
            })
            .collect()
    }

    /// Append `layer` on top of a sequential stack (named Keras-style if unnamed) and
    /// validate; on a validation error the graph is left as it was.
    pub fn push_on_top(&mut self, mut layer: Box<dyn Layer>) -> Result<()> {
        name_new_layer(layer.as_mut(), &self.layers);
        let last = self.layers.len().checked_sub(1);
        self.layers.push(layer);
        self.inbound
            .push(last.map(Port::first).into_iter().collect());
        self.outputs = vec![Port::first(self.layers.len() - 1)];
        if let Err(e) = self.layer_shapes() {
            self.layers.pop();
            self.inbound.pop();
            self.outputs = last.map(Port::first).into_iter().collect();
            return Err(e);
        }
        Ok(())
    }

    /// The layers the layer at `end` depends on (itself included), in order, as a graph
    /// whose outputs are `end`'s; each kept layer is copied with `copy`.
    pub fn cut_at(
        &self,
        end: usize,
        copy: impl Fn(&dyn Layer) -> Result<Box<dyn Layer>>,
    ) -> Result<LayerGraph> {
        let keep = ancestors_with_owners(&layer_lists(&self.inbound), &self.shared, &[end]);
        let mut new_index = vec![usize::MAX; self.layers.len()];
        let mut layers = Vec::new();
        let mut inbound = Vec::new();
        for (i, old) in self.layers.iter().enumerate().filter(|(i, _)| keep[*i]) {
            new_index[i] = layers.len();
            layers.push(copy(old.as_ref())?);
            inbound.push(
                self.inbound[i]
                    .iter()
                    .map(|p| Port {
                        layer: new_index[p.layer],
                        output: p.output,
                    })
                    .collect(),
            );
        }
        let inputs = self
            .inputs
            .iter()
            .filter(|&&i| keep[i])
            .map(|&i| new_index[i])
            .collect();
        let shared = moved_shared(&self.shared, &new_index);
        Ok(LayerGraph::from_parts(GraphParts {
            name: self.name.clone(),
            kind: self.kind,
            layers,
            inbound,
            shared,
            inputs,
            outputs: (0..self.layers[end].output_count())
                .map(|output| Port {
                    layer: new_index[end],
                    output,
                })
                .collect(),
        }))
    }
}

/// Which nodes of a graph given by its inbound lists the nodes `roots` depend on, themselves
/// included.
pub(crate) fn ancestors(inbound: &[Vec<usize>], roots: &[usize]) -> Vec<bool> {
    let mut keep = vec![false; inbound.len()];
    let mut stack = roots.to_vec();
    while let Some(i) = stack.pop() {
        if !std::mem::replace(&mut keep[i], true) {
            stack.extend(&inbound[i]);
        }
    }
    keep
}

/// [`ancestors`] of `roots`, plus the first call (and its ancestors) of every shared
/// layer's later call among them: the entry that owns the parameters it reads.
pub(crate) fn ancestors_with_owners(
    inbound: &[Vec<usize>],
    shared: &BTreeMap<usize, usize>,
    roots: &[usize],
) -> Vec<bool> {
    let mut roots = roots.to_vec();
    loop {
        let keep = ancestors(inbound, &roots);
        let missing: Vec<usize> = shared
            .iter()
            .filter(|&(&call, &owner)| keep[call] && !keep[owner])
            .map(|(_, &owner)| owner)
            .collect();
        if missing.is_empty() {
            return keep;
        }
        roots.extend(missing);
    }
}

/// The shared calls of `shared` that `new_index` keeps (`usize::MAX`: dropped), renumbered.
pub(crate) fn moved_shared(
    shared: &BTreeMap<usize, usize>,
    new_index: &[usize],
) -> BTreeMap<usize, usize> {
    shared
        .iter()
        .filter(|&(&call, _)| new_index[call] != usize::MAX)
        .map(|(&call, &owner)| (new_index[call], new_index[owner]))
        .collect()
}

/// An error unless `layer` takes `count` inputs.
pub(crate) fn check_arity(layer: &dyn Layer, count: usize) -> Result<()> {
    let counts = layer.input_counts();
    if counts.contains(&count) {
        return Ok(());
    }
    let wants = match (*counts.start(), *counts.end()) {
        (1, 1) => "one input".to_string(),
        (n, m) if n == m => format!("{n} inputs"),
        (2, usize::MAX) => "two or more inputs".to_string(),
        (n, usize::MAX) => format!("{n} or more inputs"),
        (n, m) => format!("{n} to {m} inputs"),
    };
    Err(Error::Layer {
        layer: layer.label(),
        msg: format!("takes {wants}, got {count}"),
    })
}

/// An error naming `layer` unless every output and parameter shape it asks for has an element
/// count Kiln can represent (checked arithmetic: dimensions come from configs and files, so a
/// product that overflows is refused here, before anything is allocated or built).
fn check_sizes(layer: &dyn Layer, outputs: &[Shape], params: &[ParamSpec]) -> Result<()> {
    let fail = |what: String, e: ir::size::SizeError| Error::Layer {
        layer: layer.label(),
        msg: format!("{what}: {e}"),
    };
    for (k, shape) in outputs.iter().enumerate() {
        shape
            .checked_numel()
            .map_err(|e| fail(format!("output {k} has shape {shape}"), e))?;
    }
    for p in params {
        p.shape
            .checked_numel()
            .map_err(|e| fail(format!("parameter `{}` has shape {}", p.name, p.shape), e))?;
    }
    Ok(())
}

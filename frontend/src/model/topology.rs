//! [`Model`]: a graph of layers (Keras' model) — its topology (each layer's inbound
//! layers, the model's inputs and outputs), validation in topological order (shapes walked
//! layer by layer, errors naming the layer), Keras-style naming and the forward graph.
//! [`Sequential`] is the chain special case of the same type.
//!
//! Every layer is called once (one node per layer, as in a Keras model without shared
//! layers), so a layer's output is identified by the layer itself. Layers are stored in a
//! topological order: a layer's inbound layers come before it.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::OnceLock;

use ir::{Graph, NodeId, Shape, Tensor};

use crate::error::{Error, Result};
use crate::layers::{Layer, LayerContext, ParamSpec};
use crate::model::compile::Compiled;
use crate::model::predict::Predictors;

/// The seed a model uses unless [`Model::with_seed`] sets one.
pub const DEFAULT_SEED: u64 = 12;

/// How a model was defined, which decides its config form and summary layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// A stack of layers (Keras' `Sequential`): each layer feeds the next.
    Sequential,
    /// A graph of layers built with [`crate::model::Functional`] (Keras' functional API).
    Functional,
}

/// A Keras model: layers connected as a directed acyclic graph, from one or more
/// [`crate::layers::Input`] layers to one or more outputs. Built as a stack with
/// [`Sequential::of`] / [`sequential!`](crate::sequential) or as a graph with
/// [`crate::model::Functional`].
///
/// A model holds its weights from the start (initialised on first use from the layers'
/// initializers and the model's seed), so it can predict, report and take weights before
/// [`Model::compile`]; compiling starts training from those weights.
///
/// ```
/// use kiln::prelude::*;
/// let model = Sequential::of([
///     Input::new([28, 28, 1]).into(),
///     Flatten::new().into(),
///     Dense::new(300).activation(Activation::Relu).into(),
///     Dense::new(10).into(),
/// ]);
/// assert_eq!(model.count_params().unwrap(), 784 * 300 + 300 + 300 * 10 + 10);
/// ```
#[derive(Debug)]
pub struct Model {
    pub(crate) name: String,
    pub(crate) kind: ModelKind,
    pub(crate) layers: Vec<Box<dyn Layer>>,
    /// For each layer, the layers whose outputs it takes, in order (empty for inputs).
    pub(crate) inbound: Vec<Vec<usize>>,
    /// The model's input layers, in order.
    pub(crate) inputs: Vec<usize>,
    /// The layers whose outputs the model returns, in order.
    pub(crate) outputs: Vec<usize>,
    pub(crate) seed: u64,
    /// Names of the layers training leaves unchanged.
    pub(crate) frozen: BTreeSet<String>,
    /// The layer weights while the model is not compiled, initialised on first use
    /// (compiling moves them into the compiled state).
    pub(crate) weights: OnceLock<BTreeMap<String, Tensor>>,
    /// Predict executables by batch size, shared by concurrent `predict` calls.
    pub(crate) predictors: Predictors,
    pub(crate) compiled: Option<Compiled>,
}

/// The model type under its Keras name for stacks of layers: `Sequential::of([...])`.
pub type Sequential = Model;

/// Build a [`Sequential`] from layers without writing `.into()` on each:
/// `sequential![Input::new([4]), Dense::new(3)]`.
#[macro_export]
macro_rules! sequential {
    ($($layer:expr),+ $(,)?) => {
        $crate::model::Sequential::of([$(::std::boxed::Box::new($layer) as ::std::boxed::Box<dyn $crate::layers::Layer>),+])
    };
}

/// A layer's place in a validated model: its per-example input and output shapes and its
/// parameters.
#[derive(Debug, Clone)]
pub struct LayerShapes {
    /// Per-example input shape (the first input's for a layer with several).
    pub input: Shape,
    /// Per-example shape of every input, in inbound order (an `Input` lists its own).
    pub inputs: Vec<Shape>,
    /// Per-example output shape.
    pub output: Shape,
    /// Parameters the layer needs.
    pub params: Vec<ParamSpec>,
}

/// One model parameter in a built graph.
#[derive(Debug, Clone)]
pub(crate) struct ModelParam {
    /// Its node in the graph.
    pub node: NodeId,
    /// What the layer asked for, `trainable` cleared for frozen layers.
    pub spec: ParamSpec,
}

/// A forward graph: one graph input per model input, the model's output nodes, and the
/// parameters.
#[derive(Debug, Clone)]
pub(crate) struct Forward {
    pub graph: Graph,
    pub outputs: Vec<NodeId>,
    pub params: Vec<ModelParam>,
}

/// Name of the graph input that takes a batch of features (of a one-input model; input
/// `k` of a model with several is `features_k`).
pub const FEATURES_INPUT: &str = "features";
/// Name of the graph input that takes a batch of labels.
pub const LABELS_INPUT: &str = "labels";

/// The graph input of model input `k` of `count`.
pub(crate) fn features_input(k: usize, count: usize) -> String {
    if count == 1 {
        FEATURES_INPUT.to_string()
    } else {
        format!("{FEATURES_INPUT}_{k}")
    }
}

/// The first of `prefix`, `prefix_1`, `prefix_2`, ... not in `taken` (Keras' naming).
pub(crate) fn unique_name(prefix: &str, taken: &HashSet<String>) -> String {
    (0..)
        .map(|k| {
            if k == 0 {
                prefix.to_string()
            } else {
                format!("{prefix}_{k}")
            }
        })
        .find(|candidate| !taken.contains(candidate))
        .expect("an unused name exists")
}

/// Whether a frozen layer also runs in inference mode in the training graph: Keras 2 does
/// this for `BatchNormalization` (a frozen one normalises with its moving statistics).
fn inference_when_frozen(layer: &dyn Layer) -> bool {
    layer.class_name() == "BatchNormalization"
}

impl Model {
    /// A sequential model named `sequential` from `layers` (first an `Input`). Unnamed
    /// layers get Keras-style names: `dense`, `dense_1`, ... per kind. Nothing is validated
    /// until it is used ([`Model::summary`], [`Model::compile`], ...).
    pub fn of(layers: impl IntoIterator<Item = Box<dyn Layer>>) -> Self {
        let mut layers: Vec<Box<dyn Layer>> = layers.into_iter().collect();
        let mut taken: HashSet<String> = layers
            .iter()
            .filter_map(|l| l.name().map(str::to_string))
            .collect();
        for layer in layers.iter_mut().filter(|l| l.name().is_none()) {
            let name = unique_name(&layer.name_prefix(), &taken);
            taken.insert(name.clone());
            layer.set_name(name);
        }
        let count = layers.len();
        Model::from_parts(
            "sequential".into(),
            ModelKind::Sequential,
            layers,
            (0..count)
                .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
                .collect(),
            vec![0],
            vec![count.saturating_sub(1)],
        )
    }

    /// A model from its parts (inbound lists already topologically ordered).
    pub(crate) fn from_parts(
        name: String,
        kind: ModelKind,
        layers: Vec<Box<dyn Layer>>,
        inbound: Vec<Vec<usize>>,
        inputs: Vec<usize>,
        outputs: Vec<usize>,
    ) -> Self {
        Model {
            name,
            kind,
            layers,
            inbound,
            inputs,
            outputs,
            seed: DEFAULT_SEED,
            frozen: BTreeSet::new(),
            weights: OnceLock::new(),
            predictors: Predictors::default(),
            compiled: None,
        }
    }

    /// The same model under another name (shown by the summary).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The same model with another seed for weight initialisation and shuffling. Weights
    /// not yet initialised or set are drawn from the new seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Sequential or functional.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// The layers in topological order (for a sequential model: the `Input` first, then
    /// the stack).
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// The layer called `name`, if any.
    pub fn layer(&self, name: &str) -> Option<&dyn Layer> {
        self.layer_index(name).map(|i| self.layers[i].as_ref())
    }

    /// The position of the layer called `name`.
    pub(crate) fn layer_index(&self, name: &str) -> Option<usize> {
        self.layers.iter().position(|l| l.name() == Some(name))
    }

    /// The position of the layer called `name`, or an error naming it.
    pub(crate) fn require_layer(&self, name: &str) -> Result<usize> {
        self.layer_index(name).ok_or_else(|| {
            self.model_error(format!(
                "has no layer named `{name}` (layers: {})",
                self.layers
                    .iter()
                    .map(|l| l.name().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    /// The names of the layers feeding the layer at `index`, in order.
    pub fn inbound_layers(&self, index: usize) -> Vec<&str> {
        self.inbound
            .get(index)
            .into_iter()
            .flatten()
            .map(|&j| self.layers[j].name().unwrap_or_default())
            .collect()
    }

    /// The names of the model's input layers, in order.
    pub fn input_names(&self) -> Vec<&str> {
        self.inputs
            .iter()
            .map(|&i| self.layers[i].name().unwrap_or_default())
            .collect()
    }

    /// The names of the layers whose outputs the model returns, in order.
    pub fn output_names(&self) -> Vec<&str> {
        self.outputs
            .iter()
            .map(|&i| self.layers[i].name().unwrap_or_default())
            .collect()
    }

    pub(crate) fn model_error(&self, msg: impl Into<String>) -> Error {
        Error::Model {
            model: self.name.clone(),
            msg: msg.into(),
        }
    }

    /// An error unless the model has exactly one input and one output: what `what`
    /// (compile, fit, evaluate, predict) needs.
    pub(crate) fn require_single_io(&self, what: &str) -> Result<()> {
        if self.inputs.len() == 1 && self.outputs.len() == 1 {
            return Ok(());
        }
        Err(self.model_error(format!(
            "has {} inputs and {} outputs; {what} supports models with one input and one output (use predict_many for predictions of the others)",
            self.inputs.len(),
            self.outputs.len()
        )))
    }

    /// The per-example input shape of a one-input model (from its `Input` layer).
    pub fn input_shape(&self) -> Result<Shape> {
        let first = self
            .layers
            .first()
            .ok_or_else(|| self.model_error("has no layers"))?;
        if self.inputs.len() != 1 {
            return Err(self.model_error(format!(
                "has {} inputs; use input_shapes",
                self.inputs.len()
            )));
        }
        let input = self.layers[self.inputs[0]].as_ref();
        input.input_shape().cloned().ok_or_else(|| {
            self.model_error(format!(
                "the first layer must be an Input, got {}",
                first.label()
            ))
        })
    }

    /// The per-example shape of every model input, in order.
    pub fn input_shapes(&self) -> Result<Vec<Shape>> {
        let shapes = self.layer_shapes()?;
        Ok(self
            .inputs
            .iter()
            .map(|&i| shapes[i].output.clone())
            .collect())
    }

    /// Validate the model and return each layer's shapes and parameters, in layer order.
    /// Errors name the layer at fault and the shapes involved.
    pub fn layer_shapes(&self) -> Result<Vec<LayerShapes>> {
        if self.layers.is_empty() {
            return Err(self.model_error("has no layers"));
        }
        let mut names = HashSet::new();
        let mut out: Vec<LayerShapes> = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            let name = layer.name().unwrap_or_default();
            if !names.insert(name.to_string()) {
                return Err(self.model_error(format!(
                    "two layers are named `{name}`; layer names must be unique"
                )));
            }
            let inbound = &self.inbound[i];
            let inputs: Vec<Shape> = if inbound.is_empty() {
                vec![self.input_shape_of(i)?]
            } else {
                if layer.input_shape().is_some() {
                    return Err(
                        self.model_error(format!("{} must be the first layer", layer.label()))
                    );
                }
                check_arity(layer.as_ref(), inbound.len())?;
                inbound.iter().map(|&j| out[j].output.clone()).collect()
            };
            let output = layer.output_shape_many(&inputs)?;
            let params = layer.params_many(&inputs);
            out.push(LayerShapes {
                input: inputs[0].clone(),
                inputs,
                output,
                params,
            });
        }
        Ok(out)
    }

    /// The declared shape of the input layer at `index`.
    fn input_shape_of(&self, index: usize) -> Result<Shape> {
        let layer = self.layers[index].as_ref();
        layer.input_shape().cloned().ok_or_else(|| {
            self.model_error(format!(
                "the first layer must be an Input, got {}",
                layer.label()
            ))
        })
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
        let shapes = self.layer_shapes()?;
        Ok(self
            .outputs
            .iter()
            .map(|&i| shapes[i].output.clone())
            .collect())
    }

    /// Total number of parameter elements.
    pub fn count_params(&self) -> Result<usize> {
        Ok(self
            .layer_shapes()?
            .iter()
            .flat_map(|l| &l.params)
            .map(|p| p.shape.numel())
            .sum())
    }

    /// Every parameter as `(layer/param, spec)`, in layer order; `trainable` is cleared
    /// for the parameters of frozen layers.
    pub(crate) fn param_specs(&self) -> Result<Vec<(String, ParamSpec)>> {
        let shapes = self.layer_shapes()?;
        Ok(self
            .layers
            .iter()
            .zip(shapes)
            .flat_map(|(layer, s)| {
                let layer_name = layer.name().unwrap_or_default().to_string();
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
        self.param_specs()?
            .into_iter()
            .enumerate()
            .map(|(k, (name, spec))| {
                if let Some(kept) = keep.get(&name).filter(|t| t.shape == spec.shape) {
                    return Ok((name, kept.clone()));
                }
                let seed = self.seed ^ (k as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                Ok((name, spec.initializer.initialize(&spec.shape, seed)?))
            })
            .collect()
    }

    /// The forward graph for `batch` examples: one input per model input (`features` for a
    /// one-input model, `[batch, ...input]`), one `Param` per model parameter, the model's
    /// outputs. In a training graph the layers in `frozen` get no trainable parameters (and
    /// a frozen BatchNormalization runs in inference mode).
    pub(crate) fn build_forward(
        &self,
        batch: usize,
        training: bool,
        frozen: &BTreeSet<String>,
    ) -> Result<Forward> {
        let shapes = self.layer_shapes()?;
        let mut graph = Graph::new();
        let mut nodes: Vec<Option<NodeId>> = vec![None; self.layers.len()];
        for (k, &i) in self.inputs.iter().enumerate() {
            let mut dims = vec![batch];
            dims.extend_from_slice(shapes[i].output.dims());
            nodes[i] = Some(graph.input(features_input(k, self.inputs.len()), Shape::new(dims)));
        }
        let mut params = Vec::new();
        for (position, (layer, s)) in self.layers.iter().zip(shapes).enumerate() {
            let layer_name = layer.name().unwrap_or_default().to_string();
            let is_frozen = frozen.contains(&layer_name);
            let param_nodes: Vec<NodeId> = s
                .params
                .iter()
                .map(|spec| {
                    let name = format!("{layer_name}/{}", spec.name);
                    let node = graph.param(name, spec.shape.clone());
                    let mut spec = spec.clone();
                    spec.trainable &= !is_frozen;
                    params.push(ModelParam { node, spec });
                    node
                })
                .collect();
            let xs: Vec<NodeId> = if self.inbound[position].is_empty() {
                vec![nodes[position].ok_or_else(|| {
                    self.model_error(format!(
                        "{} is an Input but not one of the model's inputs",
                        layer.label()
                    ))
                })?]
            } else {
                self.inbound[position]
                    .iter()
                    .map(|&j| nodes[j].expect("inbound layers come first"))
                    .collect()
            };
            let training = training && !(is_frozen && inference_when_frozen(layer.as_ref()));
            nodes[position] = Some(layer.build_many(
                &mut graph,
                &xs,
                LayerContext {
                    params: &param_nodes,
                    training,
                    seed: self.seed ^ (position as u64 + 1).wrapping_mul(0xd1b5_4a32_d192_ed03),
                },
            )?);
        }
        let outputs = self
            .outputs
            .iter()
            .map(|&i| nodes[i].expect("every layer was built"))
            .collect();
        Ok(Forward {
            graph,
            outputs,
            params,
        })
    }
}

/// An error unless `layer` takes `count` inputs.
pub(crate) fn check_arity(layer: &dyn Layer, count: usize) -> Result<()> {
    let fits = match layer.arity() {
        Some(n) => n == count,
        None => count >= 2,
    };
    if fits {
        return Ok(());
    }
    let wants = match layer.arity() {
        Some(1) => "one input".to_string(),
        Some(n) => format!("{n} inputs"),
        None => "two or more inputs".to_string(),
    };
    Err(Error::Layer {
        layer: layer.label(),
        msg: format!("takes {wants}, got {count}"),
    })
}

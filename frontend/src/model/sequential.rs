//! [`Sequential`]: a stack of layers, its validation (shapes walked layer by layer, errors
//! naming the layer), Keras-style naming, parameter initialisation and the forward graph.

use std::collections::HashSet;

use ir::{Graph, NodeId, Shape, Tensor};

use crate::error::{Error, Result};
use crate::layers::{Layer, LayerContext, ParamSpec};
use crate::model::compile::Compiled;

/// The seed a model uses unless [`Sequential::with_seed`] sets one.
pub const DEFAULT_SEED: u64 = 12;

/// A linear stack of layers, the first of which is an [`crate::layers::Input`].
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
pub struct Sequential {
    pub(crate) name: String,
    pub(crate) layers: Vec<Box<dyn Layer>>,
    pub(crate) seed: u64,
    pub(crate) compiled: Option<Compiled>,
}

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
    /// Per-example input shape.
    pub input: Shape,
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
    /// What the layer asked for.
    pub spec: ParamSpec,
}

/// A forward graph: the features input, the model's output node, and the parameters.
#[derive(Debug, Clone)]
pub(crate) struct Forward {
    pub graph: Graph,
    pub output: NodeId,
    pub params: Vec<ModelParam>,
}

/// Name of the graph input that takes a batch of features.
pub const FEATURES_INPUT: &str = "features";
/// Name of the graph input that takes a batch of labels.
pub const LABELS_INPUT: &str = "labels";

impl Sequential {
    /// A model named `sequential` from `layers` (first an `Input`). Unnamed layers get
    /// Keras-style names: `dense`, `dense_1`, ... per kind. Nothing is validated until
    /// [`Sequential::compile`] or [`Sequential::summary`].
    pub fn of(layers: impl IntoIterator<Item = Box<dyn Layer>>) -> Self {
        let mut layers: Vec<Box<dyn Layer>> = layers.into_iter().collect();
        let mut taken: HashSet<String> = layers
            .iter()
            .filter_map(|l| l.name().map(str::to_string))
            .collect();
        for layer in layers.iter_mut().filter(|l| l.name().is_none()) {
            let prefix = layer.name_prefix();
            let name = (0..)
                .map(|k| {
                    if k == 0 {
                        prefix.clone()
                    } else {
                        format!("{prefix}_{k}")
                    }
                })
                .find(|candidate| !taken.contains(candidate))
                .expect("an unused name exists");
            taken.insert(name.clone());
            layer.set_name(name);
        }
        Sequential {
            name: "sequential".into(),
            layers,
            seed: DEFAULT_SEED,
            compiled: None,
        }
    }

    /// The same model under another name (shown by the summary).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The same model with another seed for weight initialisation and shuffling.
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

    /// The layers, the `Input` first.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    pub(crate) fn model_error(&self, msg: impl Into<String>) -> Error {
        Error::Model {
            model: self.name.clone(),
            msg: msg.into(),
        }
    }

    /// The per-example input shape (from the first layer, which must be an `Input`).
    pub fn input_shape(&self) -> Result<Shape> {
        let first = self
            .layers
            .first()
            .ok_or_else(|| self.model_error("has no layers"))?;
        first.input_shape().cloned().ok_or_else(|| {
            self.model_error(format!(
                "the first layer must be an Input, got {}",
                first.label()
            ))
        })
    }

    /// Validate the model and return each layer's shapes and parameters (the `Input` first).
    /// Errors name the layer at fault and the shapes involved.
    pub fn layer_shapes(&self) -> Result<Vec<LayerShapes>> {
        let mut shape = self.input_shape()?;
        let mut names = HashSet::new();
        let mut out = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            let name = layer.name().unwrap_or_default();
            if !names.insert(name.to_string()) {
                return Err(self.model_error(format!(
                    "two layers are named `{name}`; layer names must be unique"
                )));
            }
            if i > 0 && layer.input_shape().is_some() {
                return Err(self.model_error(format!("{} must be the first layer", layer.label())));
            }
            let output = layer.output_shape(&shape)?;
            let params = layer.params(&shape);
            out.push(LayerShapes {
                input: std::mem::replace(&mut shape, output.clone()),
                output,
                params,
            });
        }
        Ok(out)
    }

    /// The per-example output shape.
    pub fn output_shape(&self) -> Result<Shape> {
        Ok(self
            .layer_shapes()?
            .last()
            .expect("a valid model has layers")
            .output
            .clone())
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

    /// Every parameter as `(layer/param, spec)`, in layer order.
    pub(crate) fn param_specs(&self) -> Result<Vec<(String, ParamSpec)>> {
        let shapes = self.layer_shapes()?;
        Ok(self
            .layers
            .iter()
            .zip(shapes)
            .flat_map(|(layer, s)| {
                let layer_name = layer.name().unwrap_or_default().to_string();
                s.params
                    .into_iter()
                    .map(move |p| (format!("{layer_name}/{}", p.name), p))
            })
            .collect())
    }

    /// Fresh initial values of every parameter, from the model's seed: parameter `k` uses
    /// a seed derived from `(seed, k)`, so the same seed gives the same weights.
    pub(crate) fn initial_weights(&self) -> Result<Vec<(String, Tensor)>> {
        self.param_specs()?
            .into_iter()
            .enumerate()
            .map(|(k, (name, spec))| {
                let seed = self.seed ^ (k as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                Ok((name, spec.initializer.initialize(&spec.shape, seed)?))
            })
            .collect()
    }

    /// The forward graph for `batch` examples: input `features` `[batch, ...input]`, one
    /// `Param` per model parameter, the last layer's output.
    pub(crate) fn build_forward(&self, batch: usize, training: bool) -> Result<Forward> {
        let shapes = self.layer_shapes()?;
        let mut graph = Graph::new();
        let mut dims = vec![batch];
        dims.extend_from_slice(shapes[0].input.dims());
        let mut x = graph.input(FEATURES_INPUT, Shape::new(dims));
        let mut params = Vec::new();
        for (position, (layer, s)) in self.layers.iter().zip(shapes).enumerate() {
            let layer_name = layer.name().unwrap_or_default().to_string();
            let nodes: Vec<NodeId> = s
                .params
                .iter()
                .map(|spec| {
                    let name = format!("{layer_name}/{}", spec.name);
                    let node = graph.param(name, spec.shape.clone());
                    params.push(ModelParam {
                        node,
                        spec: spec.clone(),
                    });
                    node
                })
                .collect();
            x = layer.build(
                &mut graph,
                x,
                LayerContext {
                    params: &nodes,
                    training,
                    seed: self.seed ^ (position as u64 + 1).wrapping_mul(0xd1b5_4a32_d192_ed03),
                },
            )?;
        }
        Ok(Forward {
            graph,
            output: x,
            params,
        })
    }
}

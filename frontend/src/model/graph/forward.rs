//! The forward IR graph of a [`LayerGraph`]: one graph input per model input, one `Param`
//! per layer parameter (a shared layer's calls all read the same ones), every layer call
//! lowered in order, the model's output nodes.

use std::collections::BTreeSet;

use ir::{Graph, NodeId, Shape};

use super::LayerGraph;
use crate::error::Result;
use crate::layers::{Layer, LayerContext, ParamSpec};

/// Name of the graph input that takes a batch of features (of a one-input model; input
/// `k` of a model with several is `features_k`).
pub const FEATURES_INPUT: &str = "features";

/// The graph input of model input `k` of `count`.
pub(crate) fn features_input(k: usize, count: usize) -> String {
    if count == 1 {
        FEATURES_INPUT.to_string()
    } else {
        format!("{FEATURES_INPUT}_{k}")
    }
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

/// How a forward graph is built: for how many examples, for training or inference, which
/// layers are frozen, and the model's seed (each layer's randomness derives from it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ForwardOptions<'a> {
    pub batch: usize,
    pub training: bool,
    pub frozen: &'a BTreeSet<String>,
    pub seed: u64,
}

/// Whether a frozen layer also runs in inference mode in the training graph: Keras 2 does
/// this for `BatchNormalization` (a frozen one normalises with its moving statistics).
fn inference_when_frozen(layer: &dyn Layer) -> bool {
    layer.class_name() == "BatchNormalization"
}

impl LayerGraph {
    /// The forward graph for `options.batch` examples: one input per model input
    /// (`features` for a one-input model, `[batch, ...input]`), one `Param` per model
    /// parameter, the model's outputs. In a training graph the frozen layers get no
    /// trainable parameters (and a frozen BatchNormalization runs in inference mode).
    pub(crate) fn build_forward(&self, options: ForwardOptions<'_>) -> Result<Forward> {
        let shapes = self.layer_shapes()?;
        let mut graph = Graph::new();
        let mut nodes: Vec<Vec<NodeId>> = vec![Vec::new(); self.layers.len()];
        for (k, &i) in self.inputs.iter().enumerate() {
            let mut dims = vec![options.batch];
            dims.extend_from_slice(shapes[i].output.dims());
            let name = features_input(k, self.inputs.len());
            nodes[i] = vec![graph.input(name, Shape::new(dims))];
        }
        let mut params = Vec::new();
        let mut param_nodes_of: Vec<Vec<NodeId>> = Vec::with_capacity(self.layers.len());
        for (position, (layer, s)) in self.layers.iter().zip(shapes).enumerate() {
            let is_frozen = options.frozen.contains(self.layer_name(position));
            // A shared layer's later call reads the parameters of its first call.
            let param_nodes = match self.owner(position) {
                owner if owner != position => param_nodes_of[owner].clone(),
                _ => add_params(
                    &mut graph,
                    self.layer_name(position),
                    s.params,
                    is_frozen,
                    &mut params,
                ),
            };
            param_nodes_of.push(param_nodes.clone());
            let xs = self.layer_inputs(position, &nodes)?;
            let training =
                options.training && !(is_frozen && inference_when_frozen(layer.as_ref()));
            let context = LayerContext {
                params: &param_nodes,
                training,
                seed: options.seed ^ (position as u64 + 1).wrapping_mul(0xd1b5_4a32_d192_ed03),
            };
            let built = layer.build_outputs(&mut graph, &xs, context)?;
            if built.len() != s.outputs.len() {
                return Err(self.error(format!(
                    "{} built {} outputs but declared {}",
                    layer.label(),
                    built.len(),
                    s.outputs.len()
                )));
            }
            nodes[position] = built;
        }
        let outputs = self
            .outputs
            .iter()
            .map(|p| nodes[p.layer][p.output])
            .collect();
        Ok(Forward {
            graph,
            outputs,
            params,
        })
    }

    /// The graph nodes the layer at `position` takes: its inbound layer outputs, or its
    /// model input's node for an `Input`.
    fn layer_inputs(&self, position: usize, nodes: &[Vec<NodeId>]) -> Result<Vec<NodeId>> {
        if !self.inbound[position].is_empty() {
            return Ok(self.inbound[position]
                .iter()
                .map(|p| nodes[p.layer][p.output])
                .collect());
        }
        let node = nodes[position].first().copied().ok_or_else(|| {
            self.error(format!(
                "{} is an Input but not one of the model's inputs",
                self.layers[position].label()
            ))
        })?;
        Ok(vec![node])
    }
}

/// One `Param` node per parameter of the layer called `layer_name` (named
/// `layer_name/param`), recorded in `params` with `trainable` cleared when the layer is
/// frozen; returns the nodes in the layer's order.
fn add_params(
    graph: &mut Graph,
    layer_name: &str,
    specs: Vec<ParamSpec>,
    is_frozen: bool,
    params: &mut Vec<ModelParam>,
) -> Vec<NodeId> {
    specs
        .into_iter()
        .map(|mut spec| {
            let node = graph.param(format!("{layer_name}/{}", spec.name), spec.shape.clone());
            spec.trainable &= !is_frozen;
            params.push(ModelParam { node, spec });
            node
        })
        .collect()
}

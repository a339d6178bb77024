//! What every application builder shares: the image input (named `input_1`, as tf-keras
//! names a first model's input), Keras' usual classifier top (global average pooling and a
//! `predictions` Dense layer), the pooling of a model without its top, and the final model.
//! The families' own blocks live in their files.

use ir::Shape;

use crate::activations::Activation;
use crate::error::Result;
use crate::layers::naming::name_new_layer;
use crate::layers::{Dense, GlobalAveragePooling2D, GlobalMaxPooling2D, Input, Layer};
use crate::model::{Functional, Model, TensorRef};

use super::options::{Family, Options, Pooling};

/// A layer output in a [`Net`] under construction (the index of its layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Node(usize);

/// A model under construction. Layers are named as they are added, in Keras' creation order
/// (so auto-generated names such as `conv2d_12` match), and enter the model in the order
/// Keras' `model.layers` lists them ([`keras_order`]), so summaries and weight files line up.
pub(crate) struct Net {
    name: String,
    layers: Vec<Box<dyn Layer>>,
    inbound: Vec<Vec<usize>>,
    /// Each layer's per-example output shape.
    shapes: Vec<Shape>,
    /// The image input.
    pub input: Node,
    /// The arguments, checked against the family.
    pub options: Options,
    /// The family's rules.
    pub family: Family,
}

/// The names of a family's pooling layers: Keras names some (`avg_pool`), leaves others to
/// auto-naming (`None`: `global_average_pooling2d`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolNames {
    /// The global average pooling layer's name.
    pub avg: Option<&'static str>,
    /// The global max pooling layer's name.
    pub max: Option<&'static str>,
}

impl PoolNames {
    /// Keras' auto-generated names.
    pub const AUTO: PoolNames = PoolNames {
        avg: None,
        max: None,
    };
    /// `avg_pool` and `max_pool`.
    pub const NAMED: PoolNames = PoolNames {
        avg: Some("avg_pool"),
        max: Some("max_pool"),
    };
}

/// `layer`, named `name` when Keras names it.
fn maybe_named<L: Layer + 'static>(mut layer: L, name: Option<&str>) -> Box<dyn Layer> {
    if let Some(name) = name {
        layer.set_name(name.to_string());
    }
    Box::new(layer)
}

impl Net {
    /// A builder for a model called `model_name` of `family`, with its image input.
    pub(crate) fn start(model_name: &str, family: Family, options: &Options) -> Result<Net> {
        let shape = options.checked_input(&family)?;
        Ok(Net {
            name: model_name.to_string(),
            layers: vec![Box::new(Input::new(shape).named("input_1"))],
            inbound: vec![Vec::new()],
            shapes: vec![Shape::from(shape)],
            input: Node(0),
            options: options.clone(),
            family,
        })
    }

    /// Apply `layer` to `x`.
    pub(crate) fn add(&mut self, layer: impl Into<Box<dyn Layer>>, x: Node) -> Result<Node> {
        self.merge(layer, &[x])
    }

    /// Rename the model (Keras names some after their arguments: `mobilenet_0.25_128`).
    pub(crate) fn rename(&mut self, name: String) {
        self.name = name;
    }

    /// The per-example shape of `x`.
    pub(crate) fn shape(&self, x: Node) -> &Shape {
        &self.shapes[x.0]
    }

    /// Apply a layer to several inputs `xs` (a merge layer), naming it now if unnamed;
    /// shape errors name the layer.
    pub(crate) fn merge(&mut self, layer: impl Into<Box<dyn Layer>>, xs: &[Node]) -> Result<Node> {
        let mut layer = layer.into();
        name_new_layer(layer.as_mut(), &self.layers);
        let inputs: Vec<Shape> = xs.iter().map(|x| self.shapes[x.0].clone()).collect();
        self.shapes.push(layer.output_shape_many(&inputs)?);
        self.layers.push(layer);
        self.inbound.push(xs.iter().map(|x| x.0).collect());
        Ok(Node(self.layers.len() - 1))
    }

    /// The `predictions` Dense layer with the classifier activation.
    pub(crate) fn predictions(&mut self, x: Node) -> Result<Node> {
        let dense = Dense::new(self.options.class_count())
            .activation(self.options.classifier())
            .named("predictions");
        self.add(dense, x)
    }

    /// The global pooling of a model without its top (nothing for [`Pooling::None`]).
    pub(crate) fn pool(&mut self, x: Node, names: PoolNames) -> Result<Node> {
        match self.options.pooling_kind() {
            Pooling::None => Ok(x),
            Pooling::Avg => self.add(maybe_named(GlobalAveragePooling2D::new(), names.avg), x),
            Pooling::Max => self.add(maybe_named(GlobalMaxPooling2D::new(), names.max), x),
        }
    }

    /// Keras' usual ending: with the top, global average pooling (named `top_pool` or
    /// auto-named) and `predictions`; without it, the chosen pooling; then the model.
    pub(crate) fn finish_pooled(
        mut self,
        x: Node,
        top_pool: Option<&'static str>,
        names: PoolNames,
    ) -> Result<Model> {
        let y = if self.options.has_top() {
            let pooled = self.add(maybe_named(GlobalAveragePooling2D::new(), top_pool), x)?;
            self.predictions(pooled)?
        } else {
            self.pool(x, names)?
        };
        self.finish(y)
    }

    /// The model from the input to `y`: the layers applied to a [`Functional`] builder in
    /// Keras' order.
    pub(crate) fn finish(self, y: Node) -> Result<Model> {
        let order = keras_order(&self.inbound, y.0);
        let mut f = Functional::builder(self.name);
        let mut refs: Vec<Option<TensorRef>> = vec![None; self.layers.len()];
        let mut layers: Vec<Option<Box<dyn Layer>>> = self.layers.into_iter().map(Some).collect();
        for i in order {
            let layer = layers[i].take().expect("each layer is placed once");
            let xs: Vec<TensorRef> = self.inbound[i]
                .iter()
                .map(|&j| refs[j].expect("Keras' order is topological"))
                .collect();
            refs[i] = Some(if xs.is_empty() {
                let input = layer.input_shape().cloned().map(Input::new);
                f.input(
                    input
                        .expect("the one layer without inbound is the input")
                        .named(layer.name().unwrap_or_default()),
                )
            } else {
                f.apply_many(layer, &xs)?
            });
        }
        let input = refs[self.input.0].expect("the input feeds the output");
        f.build(&[input], &[refs[y.0].expect("the output is placed")])
    }
}

/// The order in which tf-keras' `Functional` lists the layers that `output` depends on
/// (`_map_graph_network`): by depth — the longest path to the output — deepest first, and
/// within one depth in the order a depth-first walk from the output, following each layer's
/// inputs in order, first reaches them.
fn keras_order(inbound: &[Vec<usize>], output: usize) -> Vec<usize> {
    let n = inbound.len();
    let mut first_seen = vec![usize::MAX; n];
    let mut post_order = Vec::with_capacity(n);
    let mut stack = vec![(output, 0usize)];
    first_seen[output] = 0;
    let mut seen = 1;
    while let Some(&mut (layer, ref mut next)) = stack.last_mut() {
        if let Some(&input) = inbound[layer].get(*next) {
            *next += 1;
            if first_seen[input] == usize::MAX {
                first_seen[input] = seen;
                seen += 1;
                stack.push((input, 0));
            }
        } else {
            post_order.push(layer);
            stack.pop();
        }
    }
    let mut depth = vec![0usize; n];
    for &layer in post_order.iter().rev() {
        for &input in &inbound[layer] {
            depth[input] = depth[input].max(depth[layer] + 1);
        }
    }
    let mut order = post_order;
    order.sort_by_key(|&l| (std::cmp::Reverse(depth[l]), first_seen[l]));
    order
}

/// Keras' `Activation(name)` layer.
pub(crate) fn activation(
    kind: Activation,
    name: impl Into<String>,
) -> crate::layers::ActivationLayer {
    crate::layers::ActivationLayer::new(kind).named(name)
}

/// Keras' `_make_divisible(v, 8)` (MobileNetV2's name; MobileNetV3's `_depth`, EfficientNet's
/// `round_filters`): `v` rounded to a multiple of 8, at least 8, never more than 10% below `v`.
pub(super) fn make_divisible(v: f64) -> usize {
    let rounded = (((v + 4.0) as usize) / 8 * 8).max(8);
    if (rounded as f64) < 0.9 * v {
        rounded + 8
    } else {
        rounded
    }
}

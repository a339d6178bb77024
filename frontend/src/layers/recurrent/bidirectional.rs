//! The `Bidirectional` wrapper: a recurrent layer run forwards and a copy run backwards over
//! the same input, their outputs merged (`concat` by default, `sum`, `mul`, `ave`). As in
//! Keras, the backward copy's sequence is put back in input time order before merging, and
//! the parameters are the forward layer's then the backward layer's (Keras' `weight_names`
//! order, so `.h5` weights load by order). `merge_mode=None` gives the two directions as two
//! outputs; with the wrapped layer's `return_state` the final states of the forward then
//! the backward copy follow (`[output, fwd_h, fwd_c, bwd_h, bwd_c]` for an LSTM). A custom
//! `backward_layer` is refused.

use ir::{BinaryOp, Graph, NodeId, Op, Shape, Tensor};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::recurrent::layer::Recurrence;
use crate::layers::recurrent::recurrence_from_config;
use crate::layers::recurrent::unroll::{Unrolled, sequence};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, layer_config, layer_error, single_input,
};

/// How `Bidirectional` merges the two directions (Keras' `merge_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMode {
    /// Forward then backward along the last axis (the default).
    Concat,
    /// Elementwise sum.
    Sum,
    /// Elementwise product.
    Mul,
    /// Elementwise mean.
    Ave,
}

/// Keras' spelling of each merge mode.
const MERGE_MODES: [(&str, MergeMode); 4] = [
    ("concat", MergeMode::Concat),
    ("sum", MergeMode::Sum),
    ("mul", MergeMode::Mul),
    ("ave", MergeMode::Ave),
];

/// Parameter names: the inner name, the forward copy's, the backward copy's.
const PARAM_NAMES: [(&str, &str, &str); 3] = [
    ("kernel", "forward_kernel", "backward_kernel"),
    (
        "recurrent_kernel",
        "forward_recurrent_kernel",
        "backward_recurrent_kernel",
    ),
    ("bias", "forward_bias", "backward_bias"),
];

/// A recurrent layer (`SimpleRNN`, `LSTM`, `GRU`) run in both directions.
///
/// ```
/// use kiln::layers::{Bidirectional, Layer, LSTM};
/// let bi = Bidirectional::new(LSTM::new(6).return_sequences(true)).unwrap();
/// assert_eq!(bi.output_shape(&[10, 8].into()).unwrap(), [10, 12].into());
/// // Keras' merge_mode=None: the two directions as two outputs.
/// let both = Bidirectional::new(LSTM::new(6)).unwrap().merge_mode(None);
/// assert_eq!(both.output_count(), 2);
/// ```
#[derive(Debug)]
pub struct Bidirectional {
    /// The wrapped layer as configured (`{"class_name", "config"}`).
    layer: Value,
    forward: Box<dyn Recurrence>,
    backward: Box<dyn Recurrence>,
    /// `None`: the two directions are two outputs.
    merge_mode: Option<MergeMode>,
    name: Option<String>,
}

impl Bidirectional {
    /// Wraps `layer`, which must be a `SimpleRNN`, `LSTM` or `GRU`, merging by concatenation.
    pub fn new(layer: impl Layer) -> Result<Self> {
        let mut config = layer.config();
        if config["name"].as_str().is_none_or(str::is_empty) {
            config["name"] = json!(layer.name_prefix());
        }
        let entry = json!({"class_name": layer.class_name(), "config": config});
        Self::from_parts(&entry, Some(MergeMode::Concat), None)
    }

    /// The same wrapper merging by `mode`; `None` (Keras' `merge_mode=None`) returns the two
    /// directions as two outputs, forward first.
    pub fn merge_mode(mut self, mode: impl Into<Option<MergeMode>>) -> Self {
        self.merge_mode = mode.into();
        self
    }

    named_builder!();

    /// The layer a Keras `Bidirectional` config describes (`layer`, `merge_mode`, `null`
    /// for two outputs).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        if c.get("backward_layer").is_some() {
            return Err(c.error(
                "backward_layer",
                "is not supported (only a copy of `layer`)",
            ));
        }
        let mode = match c.get("merge_mode") {
            // Keras' default when the field is missing; an explicit null is merge_mode=None.
            None if !c.fields().contains_key("merge_mode") => Some(MergeMode::Concat),
            None => None,
            Some(v) => {
                let text = v.as_str().unwrap_or_default();
                let row = MERGE_MODES.iter().find(|row| row.0 == text);
                Some(row.map(|row| row.1).ok_or_else(|| {
                    c.error(
                        "merge_mode",
                        format!("must be concat, sum, mul, ave or null, got {v}"),
                    )
                })?)
            }
        };
        let entry = c
            .get("layer")
            .ok_or_else(|| c.error("layer", "is required"))?;
        Self::from_parts(entry, mode, Some(c.name().to_string())).map_err(|e| match e {
            Error::Layer { msg, .. } => c.error("layer", msg),
            other => other,
        })
    }

    fn from_parts(
        entry: &Value,
        merge_mode: Option<MergeMode>,
        name: Option<String>,
    ) -> Result<Self> {
        let class = entry["class_name"].as_str().unwrap_or_default();
        let reader = ConfigReader::new(class, &entry["config"])?;
        let inner = recurrence_from_config(class, &reader).ok_or_else(|| Error::Layer {
            layer: "Bidirectional".into(),
            msg: format!("wraps SimpleRNN, LSTM or GRU, not {class}"),
        })??;
        let inner_name = reader.name().to_string();
        let backwards = inner.goes_backwards();
        Ok(Bidirectional {
            layer: entry.clone(),
            forward: inner.directed(format!("forward_{inner_name}"), backwards),
            backward: inner.directed(format!("backward_{inner_name}"), !backwards),
            merge_mode,
            name,
        })
    }

    /// The output of one direction — its sequence (in input time order for the backward
    /// copy) or its last output — and the final states it returns (none without
    /// `return_state`).
    fn direction(
        &self,
        g: &mut Graph,
        layer: &dyn Recurrence,
        x: NodeId,
        params: &[NodeId],
        reorder: bool,
    ) -> Result<(NodeId, Vec<NodeId>)> {
        let Unrolled {
            mut outputs,
            mut states,
        } = layer.run(g, x, params)?;
        states.truncate(layer.returned_states());
        if !layer.returns_sequences() {
            return Ok((*outputs.last().expect("at least one step"), states));
        }
        if reorder {
            outputs.reverse();
        }
        Ok((sequence(g, &outputs)?, states))
    }

    /// The two directions merged by `mode`.
    fn merge(g: &mut Graph, mode: MergeMode, f: NodeId, b: NodeId) -> Result<NodeId> {
        let rank = g.shape(f).rank();
        Ok(match mode {
            MergeMode::Concat => g.add(Op::Concat { axis: rank - 1 }, &[f, b])?,
            MergeMode::Sum => g.binary(BinaryOp::Add, f, b)?,
            MergeMode::Mul => g.binary(BinaryOp::Mul, f, b)?,
            MergeMode::Ave => {
                let sum = g.binary(BinaryOp::Add, f, b)?;
                let half = g.scalar(0.5);
                g.binary(BinaryOp::Mul, sum, half)?
            }
        })
    }

    /// How many outputs the merge gives: one, or two without merging.
    fn merged_count(&self) -> usize {
        if self.merge_mode.is_some() { 1 } else { 2 }
    }
}

impl Layer for Bidirectional {
    fn class_name(&self) -> &'static str {
        "Bidirectional"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        let one = self.forward.output_shape(input).map_err(|e| match e {
            Error::Layer { msg, .. } => layer_error(self, msg),
            other => other,
        })?;
        if self.merge_mode != Some(MergeMode::Concat) {
            return Ok(one);
        }
        let mut dims = one.dims().to_vec();
        *dims.last_mut().expect("recurrent outputs have units") *= 2;
        Ok(Shape::new(dims))
    }

    fn output_count(&self) -> usize {
        self.merged_count() + 2 * self.forward.returned_states()
    }

    fn output_shapes_many(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let first = self.output_shape_many(inputs)?;
        let forward = self.forward.output_shapes_many(inputs)?;
        let mut shapes = vec![first; self.merged_count()];
        shapes.extend(forward.iter().skip(1).cloned());
        shapes.extend(forward.into_iter().skip(1));
        Ok(shapes)
    }

    fn params(&self, input: &Shape) -> Vec<ParamSpec> {
        let rename = |specs: Vec<ParamSpec>, forward: bool| {
            specs.into_iter().map(move |mut p| {
                let row = PARAM_NAMES.iter().find(|row| row.0 == p.name);
                p.name = row.map_or(p.name, |row| if forward { row.1 } else { row.2 });
                p
            })
        };
        rename(self.forward.params(input), true)
            .chain(rename(self.backward.params(input), false))
            .collect()
    }

    fn initial_value(&self, spec: &ParamSpec, seed: u64) -> Result<Tensor> {
        let row = PARAM_NAMES
            .iter()
            .find(|row| row.1 == spec.name || row.2 == spec.name);
        let mut inner = spec.clone();
        let layer = match row {
            Some(row) if row.1 == spec.name => {
                inner.name = row.0;
                &self.forward
            }
            Some(row) => {
                inner.name = row.0;
                &self.backward
            }
            None => &self.forward,
        };
        layer.initial_value(&inner, seed)
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        Ok(self.build_outputs(g, &[x], ctx)?[0])
    }

    fn build_outputs(
        &self,
        g: &mut Graph,
        xs: &[NodeId],
        ctx: LayerContext<'_>,
    ) -> Result<Vec<NodeId>> {
        let x = *single_input(self, xs)?;
        let half = ctx.params.len() / 2;
        let (fp, bp) = ctx.params.split_at(half);
        let (f, f_states) = self.direction(g, self.forward.as_ref(), x, fp, false)?;
        let (b, b_states) = self.direction(g, self.backward.as_ref(), x, bp, true)?;
        let mut outputs = match self.merge_mode {
            Some(mode) => vec![Self::merge(g, mode, f, b)?],
            None => vec![f, b],
        };
        outputs.extend(f_states);
        outputs.extend(b_states);
        Ok(outputs)
    }

    fn config(&self) -> Value {
        let mode = self.merge_mode.map(|mode| {
            MERGE_MODES
                .iter()
                .find(|row| row.1 == mode)
                .map_or("concat", |row| row.0)
        });
        layer_config(self, json!({"layer": self.layer, "merge_mode": mode}))
    }
}

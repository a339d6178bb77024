//! The ONNX graph being written: nodes, initializers and unique value names
//! ([`Emitter`]), the tensors that flow between layers ([`Value`] with its [`Layout`]), and
//! the one place that moves a value between Kiln's NHWC layout and ONNX's NCHW
//! ([`Emitter::in_layout`], cached, so a value is transposed at most once each way).
//!
//! This module knows no layer: the rules in `rules.rs` and the files beside it decide which
//! nodes a layer becomes.

use std::collections::{HashMap, HashSet};

use ir::Shape;
use kiln_onnx_proto::attribute_proto::AttributeType;
use kiln_onnx_proto::tensor_proto::DataType;
use kiln_onnx_proto::{AttributeProto, NodeProto, TensorProto};

/// Where the channel axis of a value sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Layout {
    /// Kiln's (and Keras') layout: the per-example shape as the layer graph states it (an
    /// image is `(batch, height, width, channels)`).
    Kiln,
    /// An image `(batch, height, width, channels)` of Kiln stored as ONNX's
    /// `(batch, channels, height, width)`: what `Conv`, pooling and `BatchNormalization` take.
    ChannelsFirst,
}

/// `perm` of the `Transpose` from NHWC to NCHW.
const TO_CHANNELS_FIRST: [i64; 4] = [0, 3, 1, 2];
/// `perm` of the `Transpose` from NCHW back to NHWC.
const TO_CHANNELS_LAST: [i64; 4] = [0, 2, 3, 1];

/// A tensor of the exported graph: its ONNX name, its layout and its per-example shape in
/// Kiln's layout (whatever `layout` is).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Value {
    /// The ONNX value name.
    pub name: String,
    /// How it is laid out in the ONNX graph.
    pub layout: Layout,
    /// Its per-example shape as Kiln sees it (without the batch axis).
    pub shape: Shape,
}

impl Value {
    /// The ONNX axis holding Kiln's batched axis `axis` (0 = batch) of this value.
    pub fn onnx_axis(&self, axis: usize) -> i64 {
        match self.layout {
            Layout::Kiln => axis as i64,
            Layout::ChannelsFirst => TO_CHANNELS_FIRST
                .iter()
                .position(|&a| a == axis as i64)
                .map_or(axis as i64, |p| p as i64),
        }
    }
}

/// The nodes and initializers written so far.
#[derive(Debug, Default)]
pub(crate) struct Emitter {
    /// Nodes in topological order.
    pub nodes: Vec<NodeProto>,
    /// Weights and constant inputs (shapes, pads, clip bounds).
    pub initializers: Vec<TensorProto>,
    used: HashSet<String>,
    /// `(value, layout)` to the name of the value already moved to that layout.
    moved: HashMap<(String, Layout), String>,
}

impl Emitter {
    /// Reserves `name` (a graph input's); later fresh names avoid it.
    pub fn reserve(&mut self, name: &str) {
        self.used.insert(name.to_string());
    }

    /// An unused value name starting with `base`.
    pub fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut k = 1;
        while self.used.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.used.insert(name.clone());
        name
    }

    /// Appends a node `op(inputs)` with `attributes`; returns its (fresh) output name.
    /// An empty input name is an omitted optional input.
    pub fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        output: &str,
        attributes: Vec<AttributeProto>,
    ) -> String {
        let output = self.fresh(output);
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            name: Some(output.clone()),
            op_type: Some(op.to_string()),
            attribute: attributes,
            ..Default::default()
        });
        output
    }

    /// A float initializer of `dims` holding `data` (row-major); returns its name.
    pub fn floats(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), data.len());
        let name = self.fresh(name);
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(DataType::Float as i32),
            name: Some(name.clone()),
            raw_data: Some(raw),
            ..Default::default()
        });
        name
    }

    /// A float scalar initializer.
    pub fn scalar(&mut self, name: &str, value: f32) -> String {
        self.floats(name, &[], &[value])
    }

    /// A 1-D int64 initializer (shapes, pads, axes); returns its name.
    pub fn ints(&mut self, name: &str, data: &[i64]) -> String {
        let name = self.fresh(name);
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(TensorProto {
            dims: vec![data.len() as i64],
            data_type: Some(DataType::Int64 as i32),
            name: Some(name.clone()),
            raw_data: Some(raw),
            ..Default::default()
        });
        name
    }

    /// `value` in `layout`: itself, or one `Transpose` of it (written once per value and
    /// layout, then reused by every other consumer).
    pub fn in_layout(&mut self, value: &Value, layout: Layout) -> Value {
        if value.layout == layout {
            return value.clone();
        }
        let key = (value.name.clone(), layout);
        let name = match self.moved.get(&key) {
            Some(name) => name.clone(),
            None => {
                let (perm, suffix) = match layout {
                    Layout::ChannelsFirst => (TO_CHANNELS_FIRST, "nchw"),
                    Layout::Kiln => (TO_CHANNELS_LAST, "nhwc"),
                };
                let out = format!("{}/{suffix}", value.name);
                let name = self.node("Transpose", &[&value.name], &out, vec![ints("perm", &perm)]);
                // Moving back returns the original value rather than a second transpose.
                self.moved
                    .insert((name.clone(), value.layout), value.name.clone());
                self.moved.insert(key, name.clone());
                name
            }
        };
        Value {
            name,
            layout,
            shape: value.shape.clone(),
        }
    }
}

/// An `INT` attribute.
pub(crate) fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_string()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(value),
        ..Default::default()
    }
}

/// An `INTS` attribute.
pub(crate) fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_string()),
        r#type: Some(AttributeType::Ints as i32),
        ints: values.to_vec(),
        ..Default::default()
    }
}

/// A `FLOAT` attribute.
pub(crate) fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_string()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(value),
        ..Default::default()
    }
}

/// A `STRING` attribute.
pub(crate) fn string(name: &str, value: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_string()),
        r#type: Some(AttributeType::String as i32),
        s: Some(value.as_bytes().to_vec()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_transposed_once_each_way() {
        let mut e = Emitter::default();
        e.reserve("x");
        let x = Value {
            name: "x".into(),
            layout: Layout::Kiln,
            shape: Shape::from([4, 4, 3]),
        };
        let first = e.in_layout(&x, Layout::ChannelsFirst);
        let again = e.in_layout(&x, Layout::ChannelsFirst);
        assert_eq!(first, again);
        assert_eq!(e.in_layout(&first, Layout::Kiln).name, "x");
        assert_eq!(e.nodes.len(), 1);
        assert_eq!(first.onnx_axis(3), 1);
        assert_eq!(first.onnx_axis(1), 2);
    }
}

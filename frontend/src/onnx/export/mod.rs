//! Kiln models to ONNX: [`to_onnx`] writes a model as an ONNX `ModelProto` (opset
//! [`EXPORT_OPSET`] = 17, IR version [`EXPORT_IR_VERSION`] = 8, producer `kiln`) and
//! [`Model::save_onnx`] writes it to a file, atomically.
//!
//! The exported model takes and returns what [`Model::predict`] does: the same inputs in
//! Kiln's layout (images NHWC), the same outputs, a dynamic batch axis (`dim_param`
//! `"batch"`). Inside, convolutions, pooling and batch normalization run in ONNX's NCHW: a
//! value is transposed to NCHW once, where the first such layer needs it, and back once,
//! where a layer that needs Kiln's layout (Flatten, Dense, an output) reads it — never once
//! per layer (`graph::Emitter::in_layout`). Weights are transformed once while writing
//! (a Conv kernel `(kh, kw, in, out)` becomes `(out, in, kh, kw)`).
//!
//! Each layer class has one rule in the table of `rules.rs`; the files beside it hold the
//! rules by family and say which ONNX ops each layer becomes. A layer with no rule (the
//! recurrent layers, attention, ...) or an option a rule cannot write is an error naming
//! the layer and its class. Inference only: Dropout is the identity, batch normalization
//! uses its moving statistics. This module does not read ONNX files (the importer does).

mod activation;
mod conv;
mod dense;
mod graph;
mod merge;
mod normalization;
mod pooling;
mod rules;
mod shape_ops;

use std::collections::HashMap;
use std::path::Path;

use ir::Shape;
use kiln_onnx_proto::prost::Message;
use kiln_onnx_proto::tensor_proto::DataType;
use kiln_onnx_proto::tensor_shape_proto::{Dimension, dimension};
use kiln_onnx_proto::{
    GraphProto, ModelProto, OperatorSetIdProto, TensorShapeProto, TypeProto, ValueInfoProto,
    type_proto,
};

use crate::atomic_file::write_atomically;
use crate::error::{Error, Result};
use crate::model::Model;
use graph::{Emitter, Layout, Value};
pub use rules::exported_classes;
use rules::{Site, rule_for};

/// The ONNX opset (default domain) exported models import.
pub const EXPORT_OPSET: i64 = 17;
/// The ONNX IR version of exported models.
pub const EXPORT_IR_VERSION: i64 = 8;
/// The `producer_name` of exported models.
pub const EXPORT_PRODUCER: &str = "kiln";
/// The `dim_param` of the batch axis of every exported input and output.
pub const BATCH_DIM: &str = "batch";

/// `model` as an ONNX model (inference graph, weights as initializers). Errors name the
/// layers that have no export rule, or the layer and option a rule cannot write.
///
/// ```
/// use kiln::prelude::*;
/// # fn main() -> kiln::Result<()> {
/// let model = sequential![Input::new([4]), Dense::new(3).activation(Activation::Relu)];
/// let onnx = kiln::onnx::to_onnx(&model)?;
/// let ops: Vec<_> = onnx.graph.unwrap().node.iter().map(|n| n.op_type().to_string()).collect();
/// assert_eq!(ops, ["Gemm", "Relu"]);
/// # Ok(())
/// # }
/// ```
pub fn to_onnx(model: &Model) -> Result<ModelProto> {
    check_rules(model)?;
    let shapes = model.layer_shapes()?;
    let mut e = Emitter::default();
    let mut values: HashMap<String, Value> = HashMap::new();
    let mut inputs = Vec::new();
    for name in model.input_names() {
        let index = layer_index(model, name)?;
        let shape = shapes[index].output.clone();
        e.reserve(name);
        inputs.push(value_info(name, &shape));
        let value = Value {
            name: name.to_string(),
            layout: Layout::Kiln,
            shape,
        };
        values.insert(name.to_string(), value);
    }
    for (index, layer) in model.layers().iter().enumerate() {
        let name = layer.name().unwrap_or_default();
        if values.contains_key(name) {
            continue;
        }
        let site = site(model, index, &shapes[index], &values)?;
        let rule = rule_for(layer.class_name()).expect("check_rules saw every layer");
        let value = rule(&mut e, &site)?;
        values.insert(name.to_string(), value);
    }
    let outputs = outputs(model, &mut e, &values)?;
    let graph = GraphProto {
        node: e.nodes,
        name: Some(model.name().to_string()),
        initializer: e.initializers,
        doc_string: Some(format!(
            "Kiln model `{}`: inputs and outputs in Kiln's layout (images NHWC)",
            model.name()
        )),
        input: inputs,
        output: outputs,
        ..Default::default()
    };
    Ok(ModelProto {
        ir_version: Some(EXPORT_IR_VERSION),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(EXPORT_OPSET),
        }],
        producer_name: Some(EXPORT_PRODUCER.into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        graph: Some(graph),
        ..Default::default()
    })
}

/// Fails, naming every layer without an export rule, if there is any.
fn check_rules(model: &Model) -> Result<()> {
    if let Some(shared) = (0..model.layers().len()).find(|&i| model.is_shared_call(i)) {
        return Err(Error::Layer {
            layer: model.layers()[shared].label(),
            msg: "is shared (called more than once); ONNX export supports layers called once"
                .into(),
        });
    }
    let missing: Vec<String> = model
        .layers()
        .iter()
        .filter(|l| l.class_name() != "InputLayer" && rule_for(l.class_name()).is_none())
        .map(|l| l.label())
        .collect();
    let Some(first) = missing.first() else {
        return Ok(());
    };
    let others = match &missing[1..] {
        [] => String::new(),
        rest => format!("; nor do {}", rest.join(", ")),
    };
    Err(Error::Layer {
        layer: first.clone(),
        msg: format!(
            "has no ONNX export rule{others} (exported classes: {})",
            exported_classes().join(", ")
        ),
    })
}

/// The position of the layer called `name`.
fn layer_index(model: &Model, name: &str) -> Result<usize> {
    model
        .layers()
        .iter()
        .position(|l| l.name() == Some(name))
        .ok_or_else(|| model.model_error(format!("has no layer `{name}`")))
}

/// What the rule of the layer at `index` is given.
fn site<'a>(
    model: &'a Model,
    index: usize,
    shapes: &crate::model::LayerShapes,
    values: &HashMap<String, Value>,
) -> Result<Site<'a>> {
    let layer = model.layers()[index].as_ref();
    let name = layer.name().unwrap_or_default();
    if layer.output_count() != 1 {
        return Err(Error::Layer {
            layer: layer.label(),
            msg: format!(
                "has {} outputs; ONNX export writes one-output layers",
                layer.output_count()
            ),
        });
    }
    let inputs = model
        .inbound_ports(index)
        .into_iter()
        .map(|(from, _)| values.get(from).cloned())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            model.model_error(format!("{} reads a layer not yet exported", layer.label()))
        })?;
    let weights = shapes
        .params
        .iter()
        .map(|p| Ok((p.name, model.weight(&format!("{name}/{}", p.name))?)))
        .collect::<Result<_>>()?;
    Ok(Site {
        layer,
        name,
        config: layer.config(),
        inputs,
        output: shapes.output.clone(),
        weights,
    })
}

/// The graph outputs: each model output in Kiln's layout, under a name no other graph input
/// or output has (an `Identity` where one value is returned twice or is an input).
fn outputs(
    model: &Model,
    e: &mut Emitter,
    values: &HashMap<String, Value>,
) -> Result<Vec<ValueInfoProto>> {
    let inputs = model.input_names();
    let mut taken: Vec<String> = Vec::new();
    let shapes = model.output_shapes()?;
    let mut out = Vec::new();
    for ((layer, _), shape) in model.output_ports().into_iter().zip(&shapes) {
        let value = values
            .get(layer)
            .ok_or_else(|| model.model_error(format!("output `{layer}` was not exported")))?;
        let mut name = e.in_layout(value, Layout::Kiln).name;
        if inputs.contains(&name.as_str()) || taken.contains(&name) {
            name = e.node("Identity", &[&name], &format!("{layer}/output"), vec![]);
        }
        out.push(value_info(&name, shape));
        taken.push(name);
    }
    Ok(out)
}

/// A float tensor of `(batch, shape...)` called `name`.
fn value_info(name: &str, shape: &Shape) -> ValueInfoProto {
    let batch = Dimension {
        value: Some(dimension::Value::DimParam(BATCH_DIM.into())),
        ..Default::default()
    };
    let dims = shape.dims().iter().map(|&d| Dimension {
        value: Some(dimension::Value::DimValue(d as i64)),
        ..Default::default()
    });
    let tensor = type_proto::Tensor {
        elem_type: Some(DataType::Float as i32),
        shape: Some(TensorShapeProto {
            dim: std::iter::once(batch).chain(dims).collect(),
        }),
    };
    ValueInfoProto {
        name: Some(name.to_string()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(tensor)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl Model {
    /// Writes the model to `path` as an ONNX file (see [`to_onnx`]), atomically: a
    /// temporary file renamed over `path`, so `path` never holds half a model.
    ///
    /// ```no_run
    /// use kiln::prelude::*;
    /// # fn main() -> kiln::Result<()> {
    /// let model = sequential![Input::new([28, 28, 1]), Flatten::new(), Dense::new(10)];
    /// model.save_onnx("mnist.onnx")?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn save_onnx(&self, path: impl AsRef<Path>) -> Result<()> {
        let bytes = to_onnx(self)?.encode_to_vec();
        write_atomically(path.as_ref(), &bytes)
    }
}

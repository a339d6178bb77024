//! The import itself: initializers and graph inputs become values, every node in order is
//! either evaluated at import (`Constant`, `Shape` of a model tensor, any op of
//! [`FOLDABLE`] on known inputs) or mapped onto layers (`ops/`), and the graph outputs,
//! brought back to the ONNX layout, become the model's outputs; the weights are set once.

use std::path::Path;

use kiln_onnx_proto::tensor_shape_proto::dimension::Value as Dim;
use kiln_onnx_proto::type_proto::Value as Type;
use kiln_onnx_proto::{GraphProto, ValueInfoProto};

use super::attrs::NodeCtx;
use super::error::{ImportResult, file_error};
use super::fold::{FOLDABLE, Folder};
use super::graph::{Dyn, Importer, Layout, Value};
use super::ops::mapper;
use super::tensor::{Const, Mark, dtype, read_tensor};
use crate::layers::{Input, Permute};
use crate::model::{Model, TensorRef};
use ir::Shape;

/// Builds the Kiln model of `graph`.
pub(crate) fn build_model(
    graph: &GraphProto,
    opset: i64,
    name: &str,
    dir: &Path,
    (limit, options): (usize, super::ImportOptions),
) -> ImportResult<Model> {
    let mut imp = Importer::new(name, dir, limit);
    imp.free_batch = options.free_batch;
    for t in &graph.initializer {
        let c = read_tensor(t, dir)?;
        imp.values
            .insert(t.name.clone().unwrap_or_default(), Value::Const(c));
    }
    let inputs = declare_inputs(&mut imp, graph)?;
    for node in &graph.node {
        for input in node.input.iter().filter(|s| !s.is_empty()) {
            *imp.uses.entry(input.clone()).or_default() += 1;
        }
    }
    for out in &graph.output {
        *imp.uses
            .entry(out.name.clone().unwrap_or_default())
            .or_default() += 1;
    }
    for node in &graph.node {
        run_node(&mut imp, &NodeCtx { node, opset })?;
    }
    let outputs = collect_outputs(&mut imp, graph)?;
    let Importer { f, weights, .. } = imp;
    let mut model = f
        .build(&inputs, &outputs)
        .map_err(|e| file_error(format!("the imported graph does not form a model: {e}")))?;
    model
        .set_weights(&weights)
        .map_err(|e| file_error(format!("cannot set the imported weights: {e}")))?;
    Ok(model)
}

/// The graph inputs that are not initializers, as model inputs (4-D ones moved to
/// channels-last by one `Permute`). The first axis is the batch axis.
fn declare_inputs(imp: &mut Importer<'_>, graph: &GraphProto) -> ImportResult<Vec<TensorRef>> {
    let mut refs = Vec::new();
    let mut batch = None;
    for info in &graph.input {
        let name = info.name.clone().unwrap_or_default();
        if imp.values.contains_key(&name) {
            continue;
        }
        let (b, dims) = input_shape(info, &name)?;
        if batch.is_some_and(|x| x != b) {
            return Err(file_error(format!(
                "input `{name}` has batch size {b}, another input {}",
                batch.unwrap_or(0)
            )));
        }
        batch = Some(b);
        let layer_name = imp.fresh_name(&name, "input");
        let t = imp
            .f
            .input(Input::new(Shape::new(dims.clone())).named(layer_name));
        refs.push(t);
        let d = if dims.len() == 3 {
            let permute = Permute::new([2, 3, 1]).named(imp.fresh_name("", "onnx_nchw_to_nhwc"));
            let t = imp
                .f
                .apply(permute, t)
                .map_err(|e| file_error(format!("input `{name}`: {e}")))?;
            Dyn {
                t,
                layout: Layout::ChannelsLast,
                producer: None,
            }
        } else {
            Dyn {
                t,
                layout: Layout::Onnx,
                producer: None,
            }
        };
        imp.values.insert(name, Value::Tensor(d));
    }
    if refs.is_empty() {
        return Err(file_error(
            "the graph has no inputs besides its initializers",
        ));
    }
    imp.batch = batch.unwrap_or(1);
    Ok(refs)
}

/// The exported batch size (1 when symbolic) and per-example dims of a float input.
fn input_shape(info: &ValueInfoProto, name: &str) -> ImportResult<(usize, Vec<usize>)> {
    let bad = |msg: &str| file_error(format!("input `{name}`: {msg}"));
    let Some(Type::TensorType(t)) = info.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return Err(bad("is not a tensor"));
    };
    if t.elem_type != Some(dtype::FLOAT) {
        return Err(bad("Kiln reads float32 inputs only"));
    }
    let dims = t
        .shape
        .as_ref()
        .map(|s| s.dim.as_slice())
        .unwrap_or_default();
    let Some((first, rest)) = dims.split_first().filter(|(_, rest)| !rest.is_empty()) else {
        return Err(bad(
            "needs a batch axis and at least one more axis (rank 2 or more, with a shape)",
        ));
    };
    let batch = match first.value {
        Some(Dim::DimValue(b)) if b >= 1 => b as usize,
        Some(Dim::DimValue(b)) => return Err(bad(&format!("batch size {b}"))),
        _ => 1,
    };
    let mut numel: usize = 1;
    let per = rest
        .iter()
        .enumerate()
        .map(|(i, d)| match d.value {
            Some(Dim::DimValue(v)) if v >= 1 => {
                numel = numel
                    .checked_mul(v as usize)
                    .filter(|&n| n <= 1 << 28)
                    .ok_or_else(|| bad("per-example size is too large"))?;
                Ok(v as usize)
            }
            _ => Err(bad(&format!(
                "axis {} has no fixed positive size; Kiln needs fixed per-example shapes",
                i + 1
            ))),
        })
        .collect::<ImportResult<Vec<usize>>>()?;
    Ok((batch, per))
}

/// One node: evaluated when its inputs are known, else mapped.
fn run_node(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let op = ctx.op();
    if op == "Constant" {
        let c = constant(imp, ctx)?;
        return imp.set_output(ctx, 0, Value::Const(c));
    }
    let present: Vec<&str> = ctx.node.input.iter().map(String::as_str).collect();
    let mut known = Vec::with_capacity(present.len());
    let mut all_known = true;
    for name in &present {
        if name.is_empty() {
            known.push(None);
            continue;
        }
        match imp.value(ctx, name)? {
            Value::Const(c) => known.push(Some(c.clone())),
            Value::Tensor(_) => {
                all_known = false;
                known.push(None);
            }
        }
    }
    let folder = Folder {
        ctx: *ctx,
        limit: imp.limit,
    };
    if op == "Shape" && !all_known {
        let d = imp.dyn_input(ctx, 0)?;
        let mut dims = vec![imp.batch];
        dims.extend(imp.onnx_dims(&d));
        let mut marks = vec![Mark::Plain; dims.len()];
        marks[0] = Mark::Batch;
        let c = folder.shape_of(&dims, &marks)?;
        return imp.set_output(ctx, 0, Value::Const(c));
    }
    if all_known && FOLDABLE.contains(&op) {
        let refs: Vec<Option<&Const>> = known.iter().map(Option::as_ref).collect();
        let outs = folder.eval(&refs)?;
        for (i, c) in outs.into_iter().enumerate() {
            imp.set_output(ctx, i, Value::Const(c))?;
        }
        return Ok(());
    }
    match mapper(op) {
        Some(map) => map(imp, ctx),
        None => Err(ctx.error(format!(
            "depends on the model's input; Kiln evaluates {op} only at import, on constants \
             and shapes"
        ))),
    }
}

/// A `Constant` node's value (`value`, `value_float(s)`, `value_int(s)`).
fn constant(imp: &Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<Const> {
    if let Some(t) = ctx.tensor("value") {
        return read_tensor(t, imp.dir);
    }
    if let Some(v) = ctx.floats("value_floats") {
        return Ok(Const::f32(vec![v.len()], v.to_vec()));
    }
    if let Some(v) = ctx.ints("value_ints") {
        return Ok(Const::i64(vec![v.len()], v.to_vec()));
    }
    if ctx.attr_names().any(|n| n == "value_float") {
        return Ok(Const::f32(
            Vec::new(),
            vec![ctx.float_or("value_float", 0.0)],
        ));
    }
    if let Some(v) = ctx.int("value_int") {
        return Ok(Const::i64(Vec::new(), vec![v]));
    }
    Err(ctx.error("has no value Kiln reads (value, value_float(s), value_int(s))"))
}

/// The graph outputs in the ONNX layout.
fn collect_outputs(imp: &mut Importer<'_>, graph: &GraphProto) -> ImportResult<Vec<TensorRef>> {
    let mut refs = Vec::new();
    for out in &graph.output {
        let name = out.name.clone().unwrap_or_default();
        let d = match imp.values.get(&name) {
            Some(Value::Tensor(d)) => d.clone(),
            Some(Value::Const(_)) => {
                return Err(file_error(format!(
                    "output `{name}` is a constant; it does not depend on the model's input"
                )));
            }
            None => {
                return Err(file_error(format!(
                    "output `{name}` is computed by no node"
                )));
            }
        };
        let node = kiln_onnx_proto::NodeProto {
            name: Some(format!("output {name}")),
            op_type: Some("Output".into()),
            ..Default::default()
        };
        let ctx = NodeCtx {
            node: &node,
            opset: 0,
        };
        let d = imp.onnx_layout(&ctx, d)?;
        refs.push(d.t);
    }
    if refs.is_empty() {
        return Err(file_error("the graph has no outputs"));
    }
    Ok(refs)
}

//! The merge layers: `Add`, `Subtract`, `Multiply`, `Maximum`, `Minimum` as chains of the
//! binary ONNX op, `Average` as `Add`s then `Mul` by `1/n`, `Concatenate` as `Concat` on the
//! ONNX axis holding Kiln's. Inputs stay in their layout when they all share it (a ResNet
//! block adds channels-first images without transposing); otherwise all move to Kiln's.

use super::graph::{Emitter, Layout, Value, int};
use super::rules::Site;
use crate::error::Result;

/// The inputs in one layout: theirs if they share it, else Kiln's. Inputs of different
/// ranks (Keras inserts axes into the smaller) have no rule.
fn aligned(e: &mut Emitter, site: &Site<'_>) -> Result<Vec<Value>> {
    let first = site
        .inputs
        .first()
        .ok_or_else(|| site.error("has no inputs"))?;
    if site
        .inputs
        .iter()
        .any(|x| x.shape.rank() != first.shape.rank())
    {
        return Err(site.error("inputs of different ranks"));
    }
    let layout = if site.inputs.iter().all(|x| x.layout == first.layout) {
        first.layout
    } else {
        Layout::Kiln
    };
    Ok(site.inputs.iter().map(|x| e.in_layout(x, layout)).collect())
}

/// `op(op(x0, x1), x2)...`; returns the last node's name and the layout.
fn chain(e: &mut Emitter, site: &Site<'_>, op: &str, last: &str) -> Result<(String, Layout)> {
    let xs = aligned(e, site)?;
    let mut acc = xs[0].name.clone();
    for (i, x) in xs.iter().enumerate().skip(1) {
        let out = if i + 1 == xs.len() {
            last.to_string()
        } else {
            site.named(&format!("{op}_{i}"))
        };
        acc = e.node(op, &[&acc, &x.name], &out, vec![]);
    }
    Ok((acc, xs[0].layout))
}

/// The rule of an elementwise merge written as a chain of `op`.
fn elementwise(e: &mut Emitter, site: &Site<'_>, op: &str) -> Result<Value> {
    if site.inputs.len() < 2 {
        return Err(site.error("needs at least two inputs"));
    }
    let (y, layout) = chain(e, site, op, site.name)?;
    Ok(site.output(y, layout))
}

/// Keras' `Add`.
pub(crate) fn add(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    elementwise(e, site, "Add")
}

/// Keras' `Subtract` (two inputs).
pub(crate) fn subtract(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    if site.inputs.len() != 2 {
        return Err(site.error("Subtract takes two inputs"));
    }
    elementwise(e, site, "Sub")
}

/// Keras' `Multiply`.
pub(crate) fn multiply(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    elementwise(e, site, "Mul")
}

/// Keras' `Maximum`.
pub(crate) fn maximum(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    elementwise(e, site, "Max")
}

/// Keras' `Minimum`.
pub(crate) fn minimum(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    elementwise(e, site, "Min")
}

/// Keras' `Average`: the sum times `1/n`.
pub(crate) fn average(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    if site.inputs.len() < 2 {
        return Err(site.error("needs at least two inputs"));
    }
    let (sum, layout) = chain(e, site, "Add", &site.named("sum"))?;
    let scale = e.scalar(&site.named("inv_n"), 1.0 / site.inputs.len() as f32);
    let y = e.node("Mul", &[&sum, &scale], site.name, vec![]);
    Ok(site.output(y, layout))
}

/// Keras' `Concatenate` along its `axis` (counting the batch axis as 0).
pub(crate) fn concatenate(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let xs = aligned(e, site)?;
    let batched = site.output.rank() as i64 + 1;
    let axis = site
        .reader()?
        .get("axis")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(-1);
    let axis = if axis < 0 { axis + batched } else { axis };
    if !(1..batched).contains(&axis) {
        return Err(site.error(format!("axis {axis} out of range")));
    }
    let onnx_axis = xs[0].onnx_axis(axis as usize);
    let names: Vec<&str> = xs.iter().map(|x| x.name.as_str()).collect();
    let y = e.node("Concat", &names, site.name, vec![int("axis", onnx_axis)]);
    Ok(site.output(y, xs[0].layout))
}

//! `BatchNormalization` (inference form) and `LayerNormalization` as ONNX nodes.
//!
//! Batch normalization over the channels of images is ONNX `BatchNormalization` in
//! channels-first layout (over the features of a batch of vectors, the same op as it is);
//! a missing `gamma`/`beta` (`scale`/`center` off) is written as ones/zeros. Over any other
//! axis it is `x·a + b` with `a = γ/√(var + ε)` and `b = β − mean·a` folded once while writing
//! (broadcast along that axis, in Kiln's layout). Layer normalization over trailing axes is
//! opset 17's `LayerNormalization`.

use super::graph::{Emitter, Layout, Value, float, int};
use super::rules::Site;
use crate::error::Result;

/// The batched axis (0 = batch) a normalization config's `axis` names for an input of
/// per-example `rank`: one integer, or a list of one.
fn batched_axes(site: &Site<'_>, rank: usize, default: i64) -> Result<Vec<usize>> {
    let batched = rank as i64 + 1;
    let raw: Vec<i64> = match site.config.get("axis") {
        None | Some(serde_json::Value::Null) => vec![default],
        Some(v) => match v.as_i64() {
            Some(a) => vec![a],
            None => v
                .as_array()
                .and_then(|a| a.iter().map(serde_json::Value::as_i64).collect())
                .ok_or_else(|| site.error(format!("axis {v}")))?,
        },
    };
    raw.into_iter()
        .map(|a| {
            let a = if a < 0 { a + batched } else { a };
            if (1..batched).contains(&a) {
                Ok(a as usize)
            } else {
                Err(site.error(format!("axis {a} out of range")))
            }
        })
        .collect()
}

/// `gamma`, `beta`, `moving_mean`, `moving_variance` of `features` (ones/zeros for the
/// missing ones).
fn statistics(site: &Site<'_>, features: usize) -> Result<[Vec<f32>; 4]> {
    let or = |name: &str, fill: f32| {
        site.maybe_param(name)
            .map_or_else(|| vec![fill; features], |t| t.data.clone())
    };
    Ok([
        or("gamma", 1.0),
        or("beta", 0.0),
        site.param("moving_mean")?.data.clone(),
        site.param("moving_variance")?.data.clone(),
    ])
}

/// Keras' `BatchNormalization` with its moving statistics.
pub(crate) fn batch_normalization(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let x = site.input()?.clone();
    let rank = x.shape.rank();
    let [axis] = batched_axes(site, rank, -1)?[..] else {
        return Err(site.error("several axes"));
    };
    let epsilon = site.reader()?.f32_or("epsilon", 1e-3)?;
    let features = x.shape.dims()[axis - 1];
    let [gamma, beta, mean, variance] = statistics(site, features)?;
    let channels_last = axis == rank;
    if channels_last && (rank == 1 || rank == 3) {
        let layout = if rank == 3 {
            Layout::ChannelsFirst
        } else {
            Layout::Kiln
        };
        let x = e.in_layout(&x, layout);
        let inputs = [("gamma", &gamma), ("beta", &beta), ("moving_mean", &mean)];
        let mut names = vec![x.name.clone()];
        for (name, data) in inputs.into_iter().chain([("moving_variance", &variance)]) {
            names.push(e.floats(&site.named(name), &[features], data));
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let attrs = vec![float("epsilon", epsilon)];
        let y = e.node("BatchNormalization", &refs, site.name, attrs);
        return Ok(site.output(y, layout));
    }
    // Any other axis: the folded affine map, broadcast along `axis` in Kiln's layout.
    let x = e.in_layout(&x, Layout::Kiln);
    let a: Vec<f32> = (0..features)
        .map(|i| {
            (f64::from(gamma[i]) / (f64::from(variance[i]) + f64::from(epsilon)).sqrt()) as f32
        })
        .collect();
    let b: Vec<f32> = (0..features).map(|i| beta[i] - mean[i] * a[i]).collect();
    let mut dims = vec![1; rank];
    dims[axis - 1] = features;
    let a = e.floats(&site.named("scale"), &dims, &a);
    let b = e.floats(&site.named("offset"), &dims, &b);
    let scaled = e.node("Mul", &[&x.name, &a], &site.named("scaled"), vec![]);
    let y = e.node("Add", &[&scaled, &b], site.name, vec![]);
    Ok(site.output(y, Layout::Kiln))
}

/// Keras' `LayerNormalization` over trailing axes (`axis` -1, or e.g. `[2, 3]` of a rank-3
/// example): ONNX `LayerNormalization` from the first of them.
pub(crate) fn layer_normalization(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let x = site.input_in(e, Layout::Kiln)?;
    let rank = x.shape.rank();
    let axes = batched_axes(site, rank, -1)?;
    let first = axes[0];
    if axes.iter().enumerate().any(|(i, &a)| a != first + i) || axes.last() != Some(&rank) {
        return Err(site.error(format!(
            "axes {axes:?} (only the trailing axes, in order, are exported)"
        )));
    }
    let c = site.reader()?;
    let epsilon = c.f32_or("epsilon", 1e-3)?;
    let normalised = &x.shape.dims()[first - 1..];
    let count: usize = normalised.iter().product();
    let ones = vec![1.0; count];
    let zeros = vec![0.0; count];
    let gamma = site.maybe_param("gamma").map_or(&ones, |t| &t.data);
    let beta = site.maybe_param("beta").map_or(&zeros, |t| &t.data);
    let gamma = e.floats(&site.named("gamma"), normalised, gamma);
    let beta = e.floats(&site.named("beta"), normalised, beta);
    let attrs = vec![int("axis", first as i64), float("epsilon", epsilon)];
    let y = e.node(
        "LayerNormalization",
        &[&x.name, &gamma, &beta],
        site.name,
        attrs,
    );
    Ok(site.output(y, Layout::Kiln))
}

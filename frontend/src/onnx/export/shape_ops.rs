//! Layers that move or keep values without arithmetic: `Dropout` (the identity at
//! inference: no node), `Flatten` (`Flatten(axis=1)`), `Reshape` (`Reshape` to
//! `[-1, target...]`) and `Permute` (`Transpose`). All but `Dropout` work in Kiln's layout,
//! so a channels-first image is transposed back once before them (Keras flattens NHWC).

use super::graph::{Emitter, Layout, Value, int, ints};
use super::rules::Site;
use crate::error::Result;

/// Keras' `Dropout`: at inference its output is its input.
pub(crate) fn dropout(_e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    Ok(site.input()?.clone())
}

/// Keras' `Flatten`: every per-example axis into one, in Kiln's (NHWC) order.
pub(crate) fn flatten(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let x = site.input_in(e, Layout::Kiln)?;
    if x.shape.rank() <= 1 {
        return Ok(x);
    }
    let y = e.node("Flatten", &[&x.name], site.name, vec![int("axis", 1)]);
    Ok(site.output(y, Layout::Kiln))
}

/// Keras' `Reshape`: to the layer's per-example output shape, the batch axis as `-1`.
pub(crate) fn reshape(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let x = site.input_in(e, Layout::Kiln)?;
    let mut target = vec![-1];
    target.extend(site.output.dims().iter().map(|&d| d as i64));
    let shape = e.ints(&site.named("shape"), &target);
    let y = e.node("Reshape", &[&x.name, &shape], site.name, vec![]);
    Ok(site.output(y, Layout::Kiln))
}

/// Keras' `Permute`: `dims` (1-based per-example axes) after the batch axis.
pub(crate) fn permute(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let x = site.input_in(e, Layout::Kiln)?;
    let dims = site
        .config
        .get("dims")
        .and_then(|d| d.as_array())
        .and_then(|d| d.iter().map(|v| v.as_i64()).collect::<Option<Vec<i64>>>())
        .ok_or_else(|| site.error("its `dims` is not a list of integers"))?;
    let mut perm = vec![0];
    perm.extend(dims);
    let y = e.node(
        "Transpose",
        &[&x.name],
        site.name,
        vec![ints("perm", &perm)],
    );
    Ok(site.output(y, Layout::Kiln))
}

//! The safe convolution wrappers over slices ([`conv2d`], [`conv2d_backprop_input`],
//! [`conv2d_backprop_filter`], and [`conv2d_using`] with a chosen algorithm): every length
//! is checked against the geometry before the pass runs, and a short operand is a
//! [`ContractError`].

use super::args::{Conv2dArgs, ConvAlgorithm, ConvPass};
use super::passes::conv2d_raw_using;
use crate::contract::conv_geometry::Conv2dGeometry;
use crate::contract::error::ContractError;

/// Checked forward convolution: `y = conv(x, w)`.
pub fn conv2d(
    g: &Conv2dGeometry,
    x: &[f32],
    w: &[f32],
    y: &mut [f32],
    scratch: &mut [f32],
    threads: usize,
) -> Result<(), ContractError> {
    checked(
        ConvAlgorithm::Auto,
        ConvPass::Forward,
        g,
        [
            (x.as_ptr().cast_mut(), x.len()),
            (w.as_ptr().cast_mut(), w.len()),
            (y.as_mut_ptr(), y.len()),
        ],
        scratch,
        threads,
    )
}

/// Checked backprop to the input: `dx = conv^T(dy, w)` (overwrites `dx`).
pub fn conv2d_backprop_input(
    g: &Conv2dGeometry,
    dy: &[f32],
    w: &[f32],
    dx: &mut [f32],
    scratch: &mut [f32],
    threads: usize,
) -> Result<(), ContractError> {
    checked(
        ConvAlgorithm::Auto,
        ConvPass::BackpropInput,
        g,
        [
            (dx.as_mut_ptr(), dx.len()),
            (w.as_ptr().cast_mut(), w.len()),
            (dy.as_ptr().cast_mut(), dy.len()),
        ],
        scratch,
        threads,
    )
}

/// Checked backprop to the filter: `dw = sum over pixels of x-patch (outer) dy` (overwrites `dw`).
pub fn conv2d_backprop_filter(
    g: &Conv2dGeometry,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    scratch: &mut [f32],
    threads: usize,
) -> Result<(), ContractError> {
    checked(
        ConvAlgorithm::Auto,
        ConvPass::BackpropFilter,
        g,
        [
            (x.as_ptr().cast_mut(), x.len()),
            (dw.as_mut_ptr(), dw.len()),
            (dy.as_ptr().cast_mut(), dy.len()),
        ],
        scratch,
        threads,
    )
}

/// Checked `pass` run with `algorithm`: `read` are the two tensors the pass reads and
/// `written` the one it overwrites — forward: `[x, w]`, `y`; input gradient: `[dy, w]`,
/// `dx`; filter gradient: `[x, dy]`, `dw`. A Winograd algorithm on a geometry or pass it
/// cannot run is an error, as is a short slice (nothing written either way).
pub fn conv2d_using(
    algorithm: ConvAlgorithm,
    pass: ConvPass,
    g: &Conv2dGeometry,
    read: [&[f32]; 2],
    written: &mut [f32],
    scratch: &mut [f32],
    threads: usize,
) -> Result<(), ContractError> {
    let [first, second] = read.map(|t| (t.as_ptr().cast_mut(), t.len()));
    let out = (written.as_mut_ptr(), written.len());
    let tensors = match pass {
        ConvPass::Forward => [first, second, out],
        ConvPass::BackpropInput => [out, second, first],
        ConvPass::BackpropFilter => [first, out, second],
    };
    checked(algorithm, pass, g, tensors, scratch, threads)
}

/// Checks every slice length against the geometry, then runs the pass. `tensors` are
/// `(ptr, len)` for `x`, `w`, `y` (or their gradients) and come from distinct borrows, the
/// written one unique.
fn checked(
    algorithm: ConvAlgorithm,
    pass: ConvPass,
    g: &Conv2dGeometry,
    tensors: [(*mut f32, usize); 3],
    scratch: &mut [f32],
    threads: usize,
) -> Result<(), ContractError> {
    let sizes = g.sizes()?;
    let names = match pass {
        ConvPass::Forward => ["x", "w", "y"],
        ConvPass::BackpropInput => ["dx", "w", "dy"],
        ConvPass::BackpropFilter => ["x", "dw", "dy"],
    };
    for ((_, len), (name, needed)) in tensors
        .iter()
        .zip(names.into_iter().zip([sizes.x, sizes.w, sizes.y]))
    {
        if *len < needed {
            return Err(ContractError::OperandTooShort {
                operand: name,
                needed,
                len: *len,
            });
        }
    }
    let [x, w, y] = tensors.map(|(p, _)| p);
    let args = Conv2dArgs {
        geometry: *g,
        x,
        w,
        y,
        scratch: scratch.as_mut_ptr(),
        scratch_len: scratch.len(),
        threads,
    };
    // SAFETY: lengths checked above; the written tensor is a unique borrow distinct from the
    // others and from `scratch`; the read-only ones are never written by this pass.
    unsafe { conv2d_raw_using(algorithm, pass, &args) }
}

//! The checked geometries of dense and depthwise convolutions, resolved at compile time
//! from the operands' shapes so that the kernels never report a bad geometry.

use cranelift_module::Module;
use ir::{Conv2dAttrs, NodeId, Shape};

use super::error::unsupported;
use crate::contract::Conv2dGeometry;
use crate::error::Result;
use crate::lowerer::Lowerer;

/// The checked geometry of a dense convolution of input `x` with filter `w` (both rank 4).
pub(super) fn conv_geometry<M: Module>(
    l: &Lowerer<'_, M>,
    id: NodeId,
    attrs: &Conv2dAttrs,
    x: &Shape,
    w: &Shape,
) -> Result<Conv2dGeometry> {
    let dims = |s: &Shape| {
        <[usize; 4]>::try_from(s.dims())
            .map_err(|_| unsupported(l, id, "convolution operands must be rank 4"))
    };
    Conv2dGeometry::resolve(dims(x)?, dims(w)?, attrs)
        .map_err(|e| unsupported(l, id, &e.to_string()))
}

/// The checked geometry of a depthwise convolution of input `x` with the rank-4 filter
/// `w = [kh, kw, c, m]` (as the dense-equivalent filter `[kh, kw, c, c * m]`), and its
/// channel multiplier `m`.
pub(super) fn depthwise_geometry<M: Module>(
    l: &Lowerer<'_, M>,
    id: NodeId,
    attrs: &Conv2dAttrs,
    x: &Shape,
    w: &Shape,
) -> Result<(Conv2dGeometry, usize)> {
    let d = w.dims();
    let dense = d
        .get(2)
        .zip(d.get(3))
        .and_then(|(c, m)| c.checked_mul(*m))
        .map(|cm| Shape::from([d[0], d[1], d[2], cm]));
    let dense = dense
        .filter(|_| d.len() == 4)
        .ok_or_else(|| unsupported(l, id, "depthwise filter must be rank 4"))?;
    Ok((conv_geometry(l, id, attrs, x, &dense)?, d[3]))
}

//! Shapes of the reductions: the reduced axes dropped, or kept as size 1.

use crate::op::ReduceOp;
use crate::shape::Shape;

/// Result shape of a reduction.
pub fn reduce_shape(
    x: &Shape,
    op: ReduceOp,
    axes: &[usize],
    keep_dims: bool,
) -> Result<Shape, String> {
    if axes.windows(2).any(|w| w[0] >= w[1]) || axes.iter().any(|&a| a >= x.rank()) {
        return Err(format!(
            "axes {axes:?} must be strictly increasing and below rank {}",
            x.rank()
        ));
    }
    if op == ReduceOp::ArgMax && axes.len() != 1 {
        return Err("argmax reduces exactly one axis".into());
    }
    if axes.iter().any(|&a| x.0[a] == 0) {
        return Err("cannot reduce an empty axis".into());
    }
    let dims = (0..x.rank())
        .filter_map(|i| match (axes.contains(&i), keep_dims) {
            (false, _) => Some(x.0[i]),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    Ok(Shape(dims))
}

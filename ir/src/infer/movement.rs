//! Shapes of the movement ops, which rearrange the same elements: reshape, transpose,
//! broadcast, slice, concat, pad, and `stop_gradient` (which keeps them as they are).

use super::name::op_name;
use super::operands::expect_operands;
use crate::op::Op;
use crate::shape::Shape;

/// Movement ops: the same elements rearranged (reshape, transpose, broadcast, slice,
/// concat, pad).
pub(super) fn movement_shape(op: &Op, shapes: &[&Shape]) -> Result<Shape, String> {
    if let Op::Concat { axis } = op {
        return concat_shape(shapes, *axis);
    }
    expect_operands(shapes, 1)?;
    let x = shapes[0];
    match op {
        Op::Reshape(target) => {
            if target.numel() != x.numel() {
                return Err(format!("cannot reshape {} elements to {target}", x.numel()));
            }
            Ok(target.clone())
        }
        Op::Transpose(perm) => transpose_shape(x, perm),
        Op::Broadcast(target) => {
            if !x.broadcasts_to(target) {
                return Err(format!("does not broadcast to {target}"));
            }
            Ok(target.clone())
        }
        Op::StopGradient => Ok(x.clone()),
        Op::Slice { starts, ends } => slice_shape(x, starts, ends),
        Op::Pad { before, after, .. } => pad_shape(x, before, after),
        other => unreachable!("{} is not a movement op", op_name(other)),
    }
}

/// Result shape of a transpose: axis `i` is `x`'s axis `perm[i]`.
fn transpose_shape(x: &Shape, perm: &[usize]) -> Result<Shape, String> {
    let mut seen = vec![false; perm.len()];
    if perm.len() != x.rank()
        || perm
            .iter()
            .any(|&p| p >= perm.len() || std::mem::replace(&mut seen[p], true))
    {
        return Err(format!(
            "{perm:?} is not a permutation of the operand's axes"
        ));
    }
    Ok(Shape(perm.iter().map(|&p| x.0[p]).collect()))
}

/// Result shape of a slice: `ends - starts` per axis, each range inside `x`.
fn slice_shape(x: &Shape, starts: &[usize], ends: &[usize]) -> Result<Shape, String> {
    if starts.len() != x.rank() || ends.len() != x.rank() {
        return Err("starts/ends need one entry per axis".into());
    }
    let mut dims = Vec::with_capacity(x.rank());
    for i in 0..x.rank() {
        if starts[i] > ends[i] || ends[i] > x.0[i] {
            return Err(format!(
                "axis {i}: range {}..{} outside 0..{}",
                starts[i], ends[i], x.0[i]
            ));
        }
        dims.push(ends[i] - starts[i]);
    }
    Ok(Shape(dims))
}

/// Result shape of a concat along `axis`: the operands' sizes there summed, all other axes
/// equal.
fn concat_shape(shapes: &[&Shape], axis: usize) -> Result<Shape, String> {
    if shapes.is_empty() {
        return Err("needs at least one operand".into());
    }
    let first = shapes[0];
    if axis >= first.rank() {
        return Err(format!("axis {axis} out of range"));
    }
    let mut dims = first.0.clone();
    dims[axis] = 0;
    for s in shapes {
        let same_rest =
            s.rank() == first.rank() && (0..s.rank()).all(|i| i == axis || s.0[i] == first.0[i]);
        if !same_rest {
            return Err(format!("all axes but {axis} must be equal"));
        }
        dims[axis] = dims[axis]
            .checked_add(s.0[axis])
            .ok_or_else(|| "joined size overflows".to_string())?;
    }
    Ok(Shape(dims))
}

/// Result shape of a pad: `before + x + after` per axis.
fn pad_shape(x: &Shape, before: &[usize], after: &[usize]) -> Result<Shape, String> {
    if before.len() != x.rank() || after.len() != x.rank() {
        return Err("before/after need one entry per axis".into());
    }
    let dims = (0..x.rank())
        .map(|i| x.0[i].checked_add(before[i])?.checked_add(after[i]))
        .collect::<Option<Vec<_>>>();
    dims.map(Shape)
        .ok_or_else(|| "padded size overflows".into())
}

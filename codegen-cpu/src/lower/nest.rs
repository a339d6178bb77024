//! Strided loop nests: the one loop mechanism behind elementwise kernels, reductions,
//! movement ops and pooling. A nest walks a box of `dims` and keeps, per operand, the
//! element offset `base + sum(iv[d] * stride[d])`, updated once per loop level.

use cranelift_codegen::ir::Value;

use super::Kernel;

/// A loop nest: extents (outermost first) and per-operand strides in elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Nest {
    /// Extent of each loop, outermost first.
    pub dims: Vec<usize>,
    /// `strides[operand][level]`.
    pub strides: Vec<Vec<i64>>,
}

impl Nest {
    /// A nest over `dims` with the given per-operand strides, size-1 levels dropped and
    /// adjacent levels merged wherever every operand walks them as one contiguous level.
    pub fn coalesced(dims: &[usize], strides: Vec<Vec<i64>>) -> Nest {
        let keep: Vec<usize> = (0..dims.len()).filter(|&d| dims[d] != 1).collect();
        let mut nest = Nest {
            dims: keep.iter().map(|&d| dims[d]).collect(),
            strides: strides
                .iter()
                .map(|s| keep.iter().map(|&d| s[d]).collect())
                .collect(),
        };
        let mut level = nest.dims.len();
        while level > 1 {
            level -= 1;
            let (outer, inner) = (level - 1, level);
            let mergeable = nest
                .strides
                .iter()
                .all(|s| s[outer] == s[inner] * nest.dims[inner] as i64);
            if mergeable {
                nest.dims[inner] *= nest.dims[outer];
                nest.dims.remove(outer);
                for s in &mut nest.strides {
                    s.remove(outer);
                }
            }
        }
        nest
    }

    /// Split off the innermost level: `(outer nest, inner extent, inner strides)`. A nest
    /// without levels (a single element) has an inner extent of 1.
    pub fn split_inner(&self) -> (Nest, usize, Vec<i64>) {
        match self.dims.len() {
            0 => (self.clone(), 1, vec![0; self.strides.len()]),
            n => (
                Nest {
                    dims: self.dims[..n - 1].to_vec(),
                    strides: self.strides.iter().map(|s| s[..n - 1].to_vec()).collect(),
                },
                self.dims[n - 1],
                self.strides.iter().map(|s| s[n - 1]).collect(),
            ),
        }
    }
}

/// Row-major strides of `dims` as `i64`.
pub(crate) fn row_major(dims: &[usize]) -> Vec<i64> {
    ir::Shape::new(dims.to_vec())
        .strides()
        .into_iter()
        .map(|s| s as i64)
        .collect()
}

/// Strides for reading a tensor of `shape` broadcast to `target`.
pub(crate) fn broadcast_strides(shape: &ir::Shape, target: &ir::Shape) -> Vec<i64> {
    shape
        .broadcast_strides(target)
        .into_iter()
        .map(|s| s as i64)
        .collect()
}

/// The innermost body of a nest: `(kernel, operand offsets, loop variables)`.
pub(crate) type Body<'a> = dyn FnMut(&mut Kernel, &[Value], &[Value]) + 'a;

/// Emit the nest. `offsets` are the operands' starting element offsets (`i64` values);
/// `body` runs once per innermost iteration with the current offsets and loop variables.
/// With `chunked`, the outermost level covers only this call's chunk.
pub(crate) fn emit(
    k: &mut Kernel,
    nest: &Nest,
    offsets: Vec<Value>,
    chunked: bool,
    body: &mut Body<'_>,
) {
    let mut ivs = Vec::with_capacity(nest.dims.len());
    level(k, nest, 0, offsets, &mut ivs, chunked, body);
}

fn level(
    k: &mut Kernel,
    nest: &Nest,
    depth: usize,
    offsets: Vec<Value>,
    ivs: &mut Vec<Value>,
    chunked: bool,
    body: &mut Body<'_>,
) {
    if depth == nest.dims.len() {
        body(k, &offsets, ivs);
        return;
    }
    let (lo, hi) = if depth == 0 && chunked {
        k.chunk_range(nest.dims[0])
    } else {
        (k.int(0), k.int(nest.dims[depth] as i64))
    };
    k.for_range(lo, hi, 1, |k, iv| {
        let inner: Vec<Value> = offsets
            .iter()
            .zip(&nest.strides)
            .map(|(&o, s)| k.mul_add(iv, s[depth], o))
            .collect();
        ivs.push(iv);
        level(k, nest, depth + 1, inner, ivs, chunked, body);
        ivs.pop();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_shape_operands_coalesce_to_one_level() {
        let s = row_major(&[2, 3, 4]);
        let n = Nest::coalesced(&[2, 3, 4], vec![s.clone(), s]);
        assert_eq!(n.dims, vec![24]);
    }

    #[test]
    fn bias_row_keeps_two_levels() {
        let n = Nest::coalesced(&[5, 1, 7], vec![row_major(&[5, 1, 7]), vec![0, 0, 1]]);
        assert_eq!(n.dims, vec![5, 7]);
        assert_eq!(n.strides, vec![vec![7, 1], vec![0, 1]]);
    }
}

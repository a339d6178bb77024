//! The one strided index walker behind every op: broadcasting, transposes, slices, padding,
//! concatenation and reductions are all "walk an index box in row-major order and read or
//! write each tensor at `offset + Σ index[k] * strides[k]`".

use crate::shape::Shape;

/// Where element `index` of a tensor lives in its row-major data:
/// `offset + Σ index[k] * strides[k]`. A stride of 0 repeats an axis (broadcasting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct View {
    /// Offset of the element at index 0.
    pub offset: usize,
    /// Step per axis of the walked box.
    pub strides: Vec<usize>,
}

impl View {
    /// The tensor itself, walked over its own shape.
    pub fn contiguous(shape: &Shape) -> Self {
        View {
            offset: 0,
            strides: shape.strides(),
        }
    }

    /// A tensor of shape `from` read as if broadcast to `to` (numpy rules; checked by the
    /// caller's shape inference).
    pub fn broadcast(from: &Shape, to: &Shape) -> Self {
        View {
            offset: 0,
            strides: from.broadcast_strides(to),
        }
    }
}

/// Visit every index of the box `dims` in row-major order, passing the index and, for each
/// of `views`, the data offset of that index. A box with an empty axis visits nothing; a
/// rank-0 box visits once.
pub(crate) fn for_each_index(
    dims: &[usize],
    views: &[View],
    mut visit: impl FnMut(&[usize], &[usize]),
) {
    if dims.contains(&0) {
        return;
    }
    let mut index = vec![0; dims.len()];
    let mut offsets: Vec<usize> = views.iter().map(|v| v.offset).collect();
    loop {
        visit(&index, &offsets);
        // Odometer step: bump the last axis, carrying into earlier ones.
        let mut axis = dims.len();
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            index[axis] += 1;
            if index[axis] < dims[axis] {
                for (offset, view) in offsets.iter_mut().zip(views) {
                    *offset += view.strides[axis];
                }
                break;
            }
            for (offset, view) in offsets.iter_mut().zip(views) {
                *offset -= view.strides[axis] * (dims[axis] - 1);
            }
            index[axis] = 0;
        }
    }
}

/// The elements of `data` seen through `view` over the box `dims`, in row-major order.
pub(crate) fn gather(data: &[f32], dims: &[usize], view: &View) -> Vec<f32> {
    let mut out = Vec::with_capacity(dims.iter().product());
    for_each_index(dims, std::slice::from_ref(view), |_, offsets| {
        out.push(data[offsets[0]])
    });
    out
}

/// Write `src` (row-major over the box `dims`) into `dst` through `view`.
pub(crate) fn scatter(src: &[f32], dims: &[usize], dst: &mut [f32], view: &View) {
    let mut next = src.iter();
    for_each_index(dims, std::slice::from_ref(view), |_, offsets| {
        dst[offsets[0]] = *next
            .next()
            .expect("src holds one value per index of the box");
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_row_major_with_every_views_offset() {
        let mut seen = Vec::new();
        let views = [
            View {
                offset: 0,
                strides: vec![3, 1],
            },
            View {
                offset: 10,
                strides: vec![0, 2],
            },
        ];
        for_each_index(&[2, 3], &views, |index, offsets| {
            seen.push((index.to_vec(), offsets.to_vec()))
        });
        let want: Vec<(Vec<usize>, Vec<usize>)> = (0..2)
            .flat_map(|i| (0..3).map(move |j| (vec![i, j], vec![3 * i + j, 10 + 2 * j])))
            .collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn rank_zero_visits_once_and_empty_visits_never() {
        let mut n = 0;
        for_each_index(&[], &[], |_, _| n += 1);
        assert_eq!(n, 1);
        for_each_index(&[3, 0], &[], |_, _| n += 1);
        assert_eq!(n, 1);
    }
}

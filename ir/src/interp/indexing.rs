//! The indexing ops: `gather` (rows of a table picked by ids) and `scatter_add` (its
//! gradient wrt the table). An id that is not valid ([`crate::ids::row_of`]) reads a row of
//! zeros and scatters nothing. Not here: rejecting bad ids bound to an input (that is
//! [`crate::leaf::bind_leaves`]'s job, before any kernel runs).

use crate::ids::row_of;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// `table` `[v, d..]` gathered by `ids`: result row `i` is table row `ids[i]` (zeros for an
/// invalid id).
pub(super) fn gather(table: &Tensor, ids: &Tensor, out: &Shape) -> Tensor {
    let rows = table.shape.0[0];
    let width: usize = table.shape.0[1..].iter().product();
    let mut data = vec![0.0; out.numel()];
    for (chunk, &id) in data.chunks_exact_mut(width.max(1)).zip(&ids.data) {
        if let Some(r) = row_of(id, rows) {
            chunk.copy_from_slice(&table.data[r * width..(r + 1) * width]);
        }
    }
    Tensor {
        shape: out.clone(),
        data,
    }
}

/// `updates` row `i` added into row `ids[i]` of a zero `[rows, d..]` result (nothing for an
/// invalid id).
pub(super) fn scatter_add(ids: &Tensor, updates: &Tensor, out: &Shape) -> Tensor {
    let rows = out.0[0];
    let width: usize = out.0[1..].iter().product();
    let mut data = vec![0.0; out.numel()];
    for (chunk, &id) in updates.data.chunks_exact(width.max(1)).zip(&ids.data) {
        if let Some(r) = row_of(id, rows) {
            for (d, u) in data[r * width..(r + 1) * width].iter_mut().zip(chunk) {
                *d += u;
            }
        }
    }
    Tensor {
        shape: out.clone(),
        data,
    }
}

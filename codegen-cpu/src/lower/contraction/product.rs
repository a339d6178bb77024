//! The geometry of one matrix product of a (batched) matmul: sizes, element strides of the
//! operands (transposes included), batch strides, and the `kiln_sgemm` arguments it makes.

use ir::Shape;

use crate::contract::SgemmArgs;

/// One product of a (batched) matmul, per matrix of the batch: `C[m, n] = A[m, k] B[k, n]`,
/// `A(i, l)` stored at `i * a_strides.0 + l * a_strides.1` (likewise `B`), `C` dense.
pub(super) struct Product {
    pub(super) m: usize,
    pub(super) n: usize,
    pub(super) k: usize,
    pub(super) a_strides: (usize, usize),
    pub(super) b_strides: (usize, usize),
    /// Elements per matrix of `A` and of `B` (the batch strides).
    pub(super) a_len: usize,
    pub(super) b_len: usize,
    /// Matrices in the batch.
    pub(super) batch: usize,
}

impl Product {
    /// The product of `a` and `b` (shapes, whether transposed) into a result of shape `c`.
    pub(super) fn of(a: (&Shape, bool), b: (&Shape, bool), c: &Shape) -> Self {
        let r = c.rank();
        let (m, n) = (c.dims()[r - 2], c.dims()[r - 1]);
        let (ra, ca) = (a.0.dims()[r - 2], a.0.dims()[r - 1]);
        let (rb, cb) = (b.0.dims()[r - 2], b.0.dims()[r - 1]);
        // A(i, l) is stored at i*ca + l, or at l*ca + i when transposed; likewise for B.
        Product {
            m,
            n,
            k: if a.1 { ra } else { ca },
            a_strides: if a.1 { (1, ca) } else { (ca, 1) },
            b_strides: if b.1 { (1, cb) } else { (cb, 1) },
            a_len: ra * ca,
            b_len: rb * cb,
            batch: c.dims()[..r - 2].iter().product(),
        }
    }

    /// The `kiln_sgemm` arguments of one whole matrix, pointers null, for a call that may
    /// use `threads` threads.
    pub(super) fn template(&self, threads: usize) -> SgemmArgs {
        SgemmArgs {
            m: self.m,
            n: self.n,
            k: self.k,
            a: std::ptr::null(),
            a_row_stride: self.a_strides.0,
            a_col_stride: self.a_strides.1,
            b: std::ptr::null(),
            b_row_stride: self.b_strides.0,
            b_col_stride: self.b_strides.1,
            c: std::ptr::null_mut(),
            c_row_stride: self.n,
            c_col_stride: 1,
            alpha: 1.0,
            beta: 0.0,
            threads,
        }
    }
}

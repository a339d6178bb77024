//! `sgemm`: `C = alpha * A * B + beta * C` over strided f32 views, on the `gemm` crate's
//! AVX-512/AVX2/FMA microkernels (runtime-detected), on one or two threads; products with
//! one row or one column run as matrix-vector products instead ([`super::gemv`]).
//!
//! Three entry points share one core: the C-ABI [`kiln_sgemm`] that Cranelift-emitted code
//! calls by symbol, the unsafe Rust core [`sgemm_raw`], and the checked wrapper [`sgemm`].

use gemm::Parallelism;

use super::error::ContractError;
use super::gemv::Gemv;
use super::gemv_split;
use super::view::{MatMut, MatRef, check_fits, check_no_self_overlap};

/// Below this many flops (`2*m*n*k`) a product runs on one thread even when two are asked
/// for: the fork/join costs more than it saves (matrix-vector products have their own
/// threshold, `gemv_split::SPLIT_MIN_FLOPS`). Measured on the 2-core Zen 4 host (best of
/// 600 runs, machine loaded): 100x300x100 (6 MFLOP) and 128^3 (4 MFLOP) never gained from two
/// threads; 100x784x300 (47 MFLOP) and 200x784x300 reached 1.5-1.6x. The `gemm` crate also
/// keeps products with `m*n*k < 48*48*256` on one thread by itself.
pub const PARALLEL_MIN_FLOPS: usize = 8 << 20;

/// Arguments of [`kiln_sgemm`], laid out for callers in generated code.
///
/// `A` is `m x k`, `B` is `k x n`, `C` is `m x n`; element `(i, j)` of a view lives at
/// `ptr + i * row_stride + j * col_stride` (in elements). Transposed operands are expressed
/// by swapping strides.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SgemmArgs {
    /// Rows of `A` and `C`.
    pub m: usize,
    /// Columns of `B` and `C`.
    pub n: usize,
    /// Columns of `A`, rows of `B` (the contracted dimension).
    pub k: usize,
    /// First element of `A`.
    pub a: *const f32,
    /// Row stride of `A`.
    pub a_row_stride: usize,
    /// Column stride of `A`.
    pub a_col_stride: usize,
    /// First element of `B`.
    pub b: *const f32,
    /// Row stride of `B`.
    pub b_row_stride: usize,
    /// Column stride of `B`.
    pub b_col_stride: usize,
    /// First element of `C` (read only when `beta != 0`).
    pub c: *mut f32,
    /// Row stride of `C`.
    pub c_row_stride: usize,
    /// Column stride of `C`.
    pub c_col_stride: usize,
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of the old `C`; `0` means `C` is not read (it may hold NaN).
    pub beta: f32,
    /// Threads to use: 0 or 1 runs on the calling thread, 2 or more also uses rayon's
    /// global pool (for products of at least [`PARALLEL_MIN_FLOPS`]); matrix-vector
    /// products use the worker pool instead (see `gemv_split`).
    pub threads: usize,
}

/// C-ABI entry point: runs [`sgemm_raw`] on `*p`.
///
/// # Safety
/// `p` points to a valid [`SgemmArgs`] that satisfies [`sgemm_raw`]'s contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_sgemm(p: *const SgemmArgs) {
    // SAFETY: the caller guarantees `p` is valid and its contents satisfy `sgemm_raw`.
    unsafe { sgemm_raw(&*p) }
}

/// A stride as the `gemm` crate wants it. A stride of an axis of extent <= 1 is never
/// multiplied by a non-zero index, so an out-of-range one is replaced by 1.
fn gemm_stride(stride: usize, extent: usize) -> isize {
    match isize::try_from(stride) {
        Ok(s) => s,
        Err(_) => {
            debug_assert!(
                extent <= 1,
                "stride {stride} of an axis of extent {extent} overflows isize"
            );
            1
        }
    }
}

/// Computes `C = alpha * A * B + beta * C`.
///
/// # Safety
/// - every element `(i, j)` of the three views (see [`SgemmArgs`]) is in bounds of one
///   allocation, `A` and `B` readable, `C` readable (when `beta != 0`) and writable;
/// - `C` does not overlap `A` or `B`, and distinct `(i, j)` of `C` have distinct addresses;
/// - no other thread accesses `C` during the call.
pub unsafe fn sgemm_raw(args: &SgemmArgs) {
    let SgemmArgs {
        m,
        n,
        k,
        a,
        b,
        c,
        alpha,
        beta,
        ..
    } = *args;
    if m == 0 || n == 0 {
        return;
    }
    let (c_rs, c_cs) = (
        gemm_stride(args.c_row_stride, m),
        gemm_stride(args.c_col_stride, n),
    );
    if k == 0 || alpha == 0.0 {
        // SAFETY: the caller guarantees every C element is in bounds and exclusively ours.
        unsafe { scale_in_place(m, n, c, c_rs, c_cs, beta) };
        return;
    }
    if let Some(gemv) = Gemv::of_sgemm(args) {
        // SAFETY: the caller's contract, restated for the one-row product.
        unsafe { gemv_split::run(&gemv, args.threads) };
        return;
    }
    let flops = 2usize.saturating_mul(m).saturating_mul(n).saturating_mul(k);
    let parallelism = if args.threads >= 2 && flops >= PARALLEL_MIN_FLOPS {
        Parallelism::Rayon(args.threads)
    } else {
        Parallelism::None
    };
    // The gemm crate computes dst := alpha*dst + beta*lhs*rhs, reading dst only if asked:
    // our (alpha, beta) map to its (beta, alpha).
    // SAFETY: forwarded caller contract; strides describe the same in-bounds elements.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
            c_cs,
            c_rs,
            beta != 0.0,
            a,
            gemm_stride(args.a_col_stride, k),
            gemm_stride(args.a_row_stride, m),
            b,
            gemm_stride(args.b_col_stride, n),
            gemm_stride(args.b_row_stride, k),
            beta,
            alpha,
            false,
            false,
            false,
            parallelism,
        )
    }
}

/// `C = beta * C` (with `beta == 0` writing zeros without reading).
///
/// # Safety
/// Every element of the `m x n` view at `c` is in bounds, writable and exclusively ours.
unsafe fn scale_in_place(m: usize, n: usize, c: *mut f32, rs: isize, cs: isize, beta: f32) {
    for i in 0..m as isize {
        for j in 0..n as isize {
            // SAFETY: (i, j) is inside the view the caller vouched for.
            unsafe {
                let e = c.offset(i * rs + j * cs);
                *e = if beta == 0.0 { 0.0 } else { beta * *e };
            }
        }
    }
}

/// Checked `C = alpha * A * B + beta * C`: `A` is `m x k`, `B` is `k x n`, `C` is `m x n`.
///
/// Returns an error (and touches nothing) when the dims disagree, a view reaches past its
/// slice, or `C`'s layout overlaps itself.
pub fn sgemm(
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    beta: f32,
    c: MatMut<'_>,
    threads: usize,
) -> Result<(), ContractError> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k || c.rows != m || c.cols != n {
        return Err(ContractError::InvalidGeometry(format!(
            "sgemm dims disagree: A {}x{}, B {}x{}, C {}x{}",
            a.rows, a.cols, b.rows, b.cols, c.rows, c.cols
        )));
    }
    check_fits("a", a.data.len(), m, k, a.row_stride, a.col_stride)?;
    check_fits("b", b.data.len(), k, n, b.row_stride, b.col_stride)?;
    check_fits("c", c.data.len(), m, n, c.row_stride, c.col_stride)?;
    check_no_self_overlap("c", m, n, c.row_stride, c.col_stride)?;
    let args = SgemmArgs {
        m,
        n,
        k,
        a: a.data.as_ptr(),
        a_row_stride: a.row_stride,
        a_col_stride: a.col_stride,
        b: b.data.as_ptr(),
        b_row_stride: b.row_stride,
        b_col_stride: b.col_stride,
        c: c.data.as_mut_ptr(),
        c_row_stride: c.row_stride,
        c_col_stride: c.col_stride,
        alpha,
        beta,
        threads,
    };
    // SAFETY: all three views were checked to fit their slices; `c` is a unique borrow so it
    // overlaps neither `a` nor `b`, and its layout was checked not to overlap itself.
    unsafe { sgemm_raw(&args) };
    Ok(())
}

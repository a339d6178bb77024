//! Matrix-vector products: the one-row case of `sgemm` (`m == 1`, and `n == 1` seen
//! transposed), `y = alpha * x·B + beta * y` for a row `x` of length `k`, a `k x n` matrix
//! `B` and a row `y` of length `n`, every operand of any strides.
//!
//! A batch-1 Dense layer is exactly this product, and it is memory bound: each weight is
//! used once. The kernels therefore stream `B` once, in its storage order:
//! - `B` with contiguous rows (`x·W` for `W` row-major `k x n`, Dense's forward): a tile of
//!   `y` accumulates a few rows of `B` at a time ([`GEMV_ROWS`]), each row read front to back;
//! - `B` with contiguous columns (`x·Wᵀ`, the input gradient of Dense's backward): one dot
//!   product of `x` with each column, a few columns at a time;
//! - any other strides: a scalar loop.
//!
//! The first two run on AVX-512F or AVX2+FMA when the CPU has them ([`GemvIsa::detect`]),
//! else on portable code. This file owns the problem's normalisation, the choice of kernel
//! and the portable kernels; `gemv_simd` holds the vector kernels. It does NOT thread: a
//! caller that wants several threads splits the columns ([`Gemv::columns`]) — compiled
//! code through its chunks, [`super::sgemm_raw`] through `gemv_split`.

use std::mem::MaybeUninit;

use super::gemv_simd;
use super::sgemm::SgemmArgs;

/// Rows of `B` a tile of `y` accumulates per pass in the row kernels (one load and store
/// of the tile per this many rows). Measured on the 2-core Zen 4 host, 1x784x300 with
/// warm weights (940 KB, streamed from L3), AVX-512, medians of 20,000 calls, interleaved:
/// 4 rows 11.2-11.6 us, 8 rows 9.8-10.4 us, 16 rows 10.0-10.4 us.
pub const GEMV_ROWS: usize = 8;

/// Columns of `y` accumulated on the stack at once by the row kernels (16 KiB; only the
/// columns used are initialised). Whole rows of `B` up to this width stream sequentially,
/// which DRAM-bound products need: on the 2-core Zen 4 host, 1x25088x4096 (411 MB) on one
/// thread took 42-45 ms with 1024-column tiles (4 KiB of every 16 KiB row per pass) and
/// 32-33 ms with 4096 (interleaved, load average 7.5), as fast as the column kernel.
pub const GEMV_TILE: usize = 4096;

/// The instruction set a matrix-vector product runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GemvIsa {
    /// 512-bit vectors (x86-64 with AVX-512F).
    Avx512,
    /// 256-bit vectors with fused multiply-add (x86-64 with AVX2 and FMA).
    Avx2Fma,
    /// Plain Rust, for any CPU (the compiler may vectorise it for the baseline ISA).
    Portable,
}

impl GemvIsa {
    /// The best instruction set this CPU has (detected once; later calls read a cache).
    pub fn detect() -> GemvIsa {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") {
                return GemvIsa::Avx512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return GemvIsa::Avx2Fma;
            }
        }
        GemvIsa::Portable
    }

    /// Every instruction set this CPU can run, best first (tests run each).
    pub fn available() -> Vec<GemvIsa> {
        let mut all = vec![GemvIsa::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                all.insert(0, GemvIsa::Avx2Fma);
            }
            if is_x86_feature_detected!("avx512f") {
                all.insert(0, GemvIsa::Avx512);
            }
        }
        all
    }
}

/// One matrix-vector product `y = alpha * x·B + beta * y`; strides in elements.
#[derive(Debug, Clone, Copy)]
pub struct Gemv {
    /// Length of `x`, rows of `B`.
    pub k: usize,
    /// Columns of `B`, length of `y`.
    pub n: usize,
    /// First element of `x`.
    pub x: *const f32,
    /// Stride of `x`.
    pub x_stride: usize,
    /// First element of `B`.
    pub b: *const f32,
    /// Row stride of `B`.
    pub b_row_stride: usize,
    /// Column stride of `B`.
    pub b_col_stride: usize,
    /// First element of `y`.
    pub y: *mut f32,
    /// Stride of `y`.
    pub y_stride: usize,
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of the old `y`; `0` means `y` is not read (it may hold NaN).
    pub beta: f32,
}

/// Which kernel a product's strides allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Rows of `B` contiguous.
    Rows,
    /// Columns of `B` and `x` contiguous.
    Cols,
    /// Anything else.
    Strided,
}

impl Gemv {
    /// The product an `sgemm` call with one row (`m == 1`) or one column (`n == 1`, as
    /// `Cᵀ = Bᵀ Aᵀ`) computes, or `None` for a call with more of both.
    pub fn of_sgemm(p: &SgemmArgs) -> Option<Gemv> {
        let scale = (p.alpha, p.beta);
        if p.m == 1 {
            Some(Gemv {
                k: p.k,
                n: p.n,
                x: p.a,
                x_stride: p.a_col_stride,
                b: p.b,
                b_row_stride: p.b_row_stride,
                b_col_stride: p.b_col_stride,
                y: p.c,
                y_stride: p.c_col_stride,
                alpha: scale.0,
                beta: scale.1,
            })
        } else if p.n == 1 {
            // Cᵀ (1 x m) = Bᵀ (1 x k) · Aᵀ (k x m): Aᵀ(l, i) = A(i, l).
            Some(Gemv {
                k: p.k,
                n: p.m,
                x: p.b,
                x_stride: p.b_row_stride,
                b: p.a,
                b_row_stride: p.a_col_stride,
                b_col_stride: p.a_row_stride,
                y: p.c,
                y_stride: p.c_row_stride,
                alpha: scale.0,
                beta: scale.1,
            })
        } else {
            None
        }
    }

    /// The part of this product that computes columns `j0..j1` of `y` (`j0 <= j1 <= n`).
    pub fn columns(&self, j0: usize, j1: usize) -> Gemv {
        debug_assert!(j0 <= j1 && j1 <= self.n);
        Gemv {
            n: j1 - j0,
            b: self.b.wrapping_add(j0 * self.b_col_stride),
            y: self.y.wrapping_add(j0 * self.y_stride),
            ..*self
        }
    }

    /// The part of this product over rows `l0..l1` of `B` (and elements `l0..l1` of `x`).
    pub fn rows(&self, l0: usize, l1: usize) -> Gemv {
        debug_assert!(l0 <= l1 && l1 <= self.k);
        Gemv {
            k: l1 - l0,
            x: self.x.wrapping_add(l0 * self.x_stride),
            b: self.b.wrapping_add(l0 * self.b_row_stride),
            ..*self
        }
    }

    /// Whether this product runs the row kernel (rows of `B` contiguous).
    pub fn has_contiguous_rows(&self) -> bool {
        self.layout() == Layout::Rows
    }

    fn layout(&self) -> Layout {
        // A stride of an axis of extent <= 1 is never used: any value will do.
        let unit = |stride: usize, extent: usize| stride == 1 || extent <= 1;
        if unit(self.b_col_stride, self.n) && self.n > 1 {
            Layout::Rows
        } else if unit(self.b_row_stride, self.k) && unit(self.x_stride, self.k) {
            Layout::Cols
        } else if unit(self.b_col_stride, self.n) {
            Layout::Rows
        } else {
            Layout::Strided
        }
    }

    /// Compute the product on `isa` (which the CPU must have: see [`GemvIsa::available`]);
    /// `k == 0` writes `beta * y`.
    ///
    /// # Safety
    /// - every element of `x` (`k` of them), of `B` (`k x n`) and of `y` (`n`) is in bounds
    ///   of one allocation, `x` and `B` readable, `y` writable (and readable when
    ///   `beta != 0`), and distinct elements of `y` have distinct addresses;
    /// - `y` overlaps neither `x` nor `B`, and no other thread accesses `y` meanwhile;
    /// - `isa` is one of [`GemvIsa::available`].
    pub unsafe fn run(&self, isa: GemvIsa) {
        if self.n == 0 {
            return;
        }
        let layout = self.layout();
        // SAFETY: forwarded caller contract; the kernel's layout matches the strides.
        unsafe {
            match (layout, isa) {
                (Layout::Rows, GemvIsa::Portable) => rows_portable(self),
                (Layout::Cols, GemvIsa::Portable) => cols_portable(self),
                (Layout::Rows, simd) => gemv_simd::rows(self, simd),
                (Layout::Cols, simd) => gemv_simd::cols(self, simd),
                (Layout::Strided, _) => strided(self),
            }
        }
    }

    /// Write `alpha * sum + beta * y[j]` to `y[j]` (`y[j]` unread when `beta == 0`).
    ///
    /// # Safety
    /// `j < n` and the caller of [`Gemv::run`] vouched for `y`.
    #[inline(always)]
    pub(super) unsafe fn write(&self, j: usize, sum: f32) {
        // SAFETY: the caller's contract.
        unsafe {
            let e = self.y.add(j * self.y_stride);
            *e = if self.beta == 0.0 {
                self.alpha * sum
            } else {
                self.alpha * sum + self.beta * *e
            };
        }
    }
}

/// `B` with contiguous rows, portable: column tiles of `y` accumulate row after row.
///
/// # Safety
/// As for [`Gemv::run`], with `B`'s column stride 1 (or `n == 1`).
unsafe fn rows_portable(g: &Gemv) {
    let mut tile = [MaybeUninit::<f32>::uninit(); GEMV_TILE];
    for j0 in (0..g.n).step_by(GEMV_TILE) {
        let width = GEMV_TILE.min(g.n - j0);
        for a in &mut tile[..width] {
            a.write(0.0);
        }
        // SAFETY: the first `width` elements were just initialised.
        let acc = unsafe { &mut *(&mut tile[..width] as *mut [MaybeUninit<f32>] as *mut [f32]) };
        for l in 0..g.k {
            // SAFETY: row `l`, columns `j0..j0 + width` of `B` and element `l` of `x` are
            // in bounds (the caller's contract); the column stride is 1.
            let (xl, row) = unsafe {
                (
                    *g.x.add(l * g.x_stride),
                    std::slice::from_raw_parts(g.b.add(l * g.b_row_stride + j0), width),
                )
            };
            for (a, &w) in acc.iter_mut().zip(row) {
                *a += xl * w;
            }
        }
        for (j, &sum) in acc.iter().enumerate() {
            // SAFETY: `j0 + j < n`.
            unsafe { g.write(j0 + j, sum) };
        }
    }
}

/// `B` with contiguous columns and `x` contiguous, portable: a dot product per column.
///
/// # Safety
/// As for [`Gemv::run`], with `B`'s row stride and `x`'s stride 1 (or `k <= 1`).
unsafe fn cols_portable(g: &Gemv) {
    // SAFETY: `x` holds `k` contiguous elements (the caller's contract).
    let x = unsafe { std::slice::from_raw_parts(g.x, g.k) };
    for j in 0..g.n {
        // SAFETY: column `j` of `B` holds `k` contiguous elements.
        let col = unsafe { std::slice::from_raw_parts(g.b.add(j * g.b_col_stride), g.k) };
        let sum = x.iter().zip(col).fold(0.0f32, |s, (&a, &b)| s + a * b);
        // SAFETY: `j < n`.
        unsafe { g.write(j, sum) };
    }
}

/// Any strides: a scalar dot product per element of `y`.
///
/// # Safety
/// As for [`Gemv::run`].
unsafe fn strided(g: &Gemv) {
    for j in 0..g.n {
        let mut sum = 0.0f32;
        for l in 0..g.k {
            // SAFETY: `(l, j)` of `B` and `l` of `x` are in bounds (the caller's contract).
            unsafe {
                sum += *g.x.add(l * g.x_stride) * *g.b.add(l * g.b_row_stride + j * g.b_col_stride);
            }
        }
        // SAFETY: `j < n`.
        unsafe { g.write(j, sum) };
    }
}

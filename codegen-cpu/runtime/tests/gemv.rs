//! The matrix-vector kernels (`sgemm` with one row, or one column) against the `gemm`
//! crate's general path (what `sgemm` ran for them before) and an f64 reference, on every
//! instruction set the CPU has: odd sizes around the vector widths and the row kernel's
//! tile, every stride layout (rows contiguous, columns contiguous, neither; padded `x` and
//! `y`), alpha and beta; `beta == 0` never reads `C`; NaN reaches exactly the outputs that
//! depend on it; large products split among threads (rows into fixed parts, or columns)
//! give the same bits on one thread as on two.
//!
//! Tolerance: a float32 dot product of length `k` has error at most `k * 2^-24 * Σ|x_l b_l|`
//! whatever the summation order; the tests allow twice that plus a small absolute term,
//! scaled by `|alpha|`, plus `2^-23 * |beta * c|` for the old value.

use kiln_cpu_runtime::contract::{Gemv, GemvIsa, MatMut, MatRef, SgemmArgs, sgemm, sgemm_raw};

/// Deterministic pseudo-random values in [-1, 1).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// How `B` (`k x n`) is stored: `(row stride, column stride, elements to allocate)`.
#[derive(Debug, Clone, Copy)]
enum Storage {
    /// Row-major with 3 elements of padding per row (`x·W`, Dense's forward).
    Rows,
    /// Column-major with 2 of padding per column (`x·Wᵀ`, Dense's input gradient).
    Cols,
    /// Neither stride 1: row-major with every other element used.
    Strided,
}

impl Storage {
    fn strides(self, k: usize, n: usize) -> (usize, usize, usize) {
        match self {
            Storage::Rows => (n + 3, 1, k * (n + 3)),
            Storage::Cols => (1, k + 2, n * (k + 2)),
            Storage::Strided => (2 * n + 1, 2, k * (2 * n + 1)),
        }
    }
}

/// One `1 x k` by `k x n` product with its strides and scales.
#[derive(Debug, Clone, Copy)]
struct Case {
    k: usize,
    n: usize,
    storage: Storage,
    x_stride: usize,
    y_stride: usize,
    alpha: f32,
    beta: f32,
}

/// The operands of a case: `x`, `B` and the old `C` (guard values between strided
/// elements).
struct Operands {
    x: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    b_strides: (usize, usize),
}

impl Case {
    fn operands(&self, seed: u64) -> Operands {
        let (rs, cs, len) = self.storage.strides(self.k, self.n);
        Operands {
            x: values((self.k.max(1) - 1) * self.x_stride + 1, seed),
            b: values(len.max(1), seed + 1),
            c: values((self.n - 1) * self.y_stride + 1, seed + 2),
            b_strides: (rs, cs),
        }
    }

    /// `sgemm` arguments for one row: `A` is `x` as a `1 x k` matrix.
    fn args(&self, o: &Operands, c: &mut [f32], threads: usize) -> SgemmArgs {
        SgemmArgs {
            m: 1,
            n: self.n,
            k: self.k,
            a: o.x.as_ptr(),
            a_row_stride: 7_000_003,
            a_col_stride: self.x_stride,
            b: o.b.as_ptr(),
            b_row_stride: o.b_strides.0,
            b_col_stride: o.b_strides.1,
            c: c.as_mut_ptr(),
            c_row_stride: 5_000_011,
            c_col_stride: self.y_stride,
            alpha: self.alpha,
            beta: self.beta,
            threads,
        }
    }

    /// `(value, bound)` per output: the f64 reference and the allowed error.
    fn reference(&self, o: &Operands) -> Vec<(f64, f64)> {
        let (rs, cs) = o.b_strides;
        (0..self.n)
            .map(|j| {
                let terms = (0..self.k)
                    .map(|l| o.x[l * self.x_stride] as f64 * o.b[l * rs + j * cs] as f64);
                let (dot, abs) = terms.fold((0.0, 0.0), |(s, a), t| (s + t, a + t.abs()));
                let old = if self.beta == 0.0 {
                    0.0
                } else {
                    self.beta as f64 * o.c[j * self.y_stride] as f64
                };
                let eps = f32::EPSILON as f64 / 2.0;
                let bound = (self.alpha as f64).abs() * (2.0 * self.k as f64 * eps * abs + 1e-6)
                    + 2.0 * eps * old.abs()
                    + 2.0 * eps * (self.alpha as f64 * dot).abs();
                (self.alpha as f64 * dot + old, bound)
            })
            .collect()
    }
}

/// The `gemm` crate's general path on the same arguments (as `sgemm` called it).
fn gemm_crate(p: &SgemmArgs) {
    // SAFETY: the arguments describe in-bounds views of the test's vectors.
    unsafe {
        gemm::gemm(
            p.m,
            p.n,
            p.k,
            p.c,
            p.c_col_stride as isize,
            p.c_row_stride as isize,
            p.beta != 0.0,
            p.a,
            p.a_col_stride as isize,
            p.a_row_stride as isize,
            p.b,
            p.b_col_stride as isize,
            p.b_row_stride as isize,
            p.beta,
            p.alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// Run `case` through the matrix-vector kernel on `isa` and through the `gemm` crate;
/// both within the bound of the reference, and the guard values between strided `y`
/// elements untouched.
fn check(case: Case, isa: GemvIsa, seed: u64) {
    let o = case.operands(seed);
    let want = case.reference(&o);
    let (mut got, mut old) = (o.c.clone(), o.c.clone());
    let gemv = Gemv::of_sgemm(&case.args(&o, &mut got, 1)).expect("one row");
    // SAFETY: the views are in bounds of the operands; `isa` is available.
    unsafe { gemv.run(isa) };
    gemm_crate(&case.args(&o, &mut old, 1));
    for (j, &(w, bound)) in want.iter().enumerate() {
        let (g, r) = (got[j * case.y_stride] as f64, old[j * case.y_stride] as f64);
        let what = format!("{case:?} on {isa:?}, element {j}");
        assert!(
            (g - w).abs() <= bound,
            "{what}: got {g}, want {w} ± {bound}"
        );
        assert!(
            (r - w).abs() <= bound,
            "{what}: gemm crate {r}, want {w} ± {bound}"
        );
    }
    for (i, (&g, &c)) in got.iter().zip(&o.c).enumerate() {
        if i % case.y_stride != 0 {
            assert_eq!(g.to_bits(), c.to_bits(), "{case:?}: guard {i} written");
        }
    }
}

/// Sizes around 8 and 16 lanes, the 8-row blocks, the register kernels' widths (96 and 384
/// columns), the 4096-column tile, and Dense shapes.
const SIZES: &[(usize, usize)] = &[
    (1, 1),
    (1, 17),
    (2, 1),
    (3, 7),
    (4, 8),
    (5, 9),
    (7, 15),
    (16, 16),
    (17, 33),
    (31, 47),
    (33, 1),
    (64, 100),
    (100, 10),
    (300, 100),
    (6, 1030),
    (3, 2049),
    (9, 4103),
    (4, 96),
    (4, 97),
    (5, 384),
    (5, 385),
    (130, 3),
];

#[test]
fn every_layout_size_and_scale_matches_the_gemm_crate_and_the_reference() {
    let mut seed = 1;
    for isa in GemvIsa::available() {
        for &(k, n) in SIZES {
            for storage in [Storage::Rows, Storage::Cols, Storage::Strided] {
                for (x_stride, y_stride, alpha, beta) in [
                    (1, 1, 1.0, 0.0),
                    (3, 2, -0.5, 0.75),
                    (1, 3, 2.0, 1.0),
                    (2, 1, 1.0, -1.0),
                ] {
                    let case = Case {
                        k,
                        n,
                        storage,
                        x_stride,
                        y_stride,
                        alpha,
                        beta,
                    };
                    check(case, isa, seed);
                    seed += 3;
                }
            }
        }
    }
}

#[test]
fn a_large_dense_layer_matches_on_every_isa() {
    for isa in GemvIsa::available() {
        for storage in [Storage::Rows, Storage::Cols] {
            let case = Case {
                k: 784,
                n: 300,
                storage,
                x_stride: 1,
                y_stride: 1,
                alpha: 1.0,
                beta: 0.0,
            };
            check(case, isa, 99);
        }
    }
}

#[test]
fn beta_zero_never_reads_c() {
    for isa in GemvIsa::available() {
        for storage in [Storage::Rows, Storage::Cols, Storage::Strided] {
            let case = Case {
                k: 37,
                n: 45,
                storage,
                x_stride: 1,
                y_stride: 1,
                alpha: 1.0,
                beta: 0.0,
            };
            let o = case.operands(5);
            let mut c = vec![f32::NAN; case.n];
            let gemv = Gemv::of_sgemm(&case.args(&o, &mut c, 1)).expect("one row");
            // SAFETY: in-bounds views; `isa` is available.
            unsafe { gemv.run(isa) };
            assert!(
                c.iter().all(|v| v.is_finite()),
                "{isa:?} {storage:?}: {c:?}"
            );
        }
    }
}

#[test]
fn nan_reaches_exactly_the_outputs_that_depend_on_it() {
    let (k, n) = (21, 35);
    for isa in GemvIsa::available() {
        for storage in [Storage::Rows, Storage::Cols, Storage::Strided] {
            let case = Case {
                k,
                n,
                storage,
                x_stride: 1,
                y_stride: 1,
                alpha: 1.0,
                beta: 0.0,
            };
            let run = |o: &Operands| {
                let mut c = vec![0.0; n];
                let gemv = Gemv::of_sgemm(&case.args(o, &mut c, 1)).expect("one row");
                // SAFETY: in-bounds views; `isa` is available.
                unsafe { gemv.run(isa) };
                c
            };
            // A NaN in B at (l, j) reaches output j only.
            let mut o = case.operands(11);
            let (rs, cs) = o.b_strides;
            o.b[19 * rs + 33 * cs] = f32::NAN;
            let c = run(&o);
            for (j, v) in c.iter().enumerate() {
                assert_eq!(
                    v.is_nan(),
                    j == 33,
                    "{isa:?} {storage:?}: B NaN, output {j} = {v}"
                );
            }
            // A NaN in x reaches every output, even through zero weights.
            let mut o = case.operands(12);
            o.x[k - 1] = f32::NAN;
            for j in 0..n {
                o.b[(k - 1) * rs + j * cs] = 0.0;
            }
            assert!(
                run(&o).iter().all(|v| v.is_nan()),
                "{isa:?} {storage:?}: x NaN"
            );
        }
    }
}

#[test]
fn a_single_column_product_runs_as_its_transpose() {
    // C (m x 1) = A (m x k) · b (k x 1): A row-major (the dot kernel) and column-major.
    let (m, k) = (37, 53);
    for a_row_major in [true, false] {
        let a = values(m * k, 3);
        let b = values(k, 4);
        let mut c = vec![0.0; m];
        let (rs, cs) = if a_row_major { (k, 1) } else { (1, m) };
        sgemm(
            1.0,
            MatRef {
                data: &a,
                rows: m,
                cols: k,
                row_stride: rs,
                col_stride: cs,
            },
            MatRef {
                data: &b,
                rows: k,
                cols: 1,
                row_stride: 1,
                col_stride: 1,
            },
            0.0,
            MatMut {
                data: &mut c,
                rows: m,
                cols: 1,
                row_stride: 1,
                col_stride: 1,
            },
            1,
        )
        .unwrap();
        for (i, &got) in c.iter().enumerate() {
            let want: f64 = (0..k)
                .map(|l| a[i * rs + l * cs] as f64 * b[l] as f64)
                .sum();
            assert!(
                (got as f64 - want).abs() <= 1e-5,
                "row {i}: got {got}, want {want}"
            );
        }
    }
}

/// Run `case` through `sgemm_raw` on `threads` threads; the output row.
fn through_sgemm(case: Case, o: &Operands, threads: usize) -> Vec<f32> {
    let mut c = o.c.clone();
    // SAFETY: in-bounds views of the operands.
    unsafe { sgemm_raw(&case.args(o, &mut c, threads)) };
    c
}

#[test]
fn large_products_split_without_the_thread_count_changing_a_bit() {
    // Both above the split threshold (2 MFLOP): 3000 rows of row-contiguous weights split
    // into two row parts (partial sums), 600 rows too few for two (split by columns), and
    // column-contiguous weights split by columns.
    for (k, n) in [(3000, 1500), (600, 4000)] {
        for storage in [Storage::Rows, Storage::Cols] {
            for (alpha, beta) in [(1.0, 0.0), (-0.5, 0.75)] {
                let case = Case {
                    k,
                    n,
                    storage,
                    x_stride: 1,
                    y_stride: 1,
                    alpha,
                    beta,
                };
                let o = case.operands(21);
                let one = through_sgemm(case, &o, 1);
                let two = through_sgemm(case, &o, 2);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&one), bits(&two), "{case:?}");
                for (j, &(want, bound)) in case.reference(&o).iter().enumerate() {
                    let got = one[j] as f64;
                    assert!(
                        (got - want).abs() <= bound,
                        "{case:?} element {j}: {got} vs {want}"
                    );
                }
            }
            // A NaN in the last rows reaches its column only; beta = 0 ignores a NaN C.
            let case = Case {
                k,
                n,
                storage,
                x_stride: 1,
                y_stride: 1,
                alpha: 1.0,
                beta: 0.0,
            };
            let mut o = case.operands(22);
            let (rs, cs) = o.b_strides;
            o.b[(k - 5) * rs + 7 * cs] = f32::NAN;
            o.c.fill(f32::NAN);
            let got = through_sgemm(case, &o, 2);
            for (j, v) in got.iter().enumerate() {
                assert_eq!(v.is_nan(), j == 7, "{case:?}: output {j} = {v}");
            }
        }
    }
}

#[test]
fn register_and_tile_kernels_give_the_same_bits() {
    // 400 columns run the stack-tile kernel (on AVX-512 and AVX2), parts of 50 columns the
    // register kernel.
    let case = Case {
        k: 77,
        n: 400,
        storage: Storage::Rows,
        x_stride: 1,
        y_stride: 1,
        alpha: 1.0,
        beta: 0.0,
    };
    for isa in GemvIsa::available() {
        let o = case.operands(31);
        let (mut whole, mut parts) = (o.c.clone(), o.c.clone());
        let gemv = Gemv::of_sgemm(&case.args(&o, &mut whole, 1)).expect("one row");
        let split = Gemv::of_sgemm(&case.args(&o, &mut parts, 1)).expect("one row");
        // SAFETY: in-bounds views; the parts cover disjoint columns; `isa` is available.
        unsafe {
            gemv.run(isa);
            for j0 in (0..400).step_by(50) {
                split.columns(j0, j0 + 50).run(isa);
            }
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&whole), bits(&parts), "{isa:?}");
    }
}

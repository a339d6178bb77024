//! `sgemm` against a naive triple loop over a table of shapes, transposes, betas and
//! thread counts; plus the checked wrapper's refusals and the C-ABI entry point.

use codegen_cpu::contract::{ContractError, MatMut, MatRef, SgemmArgs, kiln_sgemm, sgemm, symbols};

/// Deterministic pseudo-random values in [-1, 1).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Element `(i, j)` of a strided view.
fn at(v: &MatRef<'_>, i: usize, j: usize) -> f32 {
    v.data[i * v.row_stride + j * v.col_stride]
}

/// Naive `C = alpha*A*B + beta*C` into a row-major result (f64 accumulation).
fn reference(alpha: f32, a: &MatRef<'_>, b: &MatRef<'_>, beta: f32, c: &MatRef<'_>) -> Vec<f32> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let dot: f64 = (0..k)
                .map(|p| at(a, i, p) as f64 * at(b, p, j) as f64)
                .sum();
            let old = if beta == 0.0 {
                0.0
            } else {
                beta as f64 * at(c, i, j) as f64
            };
            out[i * n + j] = (alpha as f64 * dot + old) as f32;
        }
    }
    out
}

/// Tolerance: relative 1e-4 scaled by the contracted length.
fn assert_close(got: &[f32], want: &[f32], k: usize, what: &str) {
    let tol = 1e-4 * (k.max(1) as f32);
    for (idx, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}: element {idx}: got {g}, want {w} (tol {tol})"
        );
    }
}

/// A stored `rows x cols` matrix: row-major, or column-major when `transposed` (so the
/// kernel sees it through swapped strides), with a padded leading dimension.
fn stored(data: &[f32], rows: usize, cols: usize, transposed: bool) -> MatRef<'_> {
    if transposed {
        MatRef {
            data,
            rows,
            cols,
            row_stride: 1,
            col_stride: rows + 3,
        }
    } else {
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols + 2,
            col_stride: 1,
        }
    }
}

const SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (1, 7, 1),
    (7, 1, 7),
    (7, 7, 7),
    (1, 33, 7),
    (33, 7, 33),
    (33, 33, 33),
    (17, 1, 64),
    (64, 64, 0),
    (100, 784, 300),
];

#[test]
fn sgemm_matches_naive_over_shapes_transposes_betas_threads() {
    for &(m, k, n) in SHAPES {
        let big = m * n * k >= 1 << 20;
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for beta in [0.0f32, 1.0] {
                for threads in [1usize, 2] {
                    if big && (ta || tb) && threads == 1 {
                        continue; // the big shape's transposes run on 2 threads only, to keep the test fast
                    }
                    let a_data = values((m + 3) * (k + 3), (m * 31 + k) as u64);
                    let b_data = values((k + 3) * (n + 3), (k * 17 + n) as u64);
                    let a = stored(&a_data, m, k, ta);
                    let b = stored(&b_data, k, n, tb);
                    // C with a padded row stride; NaN start when beta = 0 checks it is not read.
                    let c_rs = n + 1;
                    let init = if beta == 0.0 {
                        vec![f32::NAN; m * c_rs]
                    } else {
                        values(m * c_rs, 99)
                    };
                    let want = reference(
                        0.5,
                        &a,
                        &b,
                        beta,
                        &MatRef {
                            data: &init,
                            rows: m,
                            cols: n,
                            row_stride: c_rs,
                            col_stride: 1,
                        },
                    );
                    let mut c_data = init.clone();
                    let c = MatMut {
                        data: &mut c_data,
                        rows: m,
                        cols: n,
                        row_stride: c_rs,
                        col_stride: 1,
                    };
                    sgemm(0.5, a, b, beta, c, threads).unwrap();
                    let got: Vec<f32> = (0..m)
                        .flat_map(|i| c_data[i * c_rs..i * c_rs + n].to_vec())
                        .collect();
                    assert_close(
                        &got,
                        &want,
                        k,
                        &format!("m={m} k={k} n={n} ta={ta} tb={tb} beta={beta} threads={threads}"),
                    );
                }
            }
        }
    }
}

#[test]
fn sgemm_writes_column_major_output() {
    let (m, k, n) = (9, 5, 11);
    let (a_data, b_data) = (values(m * k, 1), values(k * n, 2));
    let (a, b) = (
        MatRef::row_major(&a_data, m, k),
        MatRef::row_major(&b_data, k, n),
    );
    let want = reference(1.0, &a, &b, 0.0, &a);
    let mut c_data = vec![0.0; m * n];
    sgemm(1.0, a, b, 0.0, MatMut::row_major(&mut c_data, n, m).t(), 1).unwrap();
    let got: Vec<f32> = (0..m * n)
        .map(|idx| c_data[(idx % n) * m + idx / n])
        .collect();
    assert_close(&got, &want, k, "column-major C");
}

#[test]
fn sgemm_rejects_bad_operands() {
    let (a, b) = (vec![1.0; 6], vec![1.0; 6]);
    let mut c = vec![0.0; 4];
    let err = sgemm(
        1.0,
        MatRef::row_major(&a, 2, 3),
        MatRef::row_major(&b[..5], 3, 2),
        0.0,
        MatMut::row_major(&mut c, 2, 2),
        1,
    );
    assert_eq!(
        err,
        Err(ContractError::OperandTooShort {
            operand: "b",
            needed: 6,
            len: 5
        })
    );
    let err = sgemm(
        1.0,
        MatRef::row_major(&a, 2, 3),
        MatRef::row_major(&b, 2, 3),
        0.0,
        MatMut::row_major(&mut c, 2, 2),
        1,
    );
    assert!(
        matches!(err, Err(ContractError::InvalidGeometry(_))),
        "{err:?}"
    );
    let overlapping = MatMut {
        data: &mut c,
        rows: 2,
        cols: 2,
        row_stride: 1,
        col_stride: 1,
    };
    let err = sgemm(
        1.0,
        MatRef::row_major(&a, 2, 3),
        MatRef::row_major(&b, 3, 2),
        0.0,
        overlapping,
        1,
    );
    assert!(
        matches!(
            err,
            Err(ContractError::SelfOverlappingOutput { operand: "c", .. })
        ),
        "{err:?}"
    );
    assert_eq!(c, vec![0.0; 4], "a refused call must not write");
}

#[test]
fn c_abi_entry_point_computes_the_product() {
    let (m, k, n) = (3, 4, 5);
    let (a, b) = (values(m * k, 5), values(k * n, 6));
    let mut c = vec![0.0f32; m * n];
    let args = SgemmArgs {
        m,
        n,
        k,
        a: a.as_ptr(),
        a_row_stride: k,
        a_col_stride: 1,
        b: b.as_ptr(),
        b_row_stride: n,
        b_col_stride: 1,
        c: c.as_mut_ptr(),
        c_row_stride: n,
        c_col_stride: 1,
        alpha: 1.0,
        beta: 0.0,
        threads: 1,
    };
    // SAFETY: all three buffers hold exactly the dense matrices the strides describe.
    unsafe { kiln_sgemm(&args) };
    let want = reference(
        1.0,
        &MatRef::row_major(&a, m, k),
        &MatRef::row_major(&b, k, n),
        0.0,
        &MatRef::row_major(&a, m, k),
    );
    assert_close(&c, &want, k, "kiln_sgemm");
    let names: Vec<&str> = symbols().iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "kiln_sgemm",
            "kiln_conv2d",
            "kiln_conv2d_backprop_input",
            "kiln_conv2d_backprop_filter",
            "kiln_depthwise_conv2d",
            "kiln_depthwise_conv2d_backprop_input",
            "kiln_depthwise_conv2d_backprop_filter",
        ]
    );
    assert!(symbols().iter().all(|(_, addr)| !addr.is_null()));
}

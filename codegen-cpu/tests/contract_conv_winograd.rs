//! Winograd F(4×4, 3×3) convolution (forward and input gradient) against f64 direct loops
//! over odd sizes (images smaller than a tile, sizes that are not multiples of 4, odd
//! channel counts, channel counts that need padded filter panels, batches, valid, same and
//! explicit padding, enough tiles for several work items), on one and two threads, with
//! the host's fast product kernels and the portable ones; NaN propagation; the automatic
//! choice; refusals; and a compiled graph whose convolutions take the Winograd path.
//!
//! **Error bound.** Let `S_o = Σ |x|·|w|` over the products that form output `o` (in
//! f64), and `T_o` the largest `S` among the outputs of `o`'s tile (the 4×4 pixels of one
//! image and channel that Winograd computes together). Winograd's result satisfies
//! `|ŷ_o − y_o| ≤ BOUND · T_o`, `BOUND = 2^-16 ≈ 1.5e-5` (128 f32 epsilons), for inputs
//! whose magnitudes are comparable within a 6×6 patch (tested: uniform in [-1, 1]).
//! Measured: the worst ratio over these cases is 2^-18.9 (and 2^-19.6 to 2^-20.3 for 256
//! and 512 input channels); im2col's is about 2^-24.5. A transform coefficient off by
//! 0.025% fails it (measured: 6.4e-4). `T_o` rather than `S_o` because the transforms mix
//! a patch's 36 values (coefficients up to 8) and cancel: an output that reads only
//! padding is rounding noise of its tile's other outputs, not 0. For the same reason a
//! patch holding values far larger than those an output reads can exceed the bound.

use codegen_cpu::compile;
use codegen_cpu::contract::{ContractError, Conv2dGeometry, ConvAlgorithm, ConvPass, conv2d_using};
use ir::{Conv2dAttrs, FusedOp, Graph, Instr, MemoryPlan, Op, Padding, Program, Shape, UnaryOp};

/// The stated bound, relative to `T_o` (see the file's doc).
const BOUND: f64 = 1.0 / 65536.0;

/// Deterministic pseudo-random values in [-1, 1).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(2862933555777941757)
        .wrapping_add(3037000493);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn geometry(input: [usize; 4], out_c: usize, padding: Padding) -> Conv2dGeometry {
    let attrs = Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding,
    };
    Conv2dGeometry::resolve(input, [3, 3, input[3], out_c], &attrs).unwrap()
}

/// Calls `f(x_index, w_index, y_index)` for every product of the convolution.
fn for_each_product(g: &Conv2dGeometry, mut f: impl FnMut(usize, usize, usize)) {
    for n in 0..g.batch {
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                for kh in 0..3 {
                    for kw in 0..3 {
                        let ih = (oh + kh) as isize - g.pad_top as isize;
                        let iw = (ow + kw) as isize - g.pad_left as isize;
                        if ih < 0 || iw < 0 || ih >= g.in_h as isize || iw >= g.in_w as isize {
                            continue;
                        }
                        let x = ((n * g.in_h + ih as usize) * g.in_w + iw as usize) * g.in_c;
                        let y = ((n * g.out_h + oh) * g.out_w + ow) * g.out_c;
                        for ci in 0..g.in_c {
                            let w = ((kh * 3 + kw) * g.in_c + ci) * g.out_c;
                            for co in 0..g.out_c {
                                f(x + ci, w + co, y + co);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The exact result of `pass` (f64) and, per element, `S = Σ |a|·|b|` of its products.
fn reference(g: &Conv2dGeometry, pass: ConvPass, src: &[f32], w: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let sizes = g.sizes().unwrap();
    let len = if pass == ConvPass::Forward {
        sizes.y
    } else {
        sizes.x
    };
    let (mut exact, mut abs) = (vec![0.0; len], vec![0.0; len]);
    for_each_product(g, |xi, wi, yi| {
        let (read, written) = if pass == ConvPass::Forward {
            (xi, yi)
        } else {
            (yi, xi)
        };
        let p = src[read] as f64 * w[wi] as f64;
        exact[written] += p;
        abs[written] += p.abs();
    });
    (exact, abs)
}

/// Runs `pass` with `algorithm` on `threads` threads (scratch for all of them).
fn run(
    g: &Conv2dGeometry,
    algorithm: ConvAlgorithm,
    pass: ConvPass,
    src: &[f32],
    w: &[f32],
    threads: usize,
) -> Result<Vec<f32>, ContractError> {
    let sizes = g.sizes().unwrap();
    let len = if pass == ConvPass::Forward {
        sizes.y
    } else {
        sizes.x
    };
    let mut out = vec![f32::NAN; len];
    let mut scratch = vec![f32::NAN; g.scratch_len_for(threads)];
    conv2d_using(
        algorithm,
        pass,
        g,
        [src, w],
        &mut out,
        &mut scratch,
        threads,
    )?;
    Ok(out)
}

/// `T_o`: the largest `S` among the outputs of `o`'s tile (the 4×4 block of pixels of the
/// same image and channel that Winograd computes together). `dims` is the result's NHWC shape.
fn tile_max(abs: &[f64], dims: [usize; 4]) -> Vec<f64> {
    let [n, h, w, c] = dims;
    let (th, tw) = (h.div_ceil(4), w.div_ceil(4));
    let key = |i: usize| {
        let (pixel, ch) = (i / c, i % c);
        let (img, rest) = (pixel / (h * w), pixel % (h * w));
        ((img * th + rest / w / 4) * tw + rest % w / 4) * c + ch
    };
    let mut most = vec![0.0f64; n * th * tw * c];
    for (i, &s) in abs.iter().enumerate() {
        most[key(i)] = most[key(i)].max(s);
    }
    (0..abs.len()).map(|i| most[key(i)]).collect()
}

/// The worst `|got − exact| / T` (0 where `T` is 0, which needs `got == 0`).
fn worst_ratio(got: &[f32], exact: &[f64], scale: &[f64], what: &str) -> f64 {
    let mut worst: f64 = 0.0;
    for (i, ((&got, &want), &t)) in got.iter().zip(exact).zip(scale).enumerate() {
        let err = (got as f64 - want).abs();
        assert!(
            err.is_finite(),
            "{what}: element {i}: got {got}, want {want}"
        );
        if t == 0.0 {
            assert_eq!(got, 0.0, "{what}: element {i}: its tile has no products");
        } else {
            worst = worst.max(err / t);
        }
    }
    worst
}

/// The result's NHWC shape for `pass`.
fn result_dims(g: &Conv2dGeometry, pass: ConvPass) -> [usize; 4] {
    match pass {
        ConvPass::Forward => [g.batch, g.out_h, g.out_w, g.out_c],
        _ => [g.batch, g.in_h, g.in_w, g.in_c],
    }
}

/// (input NHWC, output channels, padding)
fn cases() -> Vec<([usize; 4], usize, Padding)> {
    vec![
        ([1, 1, 1, 5], 7, Padding::Same),
        ([2, 2, 3, 3], 4, Padding::Same),
        ([1, 3, 3, 16], 16, Padding::Valid),
        ([2, 9, 6, 17], 33, Padding::Same),
        ([1, 13, 11, 7], 64, Padding::Valid),
        ([3, 7, 10, 32], 70, Padding::Explicit([2, 0, 1, 3])),
        ([1, 6, 9, 40], 5, Padding::Explicit([0, 2, 2, 1])),
        // 121 tiles: two tile blocks.
        ([1, 41, 43, 5], 6, Padding::Same),
        // 130 output channels in 32-wide panels, cut into one-panel items.
        ([1, 5, 5, 9], 130, Padding::Same),
    ]
}

#[test]
fn winograd_matches_direct_loops_within_the_stated_bound() {
    for (case, (input, out_c, padding)) in cases().into_iter().enumerate() {
        let g = geometry(input, out_c, padding);
        let sizes = g.sizes().unwrap();
        let w = values(sizes.w, 100 + case as u64);
        for pass in [ConvPass::Forward, ConvPass::BackpropInput] {
            let src_len = if pass == ConvPass::Forward {
                sizes.x
            } else {
                sizes.y
            };
            let src = values(src_len, case as u64);
            let (exact, abs) = reference(&g, pass, &src, &w);
            let scale = tile_max(&abs, result_dims(&g, pass));
            for algorithm in [ConvAlgorithm::Winograd, ConvAlgorithm::WinogradPortable] {
                for threads in [1, 2] {
                    let what =
                        format!("case {case} {pass:?} {algorithm:?} threads={threads}: {g:?}");
                    let got = run(&g, algorithm, pass, &src, &w, threads).unwrap();
                    let worst = worst_ratio(&got, &exact, &scale, &what);
                    assert!(worst <= BOUND, "{what}: worst error {worst:e} x T_o");
                }
            }
        }
    }
}

/// Puts a NaN at source element `at` and checks: every result element that reads it is
/// NaN, every NaN lies in a tile whose 6×6 patch holds it, and the rest is within bound.
fn check_nan_spread(g: &Conv2dGeometry, pass: ConvPass, at: [usize; 4], algorithm: ConvAlgorithm) {
    let sizes = g.sizes().unwrap();
    let w = values(sizes.w, 7);
    let (src_len, src_dims) = match pass {
        ConvPass::Forward => (sizes.x, [g.batch, g.in_h, g.in_w, g.in_c]),
        _ => (sizes.y, [g.batch, g.out_h, g.out_w, g.out_c]),
    };
    let mut src = values(src_len, 8);
    let index = ((at[0] * src_dims[1] + at[1]) * src_dims[2] + at[2]) * src_dims[3] + at[3];
    src[index] = 0.0;
    let (exact, abs) = reference(g, pass, &src, &w);
    let scale = tile_max(&abs, result_dims(g, pass));
    src[index] = f32::NAN;
    let got = run(g, algorithm, pass, &src, &w, 2).unwrap();
    let [_, h, wd, c] = result_dims(g, pass);
    // Source row read by result row `r` through tap `k`: `r + k - pad`, with the
    // complementary padding for the input gradient.
    let pad = |p: usize| {
        if pass == ConvPass::Forward {
            p as isize
        } else {
            2 - p as isize
        }
    };
    let (pad_h, pad_w) = (pad(g.pad_top), pad(g.pad_left));
    let reads = |r: usize, pad: isize, s: usize| (0..3).any(|k| r as isize + k - pad == s as isize);
    let in_patch = |r: usize, pad: isize, s: usize| {
        let first = (r / 4 * 4) as isize - pad;
        (first..first + 6).contains(&(s as isize))
    };
    for (i, &value) in got.iter().enumerate() {
        let (pixel, _) = (i / c, i % c);
        let (image, oh, ow) = (pixel / (h * wd), pixel / wd % h, pixel % wd);
        let same_image = image == at[0];
        let what = format!("{pass:?} {algorithm:?} NaN at {at:?}: result {i} ({oh}, {ow})");
        if same_image && reads(oh, pad_h, at[1]) && reads(ow, pad_w, at[2]) {
            assert!(value.is_nan(), "{what} reads it but is {value}");
        } else if value.is_nan() {
            assert!(
                same_image && in_patch(oh, pad_h, at[1]) && in_patch(ow, pad_w, at[2]),
                "{what}"
            );
        } else {
            let err = (value as f64 - exact[i]).abs();
            assert!(err <= BOUND * scale[i], "{what}: {value} vs {}", exact[i]);
        }
    }
}

#[test]
fn a_nan_reaches_every_output_that_reads_it_and_stays_in_its_tiles() {
    let g = geometry([2, 10, 9, 17], 20, Padding::Same);
    for algorithm in [ConvAlgorithm::Winograd, ConvAlgorithm::WinogradPortable] {
        for at in [[1, 5, 4, 3], [0, 0, 0, 0], [1, 9, 8, 16], [0, 4, 3, 7]] {
            check_nan_spread(&g, ConvPass::Forward, at, algorithm);
        }
        for at in [[1, 5, 4, 19], [0, 0, 8, 0], [1, 9, 0, 11]] {
            check_nan_spread(&g, ConvPass::BackpropInput, at, algorithm);
        }
    }
}

#[test]
fn automatic_choice_takes_winograd_where_it_gains_on_avx512_hosts() {
    let fast = cfg!(target_arch = "x86_64") && std::arch::is_x86_feature_detected!("avx512f");
    // Per geometry, whether (forward, input gradient) take Winograd on an AVX-512 host: it
    // needs 2 or more result channels and 144 or more result pixels, and no minimum of
    // input channels (MNIST's first layer has one).
    let cases = [
        (geometry([2, 12, 9, 3], 24, Padding::Same), [true, true]),
        (geometry([2, 12, 9, 1], 24, Padding::Same), [true, false]),
        (geometry([2, 12, 9, 16], 1, Padding::Same), [false, true]),
        (geometry([2, 5, 7, 16], 24, Padding::Same), [false, false]),
    ];
    for (g, winograd) in &cases {
        let sizes = g.sizes().unwrap();
        let w = values(sizes.w, 3);
        for (pass, winograd) in [ConvPass::Forward, ConvPass::BackpropInput]
            .into_iter()
            .zip(winograd)
        {
            let src = values(
                if pass == ConvPass::Forward {
                    sizes.x
                } else {
                    sizes.y
                },
                4,
            );
            let auto = run(g, ConvAlgorithm::Auto, pass, &src, &w, 2).unwrap();
            let expected = if *winograd && fast {
                ConvAlgorithm::Winograd
            } else {
                ConvAlgorithm::Im2col
            };
            let want = run(g, expected, pass, &src, &w, 2).unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&auto),
                bits(&want),
                "{pass:?} of {g:?} should run {expected:?}"
            );
        }
    }
}

#[test]
fn winograd_refuses_what_it_cannot_run_and_short_scratch() {
    let strided = Conv2dGeometry::resolve(
        [1, 8, 8, 4],
        [3, 3, 4, 4],
        &Conv2dAttrs {
            strides: [2, 2],
            dilation: [1, 1],
            padding: Padding::Same,
        },
    )
    .unwrap();
    let g = geometry([1, 8, 8, 4], 4, Padding::Same);
    let sizes = g.sizes().unwrap();
    let (x, w) = (values(sizes.x, 1), values(sizes.w, 2));
    for (geom, pass) in [
        (&strided, ConvPass::Forward),
        (&g, ConvPass::BackpropFilter),
    ] {
        // Every operand long enough for any pass of these geometries.
        let (a, b, mut out) = (values(1 << 10, 5), values(1 << 10, 6), vec![0.0; 1 << 10]);
        let mut scratch = vec![0.0; geom.scratch_len_for(2)];
        let err = conv2d_using(
            ConvAlgorithm::Winograd,
            pass,
            geom,
            [&a, &b],
            &mut out,
            &mut scratch,
            2,
        );
        assert!(
            matches!(err, Err(ContractError::InvalidGeometry(_))),
            "{pass:?}: {err:?}"
        );
        assert!(
            out.iter().all(|&v| v == 0.0),
            "refused calls must not write"
        );
    }
    // One worker's scratch is the minimum; more threads want more.
    assert!(g.scratch_len_for(2) > g.scratch_len());
    let mut y = vec![0.0; sizes.y];
    let mut short = vec![0.0; g.scratch_len() - 1];
    let err = conv2d_using(
        ConvAlgorithm::Winograd,
        ConvPass::Forward,
        &g,
        [&x, &w],
        &mut y,
        &mut short,
        2,
    );
    assert!(
        matches!(
            err,
            Err(ContractError::OperandTooShort {
                operand: "scratch",
                ..
            })
        ),
        "{err:?}"
    );
    // The minimum runs (on one worker) and gives the same bits as room for two.
    let mut one = vec![0.0; g.scratch_len()];
    conv2d_using(
        ConvAlgorithm::Winograd,
        ConvPass::Forward,
        &g,
        [&x, &w],
        &mut y,
        &mut one,
        2,
    )
    .unwrap();
    let two = run(&g, ConvAlgorithm::Winograd, ConvPass::Forward, &x, &w, 2).unwrap();
    assert_eq!(y, two);
}

/// A compiled graph: a convolution that the automatic choice sends to Winograd (on AVX-512
/// hosts), its input gradient, and the convolution with a fused tanh epilogue, against the
/// f64 loops (so the scratch the lowering asks for covers Winograd's workers).
#[test]
fn compiled_convolutions_take_the_winograd_path_within_the_bound() {
    let (xd, wd) = ([2, 12, 9, 16], [3, 3, 16, 24]);
    let attrs = Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding: Padding::Same,
    };
    let mut graph = Graph::new();
    let x = graph.input("x", xd);
    let w = graph.input("w", wd);
    let y = graph.add(Op::Conv2d(attrs), &[x, w]).unwrap();
    let dy = graph.input("dy", graph.shape(y).clone());
    let input_shape = Shape::from(xd);
    let dx = graph
        .add(Op::Conv2dBackpropInput { attrs, input_shape }, &[dy, w])
        .unwrap();
    let epilogue = Program {
        instrs: vec![Instr::Input(0), Instr::Unary(UnaryOp::Tanh, 0)],
    };
    let fused = graph
        .add(Op::Fused(FusedOp::Conv2d { attrs, epilogue }), &[x, w])
        .unwrap();
    for (name, id) in [("y", y), ("dx", dx), ("fused", fused)] {
        graph.add_output(name, id).unwrap();
    }
    let g = geometry(xd, wd[3], Padding::Same);
    let sizes = g.sizes().unwrap();
    let (xv, wv, dyv) = (
        values(sizes.x, 11),
        values(sizes.w, 12),
        values(sizes.y, 13),
    );
    let exe = compile(&graph, &MemoryPlan::naive(&graph)).expect("compiles");
    let out = exe
        .run(
            &mut exe.new_state(),
            &[("x", &xv), ("w", &wv), ("dy", &dyv)],
        )
        .unwrap();
    for (pass, src, got) in [
        (ConvPass::Forward, &xv, &out[0].1.data),
        (ConvPass::BackpropInput, &dyv, &out[1].1.data),
    ] {
        let (exact, abs) = reference(&g, pass, src, &wv);
        let scale = tile_max(&abs, result_dims(&g, pass));
        let worst = worst_ratio(got, &exact, &scale, &format!("compiled {pass:?}"));
        assert!(
            worst <= BOUND,
            "compiled {pass:?}: worst error {worst:e} x T_o"
        );
    }
    let tanh: Vec<f32> = out[0].1.data.iter().map(|v| v.tanh()).collect();
    for (i, (&got, &want)) in out[2].1.data.iter().zip(&tanh).enumerate() {
        assert!((got - want).abs() <= 1e-6, "fused {i}: {got} vs {want}");
    }
}

//! Per-layer speed of VGG16's contractions at batch 1, timed on the kernels generated code
//! calls (`kiln_conv2d`'s core and `sgemm`), so a slow forward pass can be traced to its
//! layer kind: each distinct conv geometry and the Dense layers (matrix-vector products).
//!
//! `cargo run --release -p kiln-benches --example vgg16_layers` — prints, per layer kind and thread count,
//! the median time over a few runs, its GFLOP/s, and the total over VGG16's layers.

use std::time::Instant;

use codegen_cpu::contract::{Conv2dGeometry, MatMut, MatRef, conv2d, sgemm};
use ir::{Conv2dAttrs, Padding};

/// Timed runs per layer (after one warm-up run).
const RUNS: usize = 5;

/// VGG16's convolutions: (input side, in channels, out channels, layers of this shape).
const CONVS: [(usize, usize, usize, usize); 8] = [
    (224, 3, 64, 1),
    (224, 64, 64, 1),
    (112, 64, 128, 1),
    (112, 128, 128, 1),
    (56, 128, 256, 1),
    (56, 256, 256, 2),
    (28, 256, 512, 1),
    (28, 512, 512, 2),
];
/// The 14x14x512 convolutions (three of them).
const CONV5: (usize, usize, usize, usize) = (14, 512, 512, 3);
/// VGG16's Dense layers at batch 1: (inputs, outputs).
const DENSES: [(usize, usize); 3] = [(25088, 4096), (4096, 4096), (4096, 1000)];

fn filled(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

/// Median seconds of `RUNS` calls of `f` after one warm-up call.
fn median(mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[RUNS / 2]
}

fn report(name: &str, threads: usize, seconds: f64, flops: f64, count: usize) -> f64 {
    println!(
        "{name:<34} {threads}t  {:8.2} ms  {:6.1} GFLOP/s  x{count} = {:7.1} ms",
        seconds * 1e3,
        flops / seconds / 1e9,
        seconds * 1e3 * count as f64
    );
    seconds * count as f64
}

fn main() {
    let threads: Vec<usize> = std::env::args()
        .nth(1)
        .map_or(vec![1, 2], |t| vec![t.parse().expect("thread count")]);
    for &t in &threads {
        let mut total = 0.0;
        for (side, cin, cout, count) in CONVS.into_iter().chain([CONV5]) {
            let attrs = Conv2dAttrs {
                strides: [1, 1],
                dilation: [1, 1],
                padding: Padding::Same,
            };
            let g = Conv2dGeometry::resolve([1, side, side, cin], [3, 3, cin, cout], &attrs)
                .expect("valid VGG layer");
            let sizes = g.sizes().expect("valid VGG layer");
            let (x, w) = (filled(sizes.x), filled(sizes.w));
            let mut y = vec![0.0; sizes.y];
            let mut scratch = vec![0.0; g.scratch_len_for(t)];
            let s = median(|| conv2d(&g, &x, &w, &mut y, &mut scratch, t).expect("conv runs"));
            let flops = (2 * sizes.rows * sizes.depth * cout) as f64;
            total += report(
                &format!("conv {side}x{side}x{cin}->{cout}"),
                t,
                s,
                flops,
                count,
            );
        }
        for (k, n) in DENSES {
            let (a, b) = (filled(k), filled(k * n));
            let mut c = vec![0.0; n];
            let s = median(|| {
                let (a, b) = (MatRef::row_major(&a, 1, k), MatRef::row_major(&b, k, n));
                sgemm(1.0, a, b, 0.0, MatMut::row_major(&mut c, 1, n), t).expect("sgemm runs")
            });
            total += report(
                &format!("dense 1x{k} * {k}x{n}"),
                t,
                s,
                (2 * k * n) as f64,
                1,
            );
        }
        println!(
            "total over VGG16's contractions on {t} thread(s): {:.1} ms",
            total * 1e3
        );
    }
}

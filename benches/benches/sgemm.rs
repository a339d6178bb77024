//! sgemm throughput on square matrices (n = 128..1024) on 1 and 2 threads, plus the MLP
//! layer shape 100x784x300, and batch-1 Dense products (m = 1, matrix-vector): the MLP's
//! 1x784x300 and VGG16's fc1 1x25088x4096 (411 MB of weights), with the weights row-major
//! (`x·W`, Dense's forward) and transposed (`x·Wᵀ`, its input gradient). Throughput counts
//! 2*m*n*k "elements", so criterion's elem/s reads as flop/s (for m = 1, bytes/s of
//! weights streamed is twice that).
//!
//! The same fc1 product compiled as a JIT step (`dense_fc1_jit`: `x·W + b`, through the
//! optimiser, the memory plan and the generated code's choice of chunks and threads) is
//! what a batch-1 VGG16 runs.
//!
//! `KILN_BENCH_SGEMM=gemv` runs only the batch-1 products.

use codegen_cpu::contract::{MatMut, MatRef, sgemm};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ir::{BinaryOp, Graph};

fn filled(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

fn bench_shape(c: &mut Criterion, name: &str, (m, k, n): (usize, usize, usize)) {
    let (a, b) = (filled(m * k), filled(k * n));
    let mut out = vec![0.0f32; m * n];
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements((2 * m * n * k) as u64));
    for threads in [1, 2] {
        group.bench_function(format!("{threads}t"), |bench| {
            bench.iter(|| {
                sgemm(
                    1.0,
                    MatRef::row_major(&a, m, k),
                    MatRef::row_major(&b, k, n),
                    0.0,
                    MatMut::row_major(&mut out, m, n),
                    threads,
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

/// `1 x k` times `k x n`, the `k x n` weights stored row-major or (`transposed`) as `n x k`.
fn bench_gemv(c: &mut Criterion, name: &str, (k, n): (usize, usize), transposed: bool) {
    let (x, w) = (filled(k), filled(k * n));
    let mut out = vec![0.0f32; n];
    let weights = if transposed {
        MatRef {
            data: &w,
            rows: k,
            cols: n,
            row_stride: 1,
            col_stride: k,
        }
    } else {
        MatRef::row_major(&w, k, n)
    };
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements((2 * n * k) as u64));
    if k * n > 1 << 24 {
        group.sample_size(20);
    }
    for threads in [1, 2] {
        group.bench_function(format!("{threads}t"), |bench| {
            bench.iter(|| {
                sgemm(
                    1.0,
                    MatRef::row_major(&x, 1, k),
                    weights,
                    0.0,
                    MatMut::row_major(&mut out, 1, n),
                    threads,
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

/// `x·W + b` at batch 1 as a compiled step, `W` row-major `k x n`.
fn bench_compiled_dense(c: &mut Criterion, name: &str, (k, n): (usize, usize)) {
    let mut g = Graph::new();
    let x = g.input("x", [1, k]);
    let w = g.param("w", [k, n]);
    let b = g.param("b", [1, n]);
    let y = g.matmul(x, w, false, false).unwrap();
    let y = g.binary(BinaryOp::Add, y, b).unwrap();
    g.add_output("y", y).unwrap();
    let g = passes::pipeline::optimize(&g).unwrap();
    let plan = passes::memory_plan::plan(&g).unwrap();
    let exe = codegen_cpu::compile(&g, &plan).unwrap();
    let mut state = exe.new_state();
    state.set_param("w", &filled(k * n)).unwrap();
    let features = filled(k);
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements((2 * n * k) as u64));
    group.sample_size(20);
    group.bench_function("step", |bench| {
        bench.iter(|| exe.run(&mut state, &[("x", &features)]).unwrap())
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_compiled_dense(c, "dense_fc1_jit_1x25088x4096", (25088, 4096));
    for transposed in [false, true] {
        let t = if transposed { "_wt" } else { "" };
        bench_gemv(
            c,
            &format!("sgemv_mlp_1x784x300{t}"),
            (784, 300),
            transposed,
        );
        bench_gemv(
            c,
            &format!("sgemv_fc1_1x25088x4096{t}"),
            (25088, 4096),
            transposed,
        );
    }
    if std::env::var("KILN_BENCH_SGEMM").is_ok_and(|v| v == "gemv") {
        return;
    }
    for n in [128, 256, 512, 1024] {
        bench_shape(c, &format!("sgemm_square_{n}"), (n, n, n));
    }
    bench_shape(c, "sgemm_mlp_100x784x300", (100, 784, 300));
}

criterion_group!(sgemm_benches, benches);
criterion_main!(sgemm_benches);

//! sgemm throughput on square matrices (n = 128..1024) on 1 and 2 threads, plus the MLP
//! layer shape 100x784x300. Throughput counts 2*m*n*k "elements", so criterion's elem/s
//! reads as flop/s.

use codegen_cpu::contract::{MatMut, MatRef, sgemm};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

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

fn benches(c: &mut Criterion) {
    for n in [128, 256, 512, 1024] {
        bench_shape(c, &format!("sgemm_square_{n}"), (n, n, n));
    }
    bench_shape(c, "sgemm_mlp_100x784x300", (100, 784, 300));
}

criterion_group!(sgemm_benches, benches);
criterion_main!(sgemm_benches);

//! Convolution throughput at a VGG-like layer: batch 1, 56x56x128 -> 128, 3x3, same padding,
//! forward and both backprops, on 1 and 2 threads. Throughput counts 2*rows*depth*out_c
//! "elements", so criterion's elem/s reads as flop/s.

use codegen_cpu::contract::{Conv2dGeometry, conv2d, conv2d_backprop_filter, conv2d_backprop_input};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ir::{Conv2dAttrs, Padding};

fn filled(len: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect()
}

fn benches(c: &mut Criterion) {
    let attrs = Conv2dAttrs { strides: [1, 1], dilation: [1, 1], padding: Padding::Same };
    let g = Conv2dGeometry::resolve([1, 56, 56, 128], [3, 3, 128, 128], &attrs).expect("valid VGG layer");
    let sizes = g.sizes().expect("valid VGG layer");
    let (x, w, dy) = (filled(sizes.x), filled(sizes.w), filled(sizes.y));
    let (mut y, mut dx, mut dw) = (vec![0.0; sizes.y], vec![0.0; sizes.x], vec![0.0; sizes.w]);
    let mut scratch = vec![0.0; g.scratch_len()];
    let mut group = c.benchmark_group("conv_vgg_56x56x128_3x3");
    group.throughput(Throughput::Elements((2 * sizes.rows * sizes.depth * g.out_c) as u64));
    group.sample_size(10);
    for threads in [1, 2] {
        group.bench_function(format!("forward_{threads}t"), |b| {
            b.iter(|| conv2d(&g, &x, &w, &mut y, &mut scratch, threads).unwrap())
        });
        group.bench_function(format!("backprop_input_{threads}t"), |b| {
            b.iter(|| conv2d_backprop_input(&g, &dy, &w, &mut dx, &mut scratch, threads).unwrap())
        });
        group.bench_function(format!("backprop_filter_{threads}t"), |b| {
            b.iter(|| conv2d_backprop_filter(&g, &x, &dy, &mut dw, &mut scratch, threads).unwrap())
        });
    }
    group.finish();
}

criterion_group!(conv_benches, benches);
criterion_main!(conv_benches);

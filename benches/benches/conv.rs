//! Convolution throughput: a VGG-like layer (batch 1, 56x56x128 -> 128, 3x3, same padding,
//! forward and both backprops), the mnist_cnn second conv's backprop-input (batch 100,
//! 13x13x32 -> 64, 3x3, valid), and a MobileNet-like depthwise layer (batch 8, 56x56x128,
//! 3x3, same padding, all three passes), on 1 and 2 threads. Throughput counts
//! 2 * multiply-adds "elements", so criterion's elem/s reads as flop/s.

use codegen_cpu::contract::{
    Conv2dGeometry, ConvPass, conv2d, conv2d_backprop_filter, conv2d_backprop_input,
    depthwise_conv2d,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ir::{Conv2dAttrs, Padding};

fn filled(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

fn attrs(padding: Padding) -> Conv2dAttrs {
    Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding,
    }
}

fn vgg(c: &mut Criterion) {
    let g = Conv2dGeometry::resolve([1, 56, 56, 128], [3, 3, 128, 128], &attrs(Padding::Same))
        .expect("valid VGG layer");
    let sizes = g.sizes().expect("valid VGG layer");
    let (x, w, dy) = (filled(sizes.x), filled(sizes.w), filled(sizes.y));
    let (mut y, mut dx, mut dw) = (vec![0.0; sizes.y], vec![0.0; sizes.x], vec![0.0; sizes.w]);
    let mut scratch = vec![0.0; g.scratch_len()];
    let mut group = c.benchmark_group("conv_vgg_56x56x128_3x3");
    group.throughput(Throughput::Elements(
        (2 * sizes.rows * sizes.depth * g.out_c) as u64,
    ));
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

fn mnist_backprop_input(c: &mut Criterion) {
    let g = Conv2dGeometry::resolve([100, 13, 13, 32], [3, 3, 32, 64], &attrs(Padding::Valid))
        .expect("valid mnist layer");
    let sizes = g.sizes().expect("valid mnist layer");
    let (w, dy) = (filled(sizes.w), filled(sizes.y));
    let mut dx = vec![0.0; sizes.x];
    let mut scratch = vec![0.0; g.scratch_len()];
    let mut group = c.benchmark_group("conv_mnist_b100_13x13x32_64_3x3_valid");
    group.throughput(Throughput::Elements(
        (2 * sizes.rows * sizes.depth * g.out_c) as u64,
    ));
    group.sample_size(10);
    for threads in [1, 2] {
        group.bench_function(format!("backprop_input_{threads}t"), |b| {
            b.iter(|| conv2d_backprop_input(&g, &dy, &w, &mut dx, &mut scratch, threads).unwrap())
        });
    }
    group.finish();
}

fn depthwise(c: &mut Criterion) {
    let g = Conv2dGeometry::resolve([8, 56, 56, 128], [3, 3, 128, 128], &attrs(Padding::Same))
        .expect("valid MobileNet layer");
    let sizes = g.sizes().expect("valid MobileNet layer");
    // Inputs stay fixed (each pass reads two tensors and overwrites its own third one), so
    // no value drifts into denormals or infinities across iterations.
    let (mut x, mut w, mut dy) = (filled(sizes.x), filled(9 * 128), filled(sizes.y));
    let (mut y, mut dx, mut dw) = (vec![0.0; sizes.y], vec![0.0; sizes.x], vec![0.0; 9 * 128]);
    let mut group = c.benchmark_group("depthwise_mobilenet_b8_56x56x128_3x3");
    group.throughput(Throughput::Elements((2 * sizes.rows * 9 * g.out_c) as u64));
    group.sample_size(10);
    for threads in [1, 2] {
        group.bench_function(format!("forward_{threads}t"), |b| {
            b.iter(|| {
                depthwise_conv2d(ConvPass::Forward, &g, 1, &mut x, &mut w, &mut y, threads).unwrap()
            })
        });
        group.bench_function(format!("backprop_input_{threads}t"), |b| {
            b.iter(|| {
                depthwise_conv2d(
                    ConvPass::BackpropInput,
                    &g,
                    1,
                    &mut dx,
                    &mut w,
                    &mut dy,
                    threads,
                )
                .unwrap()
            })
        });
        group.bench_function(format!("backprop_filter_{threads}t"), |b| {
            b.iter(|| {
                depthwise_conv2d(
                    ConvPass::BackpropFilter,
                    &g,
                    1,
                    &mut x,
                    &mut dw,
                    &mut dy,
                    threads,
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(conv_benches, vgg, mnist_backprop_input, depthwise);
criterion_main!(conv_benches);

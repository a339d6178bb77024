//! Convolution throughput: a VGG-like layer (batch 1, 56x56x128 -> 128, 3x3, same padding,
//! forward and both backprops), the mnist_cnn second conv's backprop-input (batch 100,
//! 13x13x32 -> 64, 3x3, valid), and a MobileNet-like depthwise layer (batch 8, 56x56x128,
//! 3x3, same padding, all three passes), on 1 and 2 threads; and VGG16's convolution shapes
//! at batch 1 and 8 with im2col and with Winograd F(4x4, 3x3), forward on 2 threads (and the
//! mnist_cnn convolutions' passes with both). Throughput counts 2 * multiply-adds of the
//! direct convolution as "elements", so criterion's elem/s reads as (effective) flop/s.
//!
//! `cargo bench -p kiln-benches --bench conv -- vgg16` runs only the VGG16 shapes.

use codegen_cpu::contract::{
    Conv2dGeometry, ConvAlgorithm, ConvPass, conv2d, conv2d_backprop_filter, conv2d_backprop_input,
    conv2d_using, depthwise_conv2d,
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
    let mut scratch = vec![0.0; g.scratch_len_for(2)];
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
    let mut scratch = vec![0.0; g.scratch_len_for(2)];
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

/// VGG16's convolution shapes (input side, in channels, out channels; same padding).
const VGG16_SHAPES: [(usize, usize, usize); 6] = [
    (224, 3, 64),
    (224, 64, 64),
    (112, 128, 128),
    (56, 256, 256),
    (28, 512, 512),
    (14, 512, 512),
];

/// Runs `pass` of `g` with each algorithm on 2 threads, in one criterion group.
fn im2col_vs_winograd(c: &mut Criterion, name: &str, g: &Conv2dGeometry, pass: ConvPass) {
    let sizes = g.sizes().expect("valid layer");
    let (src_len, out_len) = match pass {
        ConvPass::Forward => (sizes.x, sizes.y),
        _ => (sizes.y, sizes.x),
    };
    let (src, w) = (filled(src_len), filled(sizes.w));
    let mut out = vec![0.0; out_len];
    let mut scratch = vec![0.0; g.scratch_len_for(2)];
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(
        (2 * sizes.rows * sizes.depth * g.out_c) as u64,
    ));
    group.sample_size(10);
    group.warm_up_time(std::time::Duration::from_millis(500));
    group.measurement_time(std::time::Duration::from_secs(2));
    for (label, algorithm) in [
        ("im2col", ConvAlgorithm::Im2col),
        ("winograd", ConvAlgorithm::Winograd),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| {
                conv2d_using(algorithm, pass, g, [&src, &w], &mut out, &mut scratch, 2)
                    .expect("conv runs")
            })
        });
    }
    group.finish();
}

fn vgg16_im2col_vs_winograd(c: &mut Criterion) {
    for batch in [1, 8] {
        for (side, cin, cout) in VGG16_SHAPES {
            let g = Conv2dGeometry::resolve(
                [batch, side, side, cin],
                [3, 3, cin, cout],
                &attrs(Padding::Same),
            )
            .expect("valid VGG16 layer");
            let name = format!("conv_vgg16_b{batch}_{side}x{side}x{cin}_{cout}_forward");
            im2col_vs_winograd(c, &name, &g, ConvPass::Forward);
        }
    }
}

/// The mnist_cnn convolutions (batch 128, valid padding): the first layer's forward pass
/// (one input channel), the second's forward pass and input gradient.
fn mnist_im2col_vs_winograd(c: &mut Criterion) {
    for (side, cin, cout, pass) in [
        (28, 1, 32, ConvPass::Forward),
        (13, 32, 64, ConvPass::Forward),
        (13, 32, 64, ConvPass::BackpropInput),
    ] {
        let g = Conv2dGeometry::resolve(
            [128, side, side, cin],
            [3, 3, cin, cout],
            &attrs(Padding::Valid),
        )
        .expect("valid mnist layer");
        let name = format!("conv_mnist_b128_{side}x{side}x{cin}_{cout}_{pass:?}");
        im2col_vs_winograd(c, &name, &g, pass);
    }
}

criterion_group!(
    conv_benches,
    vgg,
    mnist_backprop_input,
    depthwise,
    vgg16_im2col_vs_winograd,
    mnist_im2col_vs_winograd
);
criterion_main!(conv_benches);

//! InceptionV3 (Szegedy et al., 2015) as tf-keras 2.21 builds it: a stem of convolution +
//! BatchNormalization (no scale) + ReLU units with Keras' auto-generated names (`conv2d_12`,
//! `batch_normalization_12`, `activation_12`), then the Inception blocks `mixed0` …
//! `mixed10`, each a concatenation of branches. The blocks are tables of branches; the two
//! last blocks, whose branches split again, are written out.

use crate::activations::Activation;
use crate::error::Result;
use crate::layers::{
    ActivationLayer, AveragePooling2D, BatchNormalization, Concatenate, Conv2D, MaxPooling2D,
    Padding,
};
use crate::model::Model;

use super::common::{Net, Node, PoolNames};
use super::options::{Family, Options};

/// One step of a branch.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// `conv2d_bn` with `filters` and a `rows × cols` kernel, stride 1, `same` padding.
    Conv(usize, usize, usize),
    /// `conv2d_bn` with a 3×3 kernel, stride 2, `valid` padding.
    Reduce(usize),
    /// `conv2d_bn` with a `k × k` kernel, stride 1, `valid` padding.
    Valid(usize, usize),
    /// 3×3 average pooling, stride 1, `same` padding.
    AvgPool,
    /// 3×3 max pooling, stride 2.
    MaxPool,
}

use Step::{AvgPool, Conv, MaxPool, Reduce, Valid};

/// `mixed0`–`mixed2` with `p` filters in the pooling branch.
macro_rules! block_a {
    ($p:expr) => {
        [
            &[Conv(64, 1, 1)] as &[Step],
            &[Conv(48, 1, 1), Conv(64, 5, 5)],
            &[Conv(64, 1, 1), Conv(96, 3, 3), Conv(96, 3, 3)],
            &[AvgPool, Conv($p, 1, 1)],
        ]
    };
}

/// `mixed4`–`mixed7` with `c` filters inside the 7×7 branches.
macro_rules! block_c {
    ($c:expr) => {
        [
            &[Conv(192, 1, 1)] as &[Step],
            &[Conv($c, 1, 1), Conv($c, 1, 7), Conv(192, 7, 1)],
            &[
                Conv($c, 1, 1),
                Conv($c, 7, 1),
                Conv($c, 1, 7),
                Conv($c, 7, 1),
                Conv(192, 1, 7),
            ],
            &[AvgPool, Conv(192, 1, 1)],
        ]
    };
}

const MIXED3: [&[Step]; 3] = [
    &[Reduce(384)],
    &[Conv(64, 1, 1), Conv(96, 3, 3), Reduce(96)],
    &[MaxPool],
];
const MIXED8: [&[Step]; 3] = [
    &[Conv(192, 1, 1), Reduce(320)],
    &[
        Conv(192, 1, 1),
        Conv(192, 1, 7),
        Conv(192, 7, 1),
        Reduce(192),
    ],
    &[MaxPool],
];

/// InceptionV3 (Keras' `keras.applications.InceptionV3`): 23,851,784 parameters with the
/// top at its default 299×299; inputs at least 75×75.
pub fn inception_v3(options: &Options) -> Result<Model> {
    let mut net = Net::start(
        "inception_v3",
        Family::plain("inception_v3", 299, 75),
        options,
    )?;
    let mut x = net.input;
    let stem = [
        Reduce(32),
        Valid(32, 3),
        Conv(64, 3, 3),
        MaxPool,
        Valid(80, 1),
        Valid(192, 3),
    ];
    for step in stem.into_iter().chain([MaxPool]) {
        x = run_step(&mut net, x, step)?;
    }
    let blocks: [&[&[Step]]; 8] = [
        &block_a!(32),
        &block_a!(64),
        &block_a!(64),
        &MIXED3,
        &block_c!(128),
        &block_c!(160),
        &block_c!(160),
        &block_c!(192),
    ];
    for (i, branches) in blocks.into_iter().enumerate() {
        x = mixed(&mut net, x, branches, &format!("mixed{i}"))?;
    }
    x = mixed(&mut net, x, &MIXED8, "mixed8")?;
    for i in 0..2 {
        x = block_e(&mut net, x, i)?;
    }
    net.finish_pooled(x, Some("avg_pool"), PoolNames::AUTO)
}

/// Keras' `conv2d_bn`: a convolution without bias, BatchNormalization without scale, ReLU,
/// all auto-named.
fn conv_bn(
    net: &mut Net,
    x: Node,
    filters: usize,
    kernel: [usize; 2],
    stride: usize,
    padding: Padding,
) -> Result<Node> {
    let conv = Conv2D::new(filters, kernel)
        .strides(stride)
        .padding(padding)
        .use_bias(false);
    let y = net.add(conv, x)?;
    let y = net.add(BatchNormalization::new().axis(3).scale(false), y)?;
    net.add(ActivationLayer::new(Activation::Relu), y)
}

/// One step of a branch on `x`.
fn run_step(net: &mut Net, x: Node, step: Step) -> Result<Node> {
    match step {
        Valid(f, k) => conv_bn(net, x, f, [k, k], 1, Padding::Valid),
        Conv(f, r, c) => conv_bn(net, x, f, [r, c], 1, Padding::Same),
        Reduce(f) => conv_bn(net, x, f, [3, 3], 2, Padding::Valid),
        AvgPool => net.add(
            AveragePooling2D::new(3).strides(1).padding(Padding::Same),
            x,
        ),
        MaxPool => net.add(MaxPooling2D::new(3).strides(2), x),
    }
}

/// An Inception block: every branch on `x`, in order, concatenated as `name`.
fn mixed(net: &mut Net, x: Node, branches: &[&[Step]], name: &str) -> Result<Node> {
    let mut outs = Vec::with_capacity(branches.len());
    for branch in branches {
        let mut y = x;
        for &step in *branch {
            y = run_step(net, y, step)?;
        }
        outs.push(y);
    }
    net.merge(Concatenate::with_axis(3).named(name), &outs)
}

/// `mixed9` / `mixed10` (`i` = 0, 1): branches that split into 1×3 and 3×1 halves.
fn block_e(net: &mut Net, x: Node, i: usize) -> Result<Node> {
    let b1 = conv_bn(net, x, 320, [1, 1], 1, Padding::Same)?;
    let b3 = conv_bn(net, x, 384, [1, 1], 1, Padding::Same)?;
    let b3 = split(net, b3, Some(format!("mixed9_{i}")))?;
    let d = conv_bn(net, x, 448, [1, 1], 1, Padding::Same)?;
    let d = conv_bn(net, d, 384, [3, 3], 1, Padding::Same)?;
    let d = split(net, d, None)?;
    let pool = run_step(net, x, AvgPool)?;
    let pool = conv_bn(net, pool, 192, [1, 1], 1, Padding::Same)?;
    let name = format!("mixed{}", 9 + i);
    net.merge(Concatenate::with_axis(3).named(name), &[b1, b3, d, pool])
}

/// 1×3 and 3×1 `conv2d_bn` of `x` (384 filters each), concatenated (named `name`, or
/// auto-named).
fn split(net: &mut Net, x: Node, name: Option<String>) -> Result<Node> {
    let a = conv_bn(net, x, 384, [1, 3], 1, Padding::Same)?;
    let b = conv_bn(net, x, 384, [3, 1], 1, Padding::Same)?;
    let concat = Concatenate::with_axis(3);
    let concat = match name {
        Some(name) => concat.named(name),
        None => concat,
    };
    net.merge(concat, &[a, b])
}

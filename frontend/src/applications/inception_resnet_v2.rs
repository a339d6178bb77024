//! InceptionResNetV2 (Szegedy et al., 2016) as tf-keras 2.21 builds it: a stem of
//! convolution + BatchNormalization (no scale) + ReLU units with Keras' auto-generated names
//! (`conv2d_12`, `batch_normalization_12`, `activation_12`), `mixed_5b`, ten `block35_{i}`,
//! `mixed_6a`, twenty `block17_{i}`, `mixed_7a`, ten `block8_{i}` (each: branches
//! concatenated as `_mixed`, a 1×1 convolution with bias `_conv`, the residual
//! `CustomScaleLayer` `x + r · scale` (auto-named) and, but for the last, a ReLU `_ac`),
//! then `conv_7b` with `_bn` and `_ac`, and Keras' usual top.

use crate::activations::Activation;
use crate::error::Result;
use crate::layers::{
    ActivationLayer, AveragePooling2D, BatchNormalization, Concatenate, Conv2D, CustomScaleLayer,
    MaxPooling2D, Padding,
};
use crate::model::Model;

use super::common::{Net, Node, PoolNames};
use super::options::{Family, Options};

/// One `conv2d_bn`: filters, kernel rows and columns, stride (2 means `valid` padding).
type Unit = (usize, usize, usize, usize);

/// `mixed_5b`'s convolution branches (its pooling branch is added after them).
const MIXED_5B: [&[Unit]; 3] = [
    &[(96, 1, 1, 1)],
    &[(48, 1, 1, 1), (64, 5, 5, 1)],
    &[(64, 1, 1, 1), (96, 3, 3, 1), (96, 3, 3, 1)],
];

/// `mixed_6a`'s convolution branches (then a max pooling branch).
const MIXED_6A: [&[Unit]; 2] = [
    &[(384, 3, 3, 2)],
    &[(256, 1, 1, 1), (256, 3, 3, 1), (384, 3, 3, 2)],
];

/// `mixed_7a`'s convolution branches (then a max pooling branch).
const MIXED_7A: [&[Unit]; 3] = [
    &[(256, 1, 1, 1), (384, 3, 3, 2)],
    &[(256, 1, 1, 1), (288, 3, 3, 2)],
    &[(256, 1, 1, 1), (288, 3, 3, 1), (320, 3, 3, 2)],
];

/// The residual blocks' branches: `block35`, `block17`, `block8`.
const BLOCK35: [&[Unit]; 3] = [
    &[(32, 1, 1, 1)],
    &[(32, 1, 1, 1), (32, 3, 3, 1)],
    &[(32, 1, 1, 1), (48, 3, 3, 1), (64, 3, 3, 1)],
];
const BLOCK17: [&[Unit]; 2] = [
    &[(192, 1, 1, 1)],
    &[(128, 1, 1, 1), (160, 1, 7, 1), (192, 7, 1, 1)],
];
const BLOCK8: [&[Unit]; 2] = [
    &[(192, 1, 1, 1)],
    &[(192, 1, 1, 1), (224, 1, 3, 1), (256, 3, 1, 1)],
];

/// InceptionResNetV2 (Keras' `keras.applications.InceptionResNetV2`): 55,873,736
/// parameters with the top at its default 299×299; inputs at least 75×75.
pub fn inception_resnet_v2(options: &Options) -> Result<Model> {
    let family = Family::plain("inception_resnet_v2", 299, 75);
    let mut net = Net::start("inception_resnet_v2", family, options)?;
    let mut x = net.input;
    for unit in [(32, 3, 3, 2), (32, 3, 3, 0), (64, 3, 3, 1)] {
        x = conv_bn(&mut net, x, unit)?;
    }
    x = net.add(MaxPooling2D::new(3).strides(2), x)?;
    x = conv_bn(&mut net, x, (80, 1, 1, 0))?;
    x = conv_bn(&mut net, x, (192, 3, 3, 0))?;
    x = net.add(MaxPooling2D::new(3).strides(2), x)?;
    let mut outs = branches(&mut net, x, &MIXED_5B)?;
    let pool = AveragePooling2D::new(3).strides(1).padding(Padding::Same);
    let pool = net.add(pool, x)?;
    outs.push(conv_bn(&mut net, pool, (64, 1, 1, 1))?);
    x = net.merge(Concatenate::with_axis(3).named("mixed_5b"), &outs)?;
    for i in 1..=10 {
        x = residual(&mut net, x, &BLOCK35, 0.17, &format!("block35_{i}"), true)?;
    }
    x = reduction(&mut net, x, &MIXED_6A, "mixed_6a")?;
    for i in 1..=20 {
        x = residual(&mut net, x, &BLOCK17, 0.1, &format!("block17_{i}"), true)?;
    }
    x = reduction(&mut net, x, &MIXED_7A, "mixed_7a")?;
    for i in 1..=10 {
        let (scale, relu) = if i < 10 { (0.2, true) } else { (1.0, false) };
        x = residual(&mut net, x, &BLOCK8, scale, &format!("block8_{i}"), relu)?;
    }
    let conv = Conv2D::new(1536, 1).padding(Padding::Same).use_bias(false);
    x = net.add(conv.named("conv_7b"), x)?;
    x = net.add(bn().named("conv_7b_bn"), x)?;
    x = net.add(
        ActivationLayer::new(Activation::Relu).named("conv_7b_ac"),
        x,
    )?;
    net.finish_pooled(x, Some("avg_pool"), PoolNames::AUTO)
}

/// InceptionResNetV2's BatchNormalization (no scale).
fn bn() -> BatchNormalization {
    BatchNormalization::new().axis(3).scale(false)
}

/// Keras' unnamed `conv2d_bn`: stride 2 and `valid` padding for stride 2, `valid` padding
/// for stride 0 (written for a stride-1 `valid` unit), else stride 1 and `same`.
fn conv_bn(net: &mut Net, x: Node, (filters, rows, cols, stride): Unit) -> Result<Node> {
    let padding = if stride == 1 {
        Padding::Same
    } else {
        Padding::Valid
    };
    let conv = Conv2D::new(filters, [rows, cols])
        .strides(stride.max(1))
        .padding(padding)
        .use_bias(false);
    let y = net.add(conv, x)?;
    let y = net.add(bn(), y)?;
    net.add(ActivationLayer::new(Activation::Relu), y)
}

/// Each branch of units on `x`, in order.
fn branches(net: &mut Net, x: Node, branches: &[&[Unit]]) -> Result<Vec<Node>> {
    let mut outs = Vec::with_capacity(branches.len() + 1);
    for branch in branches {
        let mut y = x;
        for &unit in *branch {
            y = conv_bn(net, y, unit)?;
        }
        outs.push(y);
    }
    Ok(outs)
}

/// A reduction block: its branches and a 3×3 stride-2 max pooling, concatenated as `name`.
fn reduction(net: &mut Net, x: Node, units: &[&[Unit]], name: &str) -> Result<Node> {
    let mut outs = branches(net, x, units)?;
    outs.push(net.add(MaxPooling2D::new(3).strides(2), x)?);
    net.merge(Concatenate::with_axis(3).named(name), &outs)
}

/// Keras' `inception_resnet_block` named `name`: `x + scale · conv(branches)`, then ReLU
/// when `relu`.
fn residual(
    net: &mut Net,
    x: Node,
    units: &[&[Unit]],
    scale: f32,
    name: &str,
    relu: bool,
) -> Result<Node> {
    let outs = branches(net, x, units)?;
    let mixed = net.merge(
        Concatenate::with_axis(3).named(format!("{name}_mixed")),
        &outs,
    )?;
    let channels = net.shape(x).dims()[2];
    let conv = Conv2D::new(channels, 1).padding(Padding::Same);
    let up = net.add(conv.named(format!("{name}_conv")), mixed)?;
    let y = net.merge(CustomScaleLayer::new(scale), &[x, up])?;
    if relu {
        return net.add(
            ActivationLayer::new(Activation::Relu).named(format!("{name}_ac")),
            y,
        );
    }
    Ok(y)
}

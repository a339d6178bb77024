//! DenseNet121, DenseNet169 and DenseNet201 (Huang et al., 2016) as tf-keras 2.21 builds
//! them: the stem (`conv1/conv`, `conv1/bn`, `conv1/relu`, `pool1`, with auto-named zero
//! paddings), four dense blocks of `conv{s}_block{i}` units (BatchNormalization, ReLU, 1×1
//! then 3×3 convolution, `_concat` onto the block's input) separated by the transitions
//! `pool{s}` (halving the channels and the size), then `bn`, `relu` and Keras' usual top.
//! The three differ only in their units per block.

use crate::activations::Activation;
use crate::error::Result;
use crate::layers::{
    AveragePooling2D, BatchNormalization, Concatenate, Conv2D, MaxPooling2D, Padding, ZeroPadding2D,
};
use crate::model::Model;

use super::common::{Net, Node, PoolNames, activation};
use super::options::{Family, Options};
use super::resnet::EPSILON;

/// Channels each unit adds.
const GROWTH: usize = 32;

/// DenseNet121 (Keras' `keras.applications.DenseNet121`): 8,062,504 parameters with the top.
pub fn densenet121(options: &Options) -> Result<Model> {
    densenet("densenet121", [6, 12, 24, 16], options)
}

/// DenseNet169 (Keras' `keras.applications.DenseNet169`).
pub fn densenet169(options: &Options) -> Result<Model> {
    densenet("densenet169", [6, 12, 32, 32], options)
}

/// DenseNet201 (Keras' `keras.applications.DenseNet201`).
pub fn densenet201(options: &Options) -> Result<Model> {
    densenet("densenet201", [6, 12, 48, 32], options)
}

/// A DenseNet with `blocks[s]` units in dense block `s + 2`.
fn densenet(name: &'static str, blocks: [usize; 4], options: &Options) -> Result<Model> {
    let mut net = Net::start(name, Family::plain(name, 224, 32), options)?;
    let mut x = net.add(ZeroPadding2D::new(3), net.input)?;
    x = net.add(
        Conv2D::new(64, 7)
            .strides(2)
            .use_bias(false)
            .named("conv1/conv"),
        x,
    )?;
    x = net.add(bn("conv1/bn"), x)?;
    x = net.add(activation(Activation::Relu, "conv1/relu"), x)?;
    x = net.add(ZeroPadding2D::new(1), x)?;
    x = net.add(MaxPooling2D::new(3).strides(2).named("pool1"), x)?;
    for (s, &units) in blocks.iter().enumerate() {
        for i in 1..=units {
            x = unit(&mut net, x, &format!("conv{}_block{i}", s + 2))?;
        }
        if s < 3 {
            x = transition(&mut net, x, &format!("pool{}", s + 2))?;
        }
    }
    x = net.add(bn("bn"), x)?;
    x = net.add(activation(Activation::Relu, "relu"), x)?;
    net.finish_pooled(x, Some("avg_pool"), PoolNames::NAMED)
}

/// DenseNet's BatchNormalization (epsilon 1.001e-5).
fn bn(name: impl Into<String>) -> BatchNormalization {
    BatchNormalization::new()
        .axis(3)
        .epsilon(EPSILON)
        .named(name)
}

/// Keras' `conv_block`: a unit adding [`GROWTH`] channels to `x`.
fn unit(net: &mut Net, x: Node, name: &str) -> Result<Node> {
    let mut y = net.add(bn(format!("{name}_0_bn")), x)?;
    y = net.add(activation(Activation::Relu, format!("{name}_0_relu")), y)?;
    y = net.add(
        Conv2D::new(4 * GROWTH, 1)
            .use_bias(false)
            .named(format!("{name}_1_conv")),
        y,
    )?;
    y = net.add(bn(format!("{name}_1_bn")), y)?;
    y = net.add(activation(Activation::Relu, format!("{name}_1_relu")), y)?;
    let conv = Conv2D::new(GROWTH, 3)
        .padding(Padding::Same)
        .use_bias(false);
    y = net.add(conv.named(format!("{name}_2_conv")), y)?;
    net.merge(
        Concatenate::with_axis(3).named(format!("{name}_concat")),
        &[x, y],
    )
}

/// Keras' `transition_block` with reduction 0.5.
fn transition(net: &mut Net, x: Node, name: &str) -> Result<Node> {
    let channels = net.shape(x).dims()[2];
    let mut y = net.add(bn(format!("{name}_bn")), x)?;
    y = net.add(activation(Activation::Relu, format!("{name}_relu")), y)?;
    let conv = Conv2D::new(channels / 2, 1)
        .use_bias(false)
        .named(format!("{name}_conv"));
    y = net.add(conv, y)?;
    net.add(
        AveragePooling2D::new(2)
            .strides(2)
            .named(format!("{name}_pool")),
        y,
    )
}

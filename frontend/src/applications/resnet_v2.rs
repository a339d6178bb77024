//! ResNet50V2, ResNet101V2 and ResNet152V2 (He et al., 2016: pre-activation) as tf-keras 2.21
//! builds them: ResNet's stem without its BatchNormalization, stacks of pre-activation
//! bottleneck blocks (`conv{s}_block{b}_preact_{bn,relu}`, `_{1,2,3}_conv`, `_out`; a
//! stack's stride is in its last block, whose identity shortcut is a 1×1 max pooling), then
//! `post_bn`, `post_relu` and Keras' usual top.

use crate::activations::Activation;
use crate::error::Result;
use crate::layers::{Add, Conv2D, MaxPooling2D, ZeroPadding2D};
use crate::model::Model;

use super::common::{Net, Node, PoolNames, activation};
use super::options::{Family, Options};
use super::resnet::{bn, stem};

/// ResNet50V2 (Keras' `keras.applications.ResNet50V2`): 25,613,800 parameters with the top.
pub fn resnet50_v2(options: &Options) -> Result<Model> {
    resnet_v2("resnet50v2", [3, 4, 6, 3], options)
}

/// ResNet101V2 (Keras' `keras.applications.ResNet101V2`).
pub fn resnet101_v2(options: &Options) -> Result<Model> {
    resnet_v2("resnet101v2", [3, 4, 23, 3], options)
}

/// ResNet152V2 (Keras' `keras.applications.ResNet152V2`).
pub fn resnet152_v2(options: &Options) -> Result<Model> {
    resnet_v2("resnet152v2", [3, 8, 36, 3], options)
}

/// A ResNet V2 with `blocks[s]` blocks in stack `s + 2`.
fn resnet_v2(name: &'static str, blocks: [usize; 4], options: &Options) -> Result<Model> {
    let mut net = Net::start(name, Family::plain(name, 224, 32), options)?;
    let input = net.input;
    let mut x = stem(&mut net, input, true)?;
    for (s, (&count, filters)) in blocks.iter().zip([64, 128, 256, 512]).enumerate() {
        let stack = format!("conv{}", s + 2);
        let last_stride = if s == 3 { 1 } else { 2 };
        x = block(&mut net, x, filters, 1, true, &format!("{stack}_block1"))?;
        for b in 2..count {
            x = block(&mut net, x, filters, 1, false, &format!("{stack}_block{b}"))?;
        }
        x = block(
            &mut net,
            x,
            filters,
            last_stride,
            false,
            &format!("{stack}_block{count}"),
        )?;
    }
    x = net.add(bn("post_bn".into()), x)?;
    x = net.add(activation(Activation::Relu, "post_relu"), x)?;
    net.finish_pooled(x, Some("avg_pool"), PoolNames::NAMED)
}

/// Keras' `block2`: a pre-activation bottleneck block; the shortcut is a 1×1 convolution of
/// the pre-activation when `conv_shortcut`, else the input (max-pooled 1×1 when strided).
fn block(
    net: &mut Net,
    x: Node,
    filters: usize,
    stride: usize,
    conv_shortcut: bool,
    name: &str,
) -> Result<Node> {
    let mut preact = net.add(bn(format!("{name}_preact_bn")), x)?;
    preact = net.add(
        activation(Activation::Relu, format!("{name}_preact_relu")),
        preact,
    )?;
    let shortcut = if conv_shortcut {
        let conv = Conv2D::new(4 * filters, 1)
            .strides(stride)
            .named(format!("{name}_0_conv"));
        net.add(conv, preact)?
    } else if stride > 1 {
        net.add(MaxPooling2D::new(1).strides(stride), x)?
    } else {
        x
    };
    let mut y = net.add(
        Conv2D::new(filters, 1)
            .use_bias(false)
            .named(format!("{name}_1_conv")),
        preact,
    )?;
    y = net.add(bn(format!("{name}_1_bn")), y)?;
    y = net.add(activation(Activation::Relu, format!("{name}_1_relu")), y)?;
    y = net.add(ZeroPadding2D::new(1).named(format!("{name}_2_pad")), y)?;
    let conv = Conv2D::new(filters, 3).strides(stride).use_bias(false);
    y = net.add(conv.named(format!("{name}_2_conv")), y)?;
    y = net.add(bn(format!("{name}_2_bn")), y)?;
    y = net.add(activation(Activation::Relu, format!("{name}_2_relu")), y)?;
    y = net.add(
        Conv2D::new(4 * filters, 1).named(format!("{name}_3_conv")),
        y,
    )?;
    net.merge(Add::new().named(format!("{name}_out")), &[shortcut, y])
}

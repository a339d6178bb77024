//! ResNet50, ResNet101 and ResNet152 (He et al., 2015) as tf-keras 2.21 builds them:
//! `conv1_pad`/`conv1_conv`/`conv1_bn`/`conv1_relu`, `pool1_pad`/`pool1_pool`, four stacks of
//! bottleneck blocks (`conv{s}_block{b}_{0..3}_{conv,bn}`, `_add`, `_out`; the first block
//! of a stack has a projection shortcut), then `avg_pool` and `predictions`. The three differ
//! only in their blocks per stack. ResNetV2 is in `resnet_v2.rs`; the stem is shared.

use crate::activations::Activation;
use crate::error::Result;
use crate::layers::{Add, BatchNormalization, Conv2D, MaxPooling2D, Padding, ZeroPadding2D};
use crate::model::Model;

use super::common::{Net, Node, PoolNames, activation};
use super::options::{Family, Options};

/// Keras' BatchNormalization epsilon in every ResNet.
pub(crate) const EPSILON: f32 = 1.001e-5;

/// ResNet50 (Keras' `keras.applications.ResNet50`): 25,636,712 parameters with the top.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// use kiln::applications::{resnet50, Options};
/// let model = resnet50(&Options::new().input_shape([32, 32, 3]).classes(10))?;
/// assert_eq!(model.layer("conv5_block3_out").map(|l| l.class_name()), Some("Activation"));
/// # Ok(())
/// # }
/// ```
pub fn resnet50(options: &Options) -> Result<Model> {
    resnet("resnet50", [3, 4, 6, 3], options)
}

/// ResNet101 (Keras' `keras.applications.ResNet101`).
pub fn resnet101(options: &Options) -> Result<Model> {
    resnet("resnet101", [3, 4, 23, 3], options)
}

/// ResNet152 (Keras' `keras.applications.ResNet152`).
pub fn resnet152(options: &Options) -> Result<Model> {
    resnet("resnet152", [3, 8, 36, 3], options)
}

/// A ResNet V1 with `blocks[s]` bottleneck blocks in stack `s + 2`.
fn resnet(name: &'static str, blocks: [usize; 4], options: &Options) -> Result<Model> {
    let mut net = Net::start(name, Family::plain(name, 224, 32), options)?;
    let input = net.input;
    let mut x = stem(&mut net, input, false)?;
    for (s, (&count, filters)) in blocks.iter().zip([64, 128, 256, 512]).enumerate() {
        let stack = format!("conv{}", s + 2);
        let stride = if s == 0 { 1 } else { 2 };
        x = block(
            &mut net,
            x,
            filters,
            stride,
            true,
            &format!("{stack}_block1"),
        )?;
        for b in 2..=count {
            x = block(&mut net, x, filters, 1, false, &format!("{stack}_block{b}"))?;
        }
    }
    net.finish_pooled(x, Some("avg_pool"), PoolNames::NAMED)
}

/// A BatchNormalization with the ResNets' epsilon.
pub(crate) fn bn(name: String) -> BatchNormalization {
    BatchNormalization::new()
        .axis(3)
        .epsilon(EPSILON)
        .named(name)
}

/// The stem: `conv1_pad`, the 7×7/2 `conv1_conv` (with `conv1_bn` and `conv1_relu` unless
/// `preact`), `pool1_pad`, `pool1_pool`.
pub(crate) fn stem(net: &mut Net, x: Node, preact: bool) -> Result<Node> {
    let mut x = net.add(ZeroPadding2D::new(3).named("conv1_pad"), x)?;
    x = net.add(Conv2D::new(64, 7).strides(2).named("conv1_conv"), x)?;
    if !preact {
        x = net.add(bn("conv1_bn".into()), x)?;
        x = net.add(activation(Activation::Relu, "conv1_relu"), x)?;
    }
    x = net.add(ZeroPadding2D::new(1).named("pool1_pad"), x)?;
    net.add(MaxPooling2D::new(3).strides(2).named("pool1_pool"), x)
}

/// Keras' `block1`: a bottleneck residual block (1×1, 3×3, 1×1 with 4× `filters`), with a
/// 1×1 projection shortcut when `conv_shortcut`.
fn block(
    net: &mut Net,
    x: Node,
    filters: usize,
    stride: usize,
    conv_shortcut: bool,
    name: &str,
) -> Result<Node> {
    let shortcut = if conv_shortcut {
        let s = net.add(
            Conv2D::new(4 * filters, 1)
                .strides(stride)
                .named(format!("{name}_0_conv")),
            x,
        )?;
        net.add(bn(format!("{name}_0_bn")), s)?
    } else {
        x
    };
    let mut y = net.add(
        Conv2D::new(filters, 1)
            .strides(stride)
            .named(format!("{name}_1_conv")),
        x,
    )?;
    y = net.add(bn(format!("{name}_1_bn")), y)?;
    y = net.add(activation(Activation::Relu, format!("{name}_1_relu")), y)?;
    y = net.add(
        Conv2D::new(filters, 3)
            .padding(Padding::Same)
            .named(format!("{name}_2_conv")),
        y,
    )?;
    y = net.add(bn(format!("{name}_2_bn")), y)?;
    y = net.add(activation(Activation::Relu, format!("{name}_2_relu")), y)?;
    y = net.add(
        Conv2D::new(4 * filters, 1).named(format!("{name}_3_conv")),
        y,
    )?;
    y = net.add(bn(format!("{name}_3_bn")), y)?;
    let sum = net.merge(Add::new().named(format!("{name}_add")), &[shortcut, y])?;
    net.add(activation(Activation::Relu, format!("{name}_out")), sum)
}

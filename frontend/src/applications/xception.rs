//! Xception (Chollet, 2016) as tf-keras 2.21 builds it: the entry flow (`block1`–`block4`:
//! separable convolutions `block{b}_sepconv{i}` with `_bn` and `_act`, each block closed by
//! a max pooling and added to a strided 1×1 convolution shortcut, whose convolution and
//! BatchNormalization Keras leaves auto-named), the middle flow (`block5`–`block12`: three
//! separable convolutions and an identity shortcut) and the exit flow (`block13`,
//! `block14`), then Keras' usual top.

use crate::activations::Activation;
use crate::error::Result;
use crate::layers::{Add, BatchNormalization, Conv2D, MaxPooling2D, Padding, SeparableConv2D};
use crate::model::Model;

use super::common::{Net, Node, PoolNames, activation};
use super::options::{Family, Options};

/// Xception (Keras' `keras.applications.Xception`): 22,910,480 parameters with the top at its
/// default 299×299; inputs at least 71×71.
pub fn xception(options: &Options) -> Result<Model> {
    let mut net = Net::start("xception", Family::plain("xception", 299, 71), options)?;
    let mut x = net.input;
    for (i, (filters, stride)) in [(32, 2), (64, 1)].into_iter().enumerate() {
        let name = format!("block1_conv{}", i + 1);
        let conv = Conv2D::new(filters, 3).strides(stride).use_bias(false);
        x = net.add(conv.named(name.clone()), x)?;
        x = net.add(
            BatchNormalization::new()
                .axis(3)
                .named(format!("{name}_bn")),
            x,
        )?;
        x = net.add(activation(Activation::Relu, format!("{name}_act")), x)?;
    }
    x = entry_block(&mut net, x, 2, [128, 128])?;
    x = entry_block(&mut net, x, 3, [256, 256])?;
    x = entry_block(&mut net, x, 4, [728, 728])?;
    for b in 5..13 {
        let mut y = x;
        for i in 1..=3 {
            y = net.add(
                activation(Activation::Relu, format!("block{b}_sepconv{i}_act")),
                y,
            )?;
            y = sep_bn(&mut net, y, 728, &format!("block{b}_sepconv{i}"))?;
        }
        x = net.merge(Add::new(), &[y, x])?;
    }
    x = entry_block(&mut net, x, 13, [728, 1024])?;
    for (i, filters) in [1536, 2048].into_iter().enumerate() {
        let name = format!("block14_sepconv{}", i + 1);
        x = sep_bn(&mut net, x, filters, &name)?;
        x = net.add(activation(Activation::Relu, format!("{name}_act")), x)?;
    }
    net.finish_pooled(x, Some("avg_pool"), PoolNames::AUTO)
}

/// A separable 3×3 convolution without bias and its BatchNormalization (`name`, `name_bn`).
fn sep_bn(net: &mut Net, x: Node, filters: usize, name: &str) -> Result<Node> {
    let sep = SeparableConv2D::new(filters, 3)
        .padding(Padding::Same)
        .use_bias(false);
    let y = net.add(sep.named(name), x)?;
    net.add(
        BatchNormalization::new()
            .axis(3)
            .named(format!("{name}_bn")),
        y,
    )
}

/// An entry-flow block `b`: a strided 1×1 shortcut, two separable convolutions (the first
/// without its ReLU in block 2), a 3×3/2 max pooling and the sum.
fn entry_block(net: &mut Net, x: Node, b: usize, filters: [usize; 2]) -> Result<Node> {
    let shortcut = Conv2D::new(filters[1], 1)
        .strides(2)
        .padding(Padding::Same)
        .use_bias(false);
    let residual = net.add(shortcut, x)?;
    let residual = net.add(BatchNormalization::new().axis(3), residual)?;
    let mut y = x;
    for (i, &f) in filters.iter().enumerate() {
        let name = format!("block{b}_sepconv{}", i + 1);
        if b != 2 || i > 0 {
            y = net.add(activation(Activation::Relu, format!("{name}_act")), y)?;
        }
        y = sep_bn(net, y, f, &name)?;
    }
    let pool = MaxPooling2D::new(3).strides(2).padding(Padding::Same);
    y = net.add(pool.named(format!("block{b}_pool")), y)?;
    net.merge(Add::new(), &[y, residual])
}

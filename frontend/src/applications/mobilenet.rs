//! MobileNet (Howard et al., 2017) as tf-keras 2.21 builds it: `conv1` (ReLU6), thirteen
//! depthwise-separable blocks `conv_dw_{i}` / `conv_pw_{i}` (each with `_bn` and `_relu`;
//! strided blocks start with a `conv_pad_{i}` zero padding), then Keras' MobileNet top
//! (global average pooling kept 4-D, `dropout`, the 1×1 convolution `conv_preds`,
//! `reshape_2`, `predictions`). `alpha` scales the widths, `depth_multiplier` the depthwise
//! convolutions.

use crate::error::Result;
use crate::layers::{
    BatchNormalization, Conv2D, DepthwiseConv2D, Dropout, GlobalAveragePooling2D, Padding, ReLU,
    Reshape, ZeroPadding2D,
};
use crate::model::Model;

use super::common::{Net, Node, PoolNames, activation};
use super::options::{Family, Options};

/// The blocks: (pointwise filters, stride).
const BLOCKS: [(usize, usize); 13] = [
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
];

/// MobileNet (Keras' `keras.applications.MobileNet`): 4,253,864 parameters with the top at
/// 224×224, `alpha` 1; takes `alpha`, `depth_multiplier` and `dropout` (default 1e-3).
pub fn mobilenet(options: &Options) -> Result<Model> {
    let family = Family {
        alpha: true,
        depth_multiplier: true,
        dropout: Some(1e-3),
        ..Family::plain("mobilenet", 224, 32)
    };
    let mut net = Net::start("mobilenet", family, options)?;
    let alpha = python_float(net.options.width());
    let rows = net.shape(net.input).dims()[0];
    net.rename(format!("mobilenet_{alpha:.2}_{rows}"));
    let mut x = net.input;
    let conv = Conv2D::new(scaled(32, alpha), 3)
        .padding(Padding::Same)
        .use_bias(false);
    x = net.add(conv.strides(2).named("conv1"), x)?;
    x = net.add(BatchNormalization::new().axis(3).named("conv1_bn"), x)?;
    x = net.add(relu6("conv1_relu"), x)?;
    for (i, &(filters, stride)) in BLOCKS.iter().enumerate() {
        x = block(&mut net, x, scaled(filters, alpha), stride, i + 1)?;
    }
    if !net.options.has_top() {
        let y = net.pool(x, PoolNames::AUTO)?;
        return net.finish(y);
    }
    let classes = net.options.class_count();
    let rate = net.options.dropout_rate(&net.family);
    x = net.add(GlobalAveragePooling2D::new().keepdims(true), x)?;
    x = net.add(Dropout::new(rate).named("dropout"), x)?;
    let preds = Conv2D::new(classes, 1)
        .padding(Padding::Same)
        .named("conv_preds");
    x = net.add(preds, x)?;
    x = net.add(Reshape::new([classes as i64]).named("reshape_2"), x)?;
    let y = net.add(activation(net.options.classifier(), "predictions"), x)?;
    net.finish(y)
}

/// `alpha` as the number Python holds for the `f32` the user wrote (`0.35`, not
/// `0.3499999940395355`), so width rounding matches Keras' to the last filter.
pub(crate) fn python_float(alpha: f32) -> f64 {
    alpha.to_string().parse().unwrap_or(f64::from(alpha))
}

/// Keras' `int(filters * alpha)`.
fn scaled(filters: usize, alpha: f64) -> usize {
    (filters as f64 * alpha) as usize
}

/// Keras' `ReLU(6.0, name=...)`.
pub(crate) fn relu6(name: impl Into<String>) -> ReLU {
    ReLU::new().max_value(6.0).named(name)
}

/// `_depthwise_conv_block` number `id`.
fn block(net: &mut Net, x: Node, filters: usize, stride: usize, id: usize) -> Result<Node> {
    let mut x = x;
    let padding = if stride == 1 {
        Padding::Same
    } else {
        let pad = ZeroPadding2D::explicit([[0, 1], [0, 1]]).named(format!("conv_pad_{id}"));
        x = net.add(pad, x)?;
        Padding::Valid
    };
    let dw = DepthwiseConv2D::new(3)
        .padding(padding)
        .depth_multiplier(net.options.depth())
        .strides(stride)
        .use_bias(false);
    x = net.add(dw.named(format!("conv_dw_{id}")), x)?;
    x = net.add(
        BatchNormalization::new()
            .axis(3)
            .named(format!("conv_dw_{id}_bn")),
        x,
    )?;
    x = net.add(relu6(format!("conv_dw_{id}_relu")), x)?;
    let pw = Conv2D::new(filters, 1)
        .padding(Padding::Same)
        .use_bias(false);
    x = net.add(pw.named(format!("conv_pw_{id}")), x)?;
    x = net.add(
        BatchNormalization::new()
            .axis(3)
            .named(format!("conv_pw_{id}_bn")),
        x,
    )?;
    net.add(relu6(format!("conv_pw_{id}_relu")), x)
}

//! MobileNetV2 (Sandler et al., 2018) as tf-keras 2.21 builds it: `Conv1`, seventeen
//! inverted residual blocks (`block_{i}_expand`, `_depthwise`, `_project` with `_BN` and
//! `_relu`; block 0 is `expanded_conv_` without expansion; strided blocks start with a
//! `_pad` zero padding computed as Keras' `correct_pad`; equal-shaped blocks end in `_add`),
//! `Conv_1` and `out_relu`, then Keras' usual top with an auto-named pooling. Widths are
//! `alpha` times the paper's, rounded to multiples of 8 as Keras' `_make_divisible` does.

use crate::error::Result;
use crate::layers::{Add, BatchNormalization, Conv2D, DepthwiseConv2D, Padding, ZeroPadding2D};
use crate::model::Model;

use super::common::{Net, Node, PoolNames, make_divisible};
use super::mobilenet::{python_float, relu6};
use super::options::{Family, Options};

/// The blocks: (filters, stride, expansion).
const BLOCKS: [(usize, usize, usize); 17] = [
    (16, 1, 1),
    (24, 2, 6),
    (24, 1, 6),
    (32, 2, 6),
    (32, 1, 6),
    (32, 1, 6),
    (64, 2, 6),
    (64, 1, 6),
    (64, 1, 6),
    (64, 1, 6),
    (96, 1, 6),
    (96, 1, 6),
    (96, 1, 6),
    (160, 2, 6),
    (160, 1, 6),
    (160, 1, 6),
    (320, 1, 6),
];

/// MobileNetV2 (Keras' `keras.applications.MobileNetV2`): 3,538,984 parameters with the top
/// at 224×224, `alpha` 1; takes `alpha`.
pub fn mobilenet_v2(options: &Options) -> Result<Model> {
    let family = Family {
        alpha: true,
        ..Family::plain("mobilenet_v2", 224, 32)
    };
    let mut net = Net::start("mobilenet_v2", family, options)?;
    let alpha = python_float(net.options.width());
    let rows = net.shape(net.input).dims()[0];
    net.rename(format!("mobilenetv2_{alpha:.2}_{rows}"));
    let mut x = net.input;
    let first = make_divisible(32.0 * alpha);
    let conv = Conv2D::new(first, 3)
        .strides(2)
        .padding(Padding::Same)
        .use_bias(false);
    x = net.add(conv.named("Conv1"), x)?;
    x = net.add(bn("bn_Conv1"), x)?;
    x = net.add(relu6("Conv1_relu"), x)?;
    for (id, &(filters, stride, expansion)) in BLOCKS.iter().enumerate() {
        let filters = make_divisible(((filters as f64 * alpha) as usize) as f64);
        x = block(&mut net, x, filters, stride, expansion, id)?;
    }
    let last = if alpha > 1.0 {
        make_divisible(1280.0 * alpha)
    } else {
        1280
    };
    x = net.add(Conv2D::new(last, 1).use_bias(false).named("Conv_1"), x)?;
    x = net.add(bn("Conv_1_bn"), x)?;
    x = net.add(relu6("out_relu"), x)?;
    net.finish_pooled(x, None, PoolNames::AUTO)
}

/// MobileNetV2's BatchNormalization (epsilon 1e-3, momentum 0.999).
fn bn(name: impl Into<String>) -> BatchNormalization {
    BatchNormalization::new()
        .axis(3)
        .epsilon(1e-3)
        .momentum(0.999)
        .named(name)
}

/// `_inverted_res_block` number `id`.
fn block(
    net: &mut Net,
    input: Node,
    filters: usize,
    stride: usize,
    expansion: usize,
    id: usize,
) -> Result<Node> {
    let in_channels = net.shape(input).dims()[2];
    let mut x = input;
    let prefix = if id == 0 {
        "expanded_conv_".to_string()
    } else {
        let prefix = format!("block_{id}_");
        let expand = Conv2D::new(expansion * in_channels, 1)
            .padding(Padding::Same)
            .use_bias(false);
        x = net.add(expand.named(format!("{prefix}expand")), x)?;
        x = net.add(bn(format!("{prefix}expand_BN")), x)?;
        x = net.add(relu6(format!("{prefix}expand_relu")), x)?;
        prefix
    };
    let padding = if stride == 2 {
        let dims = net.shape(x).dims();
        let (h, w) = (dims[0], dims[1]);
        // Keras' correct_pad for a 3×3 kernel: one row/column less on top/left when even.
        let pad = ZeroPadding2D::explicit([[h % 2, 1], [w % 2, 1]]);
        x = net.add(pad.named(format!("{prefix}pad")), x)?;
        Padding::Valid
    } else {
        Padding::Same
    };
    let dw = DepthwiseConv2D::new(3)
        .strides(stride)
        .padding(padding)
        .use_bias(false);
    x = net.add(dw.named(format!("{prefix}depthwise")), x)?;
    x = net.add(bn(format!("{prefix}depthwise_BN")), x)?;
    x = net.add(relu6(format!("{prefix}depthwise_relu")), x)?;
    let project = Conv2D::new(filters, 1)
        .padding(Padding::Same)
        .use_bias(false);
    x = net.add(project.named(format!("{prefix}project")), x)?;
    x = net.add(bn(format!("{prefix}project_BN")), x)?;
    if in_channels == filters && stride == 1 {
        return net.merge(Add::new().named(format!("{prefix}add")), &[input, x]);
    }
    Ok(x)
}

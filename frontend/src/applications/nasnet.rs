//! NASNetMobile and NASNetLarge (Zoph et al., 2017) as tf-keras 2.21 builds them:
//! `stem_conv1`/`stem_bn1`, two stem reduction cells, then three groups of four (six)
//! normal cells separated by reduction cells (`normal_*_{id}`, `reduction_*_{id}`,
//! `separable_conv_{1,2}_[bn_]*`, `adjust_*_{id}`; the ReLUs, shortcut concatenations,
//! paddings and croppings Keras leaves auto-named), a final ReLU and Keras' usual top with
//! an auto-named pooling. Each cell also takes the previous cell's input, adjusted
//! (`_adjust_block`) to its size and width.

use crate::activations::Activation;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::layers::{
    ActivationLayer, Add, AveragePooling2D, BatchNormalization, Concatenate, Conv2D, Cropping2D,
    MaxPooling2D, Padding, SeparableConv2D, ZeroPadding2D,
};
use crate::model::Model;

use super::common::{Net, Node, PoolNames};
use super::options::{Family, Options};

/// The two NASNet-A sizes Keras builds.
struct Size {
    /// The builder's name and its default input side.
    family: Family,
    /// Penultimate filters / 24: the normal cells' width in the first group.
    filters: usize,
    /// Normal cells per group.
    blocks: usize,
    /// Filters of the stem convolution.
    stem_filters: usize,
    /// Whether a group after a reduction cell keeps the previous group's `p` (NASNetLarge).
    skip_reduction: bool,
}

/// NASNetMobile (Keras' `keras.applications.NASNetMobile`): 5,326,716 parameters with the
/// top at 224×224.
pub fn nasnet_mobile(options: &Options) -> Result<Model> {
    let size = Size {
        family: Family::plain("nasnet_mobile", 224, 32),
        filters: 1056 / 24,
        blocks: 4,
        stem_filters: 32,
        skip_reduction: false,
    };
    nasnet(&size, options)
}

/// NASNetLarge (Keras' `keras.applications.NASNetLarge`): 88,949,818 parameters with the top
/// at its default 331×331.
pub fn nasnet_large(options: &Options) -> Result<Model> {
    let size = Size {
        family: Family::plain("nasnet_large", 331, 32),
        filters: 4032 / 24,
        blocks: 6,
        stem_filters: 96,
        skip_reduction: true,
    };
    nasnet(&size, options)
}

/// A NASNet-A of `size`.
fn nasnet(size: &Size, options: &Options) -> Result<Model> {
    let mut net = Net::start("NASNet", size.family, options)?;
    let conv = Conv2D::new(size.stem_filters, 3).strides(2).use_bias(false);
    let stem = conv
        .kernel_initializer(Initializer::HeNormal)
        .named("stem_conv1");
    let x = net.add(stem, net.input)?;
    let x = net.add(bn("stem_bn1"), x)?;
    let (mut x, mut p) = reduction_cell(&mut net, x, None, size.filters / 4, "stem_1")?;
    (x, p) = reduction_cell(&mut net, x, Some(p), size.filters / 2, "stem_2")?;
    let blocks = size.blocks;
    for group in 0..3 {
        let filters = size.filters << group;
        if group > 0 {
            let id = format!("reduce_{}", group * blocks);
            let p0;
            (x, p0) = reduction_cell(&mut net, x, Some(p), filters, &id)?;
            if !size.skip_reduction {
                p = p0;
            }
        }
        for i in 0..blocks {
            let id = (group * blocks + i + usize::from(group > 0)).to_string();
            (x, p) = normal_cell(&mut net, x, p, filters, &id)?;
        }
    }
    x = net.add(ActivationLayer::new(Activation::Relu), x)?;
    net.finish_pooled(x, None, PoolNames::AUTO)
}

/// NASNet's BatchNormalization (momentum 0.9997, epsilon 1e-3).
fn bn(name: impl Into<String>) -> BatchNormalization {
    BatchNormalization::new()
        .axis(3)
        .momentum(0.9997)
        .epsilon(1e-3)
        .named(name)
}

/// An auto-named ReLU.
fn relu() -> ActivationLayer {
    ActivationLayer::new(Activation::Relu)
}

/// A 1×1 convolution without bias, He-normal initialised.
fn conv1x1(filters: usize, name: String) -> Conv2D {
    Conv2D::new(filters, 1)
        .padding(Padding::Same)
        .use_bias(false)
        .kernel_initializer(Initializer::HeNormal)
        .named(name)
}

/// Keras' `correct_pad` of `x` for a `k × k` kernel: `[[top, bottom], [left, right]]`.
fn correct_pad(net: &Net, x: Node, k: usize) -> [[usize; 2]; 2] {
    let dims = net.shape(x).dims();
    let half = k / 2;
    [
        [half - 1 + dims[0] % 2, half],
        [half - 1 + dims[1] % 2, half],
    ]
}

/// `_separable_conv_block`: twice ReLU, separable convolution, BatchNormalization (the
/// first strided and padded as `correct_pad` says when `stride` is 2).
fn separable_block(
    net: &mut Net,
    x: Node,
    filters: usize,
    k: usize,
    stride: usize,
    id: &str,
) -> Result<Node> {
    let mut y = net.add(relu(), x)?;
    let padding = if stride == 2 {
        let pad = ZeroPadding2D::explicit(correct_pad(net, y, k));
        y = net.add(pad.named(format!("separable_conv_1_pad_{id}")), y)?;
        Padding::Valid
    } else {
        Padding::Same
    };
    let sep = SeparableConv2D::new(filters, k)
        .strides(stride)
        .padding(padding)
        .use_bias(false);
    y = net.add(sep.named(format!("separable_conv_1_{id}")), y)?;
    y = net.add(bn(format!("separable_conv_1_bn_{id}")), y)?;
    y = net.add(relu(), y)?;
    let sep = SeparableConv2D::new(filters, k)
        .padding(Padding::Same)
        .use_bias(false);
    y = net.add(sep.named(format!("separable_conv_2_{id}")), y)?;
    net.add(bn(format!("separable_conv_2_bn_{id}")), y)
}

/// `_adjust_block`: the previous input `p` brought to `ip`'s size (a factorised 2× reduction)
/// or to `filters` channels (a 1×1 projection); `ip` itself when there is none.
fn adjust(net: &mut Net, p: Option<Node>, ip: Node, filters: usize, id: &str) -> Result<Node> {
    let Some(p) = p else { return Ok(ip) };
    let (p_dims, ip_dims) = (net.shape(p).dims().to_vec(), net.shape(ip).dims().to_vec());
    if p_dims[1] != ip_dims[1] {
        let p = net.add(
            ActivationLayer::new(Activation::Relu).named(format!("adjust_relu_1_{id}")),
            p,
        )?;
        let pool = |k: usize| {
            AveragePooling2D::new(1)
                .strides(2)
                .named(format!("adjust_avg_pool_{k}_{id}"))
        };
        let p1 = net.add(pool(1), p)?;
        let p1 = net.add(conv1x1(filters / 2, format!("adjust_conv_1_{id}")), p1)?;
        let p2 = net.add(ZeroPadding2D::explicit([[0, 1], [0, 1]]), p)?;
        let p2 = net.add(Cropping2D::explicit([[1, 0], [1, 0]]), p2)?;
        let p2 = net.add(pool(2), p2)?;
        let p2 = net.add(conv1x1(filters / 2, format!("adjust_conv_2_{id}")), p2)?;
        let p = net.merge(Concatenate::new(), &[p1, p2])?;
        net.add(bn(format!("adjust_bn_{id}")), p)
    } else if p_dims[2] != filters {
        let p = net.add(relu(), p)?;
        let p = net.add(conv1x1(filters, format!("adjust_conv_projection_{id}")), p)?;
        net.add(bn(format!("adjust_bn_{id}")), p)
    } else {
        Ok(p)
    }
}

/// A named sum of two tensors.
fn add(net: &mut Net, a: Node, b: Node, name: String) -> Result<Node> {
    net.merge(Add::new().named(name), &[a, b])
}

/// A 3×3 pooling with `stride`, named.
fn avg_pool(stride: usize, padding: Padding, name: String) -> AveragePooling2D {
    AveragePooling2D::new(3)
        .strides(stride)
        .padding(padding)
        .named(name)
}

/// `_normal_a_cell`: returns the cell's output and its input (the next cell's `p`).
fn normal_cell(net: &mut Net, ip: Node, p: Node, filters: usize, id: &str) -> Result<(Node, Node)> {
    let p = adjust(net, Some(p), ip, filters, id)?;
    let h = net.add(relu(), ip)?;
    let h = net.add(conv1x1(filters, format!("normal_conv_1_{id}")), h)?;
    let h = net.add(bn(format!("normal_bn_1_{id}")), h)?;
    let a = separable_block(net, h, filters, 5, 1, &format!("normal_left1_{id}"))?;
    let b = separable_block(net, p, filters, 3, 1, &format!("normal_right1_{id}"))?;
    let x1 = add(net, a, b, format!("normal_add_1_{id}"))?;
    let a = separable_block(net, p, filters, 5, 1, &format!("normal_left2_{id}"))?;
    let b = separable_block(net, p, filters, 3, 1, &format!("normal_right2_{id}"))?;
    let x2 = add(net, a, b, format!("normal_add_2_{id}"))?;
    let a = net.add(avg_pool(1, Padding::Same, format!("normal_left3_{id}")), h)?;
    let x3 = add(net, a, p, format!("normal_add_3_{id}"))?;
    let a = net.add(avg_pool(1, Padding::Same, format!("normal_left4_{id}")), p)?;
    let b = net.add(avg_pool(1, Padding::Same, format!("normal_right4_{id}")), p)?;
    let x4 = add(net, a, b, format!("normal_add_4_{id}"))?;
    let a = separable_block(net, h, filters, 3, 1, &format!("normal_left5_{id}"))?;
    let x5 = add(net, a, h, format!("normal_add_5_{id}"))?;
    let concat = Concatenate::new().named(format!("normal_concat_{id}"));
    Ok((net.merge(concat, &[p, x1, x2, x3, x4, x5])?, ip))
}

/// `_reduction_a_cell`: returns the cell's output and its input.
fn reduction_cell(
    net: &mut Net,
    ip: Node,
    p: Option<Node>,
    filters: usize,
    id: &str,
) -> Result<(Node, Node)> {
    let p = adjust(net, p, ip, filters, id)?;
    let h = net.add(relu(), ip)?;
    let h = net.add(conv1x1(filters, format!("reduction_conv_1_{id}")), h)?;
    let h = net.add(bn(format!("reduction_bn_1_{id}")), h)?;
    let pad = ZeroPadding2D::explicit(correct_pad(net, h, 3));
    let h3 = net.add(pad.named(format!("reduction_pad_1_{id}")), h)?;
    let a = separable_block(net, h, filters, 5, 2, &format!("reduction_left1_{id}"))?;
    let b = separable_block(net, p, filters, 7, 2, &format!("reduction_right1_{id}"))?;
    let x1 = add(net, a, b, format!("reduction_add_1_{id}"))?;
    let max_pool = |name: String| MaxPooling2D::new(3).strides(2).named(name);
    let a = net.add(max_pool(format!("reduction_left2_{id}")), h3)?;
    let b = separable_block(net, p, filters, 7, 2, &format!("reduction_right2_{id}"))?;
    let x2 = add(net, a, b, format!("reduction_add_2_{id}"))?;
    let a = net.add(
        avg_pool(2, Padding::Valid, format!("reduction_left3_{id}")),
        h3,
    )?;
    let b = separable_block(net, p, filters, 5, 2, &format!("reduction_right3_{id}"))?;
    let x3 = add(net, a, b, format!("reduction_add3_{id}"))?;
    let a = net.add(
        avg_pool(1, Padding::Same, format!("reduction_left4_{id}")),
        x1,
    )?;
    let x4 = net.merge(Add::new(), &[x2, a])?;
    let a = separable_block(net, x1, filters, 3, 1, &format!("reduction_left4_{id}"))?;
    let b = net.add(max_pool(format!("reduction_right5_{id}")), h3)?;
    let x5 = add(net, a, b, format!("reduction_add4_{id}"))?;
    let concat = Concatenate::new().named(format!("reduction_concat_{id}"));
    Ok((net.merge(concat, &[x2, x3, x4, x5])?, ip))
}

//! EfficientNet B0–B7 (Tan & Le, 2019) as tf-keras 2.21 builds them: the stem (`rescaling`,
//! `normalization` — its mean, variance and count are weights that Keras' files supply —,
//! `stem_conv_pad`, `stem_conv`, `stem_bn`, `stem_activation`), the MBConv blocks
//! `block{stage}{letter}_` (`expand_conv`/`_bn`/`_activation` when expanding, `dwconv_pad`
//! before a strided `dwconv`, `bn`, `activation`, the squeeze-and-excitation `se_squeeze`,
//! `se_reshape`, `se_reduce`, `se_expand`, `se_excite`, then `project_conv`, `project_bn`
//! and, for equal-shaped blocks, `drop` — the stochastic depth Dropout, its rate growing
//! with the block index — and `add`), `top_conv`, `top_bn`, `top_activation`, then
//! `avg_pool`, `top_dropout` and `predictions`. The eight variants differ only in Keras'
//! width and depth coefficients, default size and top dropout rate ([`VARIANTS`]).
//!
//! It does NOT add the `imagenet` weights' extra `1/√stddev` multiply (Keras adds that layer
//! only when it downloads its weights itself; Kiln never downloads).

use crate::activations::Activation;
use crate::error::Result;
use crate::initializers::{Distribution, FanMode, Initializer};
use crate::layers::{
    Add, BatchNormalization, Conv2D, Dense, DepthwiseConv2D, Dropout, GlobalAveragePooling2D,
    Multiply, Normalization, Padding, Rescaling, Reshape, ZeroPadding2D,
};
use crate::model::Model;

use super::common::{Net, Node, PoolNames, activation, make_divisible};
use super::options::{Family, Options};

/// One stage of blocks: (kernel size, repeats, filters in, filters out, expansion, stride).
/// Every block has squeeze-and-excitation with ratio 1/4 and an identity skip when shapes
/// allow.
const STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (3, 1, 32, 16, 1, 1),
    (3, 2, 16, 24, 6, 2),
    (5, 2, 24, 40, 6, 2),
    (3, 3, 40, 80, 6, 2),
    (5, 3, 80, 112, 6, 1),
    (5, 4, 112, 192, 6, 2),
    (3, 1, 192, 320, 6, 1),
];

/// One variant: its number, width and depth coefficients, default size and top dropout.
struct Variant {
    id: usize,
    width: f64,
    depth: f64,
    size: usize,
    dropout: f32,
}

/// Keras' `EfficientNetB0` … `EfficientNetB7` arguments.
const VARIANTS: [Variant; 8] = [
    Variant {
        id: 0,
        width: 1.0,
        depth: 1.0,
        size: 224,
        dropout: 0.2,
    },
    Variant {
        id: 1,
        width: 1.0,
        depth: 1.1,
        size: 240,
        dropout: 0.2,
    },
    Variant {
        id: 2,
        width: 1.1,
        depth: 1.2,
        size: 260,
        dropout: 0.3,
    },
    Variant {
        id: 3,
        width: 1.2,
        depth: 1.4,
        size: 300,
        dropout: 0.3,
    },
    Variant {
        id: 4,
        width: 1.4,
        depth: 1.8,
        size: 380,
        dropout: 0.4,
    },
    Variant {
        id: 5,
        width: 1.6,
        depth: 2.2,
        size: 456,
        dropout: 0.4,
    },
    Variant {
        id: 6,
        width: 1.8,
        depth: 2.6,
        size: 528,
        dropout: 0.5,
    },
    Variant {
        id: 7,
        width: 2.0,
        depth: 3.1,
        size: 600,
        dropout: 0.5,
    },
];

/// Keras' `drop_connect_rate`: the last block's stochastic depth rate.
pub(super) const DROP_CONNECT: f64 = 0.2;

/// The builder names, for errors.
const NAMES: [&str; 8] = [
    "efficientnet_b0",
    "efficientnet_b1",
    "efficientnet_b2",
    "efficientnet_b3",
    "efficientnet_b4",
    "efficientnet_b5",
    "efficientnet_b6",
    "efficientnet_b7",
];

/// EfficientNetB0 (Keras' `keras.applications.EfficientNetB0`): 5,330,571 parameters with
/// the top at 224×224.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// use kiln::applications::{efficientnet_b0, Options, Pooling};
/// let options = Options::new().include_top(false).input_shape([32, 32, 3]).pooling(Pooling::Avg);
/// assert_eq!(efficientnet_b0(&options)?.output_shape()?, kiln::Shape::from([1280]));
/// # Ok(())
/// # }
/// ```
pub fn efficientnet_b0(options: &Options) -> Result<Model> {
    efficientnet(&VARIANTS[0], options)
}

/// EfficientNetB1 (Keras' `EfficientNetB1`, default 240×240).
pub fn efficientnet_b1(options: &Options) -> Result<Model> {
    efficientnet(&VARIANTS[1], options)
}

/// EfficientNetB2 (Keras' `EfficientNetB2`, default 260×260).
pub fn efficientnet_b2(options: &Options) -> Result<Model> {
    efficientnet(&VARIANTS[2], options)
}

/// EfficientNetB3 (Keras' `EfficientNetB3`, default 300×300).
pub fn efficientnet_b3(options: &Options) -> Result<Model> {
    efficientnet(&VARIANTS[3], options)
}

/// EfficientNetB4 (Keras' `EfficientNetB4`, default 380×380).
pub fn efficientnet_b4(options: &Options) -> Result<Model> {
    efficientnet(&VARIANTS[4], options)
}

/// EfficientNetB5 (Keras' `EfficientNetB5`, default 456×456).
pub fn efficientnet_b5(options: &Options) -> Result<Model> {
    efficientnet(&VARIANTS[5], options)
}

/// EfficientNetB6 (Keras' `EfficientNetB6`, default 528×528).
pub fn efficientnet_b6(options: &Options) -> Result<Model> {
    efficientnet(&VARIANTS[6], options)
}

/// EfficientNetB7 (Keras' `EfficientNetB7`, default 600×600).
pub fn efficientnet_b7(options: &Options) -> Result<Model> {
    efficientnet(&VARIANTS[7], options)
}

/// Keras' `CONV_KERNEL_INITIALIZER`: variance scaling 2 / fan out, truncated normal.
pub(super) const CONV_INIT: Initializer = Initializer::VarianceScaling {
    scale: 2.0,
    mode: FanMode::FanOut,
    distribution: Distribution::TruncatedNormal,
};

/// Keras' `DENSE_KERNEL_INITIALIZER`: variance scaling 1/3 / fan out, uniform.
pub(super) const DENSE_INIT: Initializer = Initializer::VarianceScaling {
    scale: 1.0 / 3.0,
    mode: FanMode::FanOut,
    distribution: Distribution::Uniform,
};

/// Keras' `EfficientNet(width, depth, size, dropout, ...)`.
fn efficientnet(variant: &Variant, options: &Options) -> Result<Model> {
    let family = Family::plain(NAMES[variant.id], variant.size, 32);
    let mut net = Net::start(&format!("efficientnetb{}", variant.id), family, options)?;
    let filters = |f: usize| round_filters(f, variant.width);
    let repeats = |r: usize| (variant.depth * r as f64).ceil() as usize;
    let mut x = net.add(Rescaling::new(1.0 / 255.0), net.input)?;
    x = net.add(Normalization::new().axes(Some(&[3])), x)?;
    let pad = ZeroPadding2D::explicit(correct_pad(&net, x, 3));
    x = net.add(pad.named("stem_conv_pad"), x)?;
    let stem = conv(filters(32), 3).strides(2).padding(Padding::Valid);
    x = net.add(stem.named("stem_conv"), x)?;
    x = net.add(bn("stem_bn"), x)?;
    x = net.add(activation(Activation::Swish, "stem_activation"), x)?;
    let total = STAGES.iter().map(|s| repeats(s.1)).sum::<usize>() as f64;
    let mut b = 0;
    for (i, &(kernel, count, f_in, f_out, expansion, stride)) in STAGES.iter().enumerate() {
        for j in 0..repeats(count) {
            let letter = char::from(b'a' + j as u8);
            let block = Block {
                prefix: format!("block{}{letter}_", i + 1),
                kernel,
                filters_in: if j == 0 {
                    filters(f_in)
                } else {
                    filters(f_out)
                },
                filters_out: filters(f_out),
                expansion,
                stride: if j == 0 { stride } else { 1 },
                drop_rate: DROP_CONNECT * b as f64 / total,
            };
            x = block.add(&mut net, x)?;
            b += 1;
        }
    }
    x = net.add(conv(filters(1280), 1).named("top_conv"), x)?;
    x = net.add(bn("top_bn"), x)?;
    x = net.add(activation(Activation::Swish, "top_activation"), x)?;
    if !net.options.has_top() {
        let y = net.pool(x, PoolNames::NAMED)?;
        return net.finish(y);
    }
    x = net.add(GlobalAveragePooling2D::new().named("avg_pool"), x)?;
    x = net.add(Dropout::new(variant.dropout).named("top_dropout"), x)?;
    let dense = Dense::new(net.options.class_count())
        .activation(net.options.classifier())
        .kernel_initializer(DENSE_INIT)
        .named("predictions");
    let y = net.add(dense, x)?;
    net.finish(y)
}

/// Keras' `round_filters`: `filters` times the width coefficient, rounded to a multiple of
/// 8 (at least 8), never more than 10% below.
fn round_filters(filters: usize, width: f64) -> usize {
    make_divisible(filters as f64 * width)
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

/// A bias-free "same" convolution with Keras' EfficientNet initializer.
pub(super) fn conv(filters: usize, kernel: usize) -> Conv2D {
    Conv2D::new(filters, kernel)
        .padding(Padding::Same)
        .use_bias(false)
        .kernel_initializer(CONV_INIT)
}

/// EfficientNet's BatchNormalization (Keras' defaults on the channel axis).
fn bn(name: impl Into<String>) -> BatchNormalization {
    BatchNormalization::new().axis(3).named(name)
}

/// One MBConv block (Keras' `block`).
struct Block {
    prefix: String,
    kernel: usize,
    filters_in: usize,
    filters_out: usize,
    expansion: usize,
    stride: usize,
    drop_rate: f64,
}

impl Block {
    /// The block applied to `input`.
    fn add(&self, net: &mut Net, input: Node) -> Result<Node> {
        let p = &self.prefix;
        let filters = self.filters_in * self.expansion;
        let mut x = input;
        if self.expansion != 1 {
            x = net.add(conv(filters, 1).named(format!("{p}expand_conv")), x)?;
            x = net.add(bn(format!("{p}expand_bn")), x)?;
            x = net.add(
                activation(Activation::Swish, format!("{p}expand_activation")),
                x,
            )?;
        }
        let padding = if self.stride == 2 {
            let pad = ZeroPadding2D::explicit(correct_pad(net, x, self.kernel));
            x = net.add(pad.named(format!("{p}dwconv_pad")), x)?;
            Padding::Valid
        } else {
            Padding::Same
        };
        let dw = DepthwiseConv2D::new(self.kernel)
            .strides(self.stride)
            .padding(padding)
            .use_bias(false)
            .depthwise_initializer(CONV_INIT);
        x = net.add(dw.named(format!("{p}dwconv")), x)?;
        x = net.add(bn(format!("{p}bn")), x)?;
        x = net.add(activation(Activation::Swish, format!("{p}activation")), x)?;
        x = squeeze_excite(net, x, p, self.filters_in, filters)?;
        x = net.add(
            conv(self.filters_out, 1).named(format!("{p}project_conv")),
            x,
        )?;
        x = net.add(bn(format!("{p}project_bn")), x)?;
        if self.stride == 1 && self.filters_in == self.filters_out {
            x = skip(net, x, input, p, self.drop_rate)?;
        }
        Ok(x)
    }
}

/// The squeeze-and-excitation phase named `{p}se_…` (ratio 1/4 of the block's input
/// filters `filters_in`) on `x` with `filters` channels; shared with EfficientNetV2.
pub(super) fn squeeze_excite(
    net: &mut Net,
    x: Node,
    p: &str,
    filters_in: usize,
    filters: usize,
) -> Result<Node> {
    let reduced = (filters_in / 4).max(1);
    let mut se = net.add(
        GlobalAveragePooling2D::new().named(format!("{p}se_squeeze")),
        x,
    )?;
    se = net.add(
        Reshape::new([1, 1, filters as i64]).named(format!("{p}se_reshape")),
        se,
    )?;
    let reduce = Conv2D::new(reduced, 1)
        .padding(Padding::Same)
        .activation(Activation::Swish)
        .kernel_initializer(CONV_INIT);
    se = net.add(reduce.named(format!("{p}se_reduce")), se)?;
    let expand = Conv2D::new(filters, 1)
        .padding(Padding::Same)
        .activation(Activation::Sigmoid)
        .kernel_initializer(CONV_INIT);
    se = net.add(expand.named(format!("{p}se_expand")), se)?;
    net.merge(Multiply::new().named(format!("{p}se_excite")), &[x, se])
}

/// The identity skip `{p}add` of `x` and the block's `input`, after the stochastic depth
/// `{p}drop` (a Dropout of whole examples) when `rate` is positive.
pub(super) fn skip(net: &mut Net, x: Node, input: Node, p: &str, rate: f64) -> Result<Node> {
    let mut x = x;
    if rate > 0.0 {
        let drop = Dropout::new(rate as f32).noise_shape(vec![None, Some(1), Some(1), Some(1)]);
        x = net.add(drop.named(format!("{p}drop")), x)?;
    }
    net.merge(Add::new().named(format!("{p}add")), &[x, input])
}

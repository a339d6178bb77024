//! EfficientNetV2 B0–B3, S, M and L (Tan & Le, 2021) as tf-keras 2.21 builds them: the
//! optional preprocessing (B variants: `rescaling` to [0, 1] and a `normalization` with
//! ImageNet's fixed mean and variance, no weights; S/M/L: `rescaling` to [-1, 1]), `stem_conv`,
//! `stem_bn`, `stem_activation`, the blocks `block{stage}{letter}_` — fused MBConv
//! (`expand_conv` of the full kernel, or without expansion a `project_conv` of the full
//! kernel with `project_activation`) in the first stages, MBConv (`expand_conv`, `dwconv2`,
//! `bn`, `activation`, squeeze-and-excitation `se_*`, `project_conv`) after, both with
//! EfficientNet's stochastic depth `drop` and `add` —, `top_conv`, `top_bn`,
//! `top_activation` and the top of EfficientNet. BatchNormalization momentum is 0.9.

use crate::activations::Activation;
use crate::error::{Error, Result};
use crate::initializers::Initializer;
use crate::layers::{
    BatchNormalization, Dense, DepthwiseConv2D, Dropout, GlobalAveragePooling2D, Normalization,
    Padding, Rescaling,
};
use crate::model::Model;

use super::common::{Net, Node, PoolNames, activation};
use super::efficientnet::{CONV_INIT, DENSE_INIT, DROP_CONNECT, conv, skip, squeeze_excite};
use super::options::{Family, Options};

/// One stage: kernel, repeats, filters in, filters out, expansion, squeeze-and-excitation,
/// stride, fused.
type Stage = (usize, usize, usize, usize, usize, bool, usize, bool);

/// The B variants' stages (B0–B3 scale them).
const B: [Stage; 6] = [
    (3, 1, 32, 16, 1, false, 1, true),
    (3, 2, 16, 32, 4, false, 2, true),
    (3, 2, 32, 48, 4, false, 2, true),
    (3, 3, 48, 96, 4, true, 2, false),
    (3, 5, 96, 112, 6, true, 1, false),
    (3, 8, 112, 192, 6, true, 2, false),
];
/// EfficientNetV2-S's stages.
const S: [Stage; 6] = [
    (3, 2, 24, 24, 1, false, 1, true),
    (3, 4, 24, 48, 4, false, 2, true),
    (3, 4, 48, 64, 4, false, 2, true),
    (3, 6, 64, 128, 4, true, 2, false),
    (3, 9, 128, 160, 6, true, 1, false),
    (3, 15, 160, 256, 6, true, 2, false),
];
/// EfficientNetV2-M's stages.
const M: [Stage; 7] = [
    (3, 3, 24, 24, 1, false, 1, true),
    (3, 5, 24, 48, 4, false, 2, true),
    (3, 5, 48, 80, 4, false, 2, true),
    (3, 7, 80, 160, 4, true, 2, false),
    (3, 14, 160, 176, 6, true, 1, false),
    (3, 18, 176, 304, 6, true, 2, false),
    (3, 5, 304, 512, 6, true, 1, false),
];
/// EfficientNetV2-L's stages.
const L: [Stage; 7] = [
    (3, 4, 32, 32, 1, false, 1, true),
    (3, 7, 32, 64, 4, false, 2, true),
    (3, 7, 64, 96, 4, false, 2, true),
    (3, 10, 96, 192, 4, true, 2, false),
    (3, 19, 192, 224, 6, true, 1, false),
    (3, 25, 224, 384, 6, true, 2, false),
    (3, 7, 384, 640, 6, true, 1, false),
];

/// One variant: Keras' model name suffix, stages, width and depth coefficients, default size.
struct Variant {
    name: &'static str,
    stages: &'static [Stage],
    width: f64,
    depth: f64,
    size: usize,
}

/// EfficientNetV2B0 (Keras' `keras.applications.EfficientNetV2B0`): 7,200,312 parameters
/// with the top at 224×224; takes `include_preprocessing`.
pub fn efficientnet_v2_b0(options: &Options) -> Result<Model> {
    let v = Variant {
        name: "b0",
        stages: &B,
        width: 1.0,
        depth: 1.0,
        size: 224,
    };
    efficientnet_v2(&v, options)
}

/// EfficientNetV2B1 (Keras' `EfficientNetV2B1`, default 240×240).
pub fn efficientnet_v2_b1(options: &Options) -> Result<Model> {
    let v = Variant {
        name: "b1",
        stages: &B,
        width: 1.0,
        depth: 1.1,
        size: 240,
    };
    efficientnet_v2(&v, options)
}

/// EfficientNetV2B2 (Keras' `EfficientNetV2B2`, default 260×260).
pub fn efficientnet_v2_b2(options: &Options) -> Result<Model> {
    let v = Variant {
        name: "b2",
        stages: &B,
        width: 1.1,
        depth: 1.2,
        size: 260,
    };
    efficientnet_v2(&v, options)
}

/// EfficientNetV2B3 (Keras' `EfficientNetV2B3`, default 300×300).
pub fn efficientnet_v2_b3(options: &Options) -> Result<Model> {
    let v = Variant {
        name: "b3",
        stages: &B,
        width: 1.2,
        depth: 1.4,
        size: 300,
    };
    efficientnet_v2(&v, options)
}

/// EfficientNetV2S (Keras' `EfficientNetV2S`, default 384×384).
pub fn efficientnet_v2_s(options: &Options) -> Result<Model> {
    let v = Variant {
        name: "s",
        stages: &S,
        width: 1.0,
        depth: 1.0,
        size: 384,
    };
    efficientnet_v2(&v, options)
}

/// EfficientNetV2M (Keras' `EfficientNetV2M`, default 480×480).
pub fn efficientnet_v2_m(options: &Options) -> Result<Model> {
    let v = Variant {
        name: "m",
        stages: &M,
        width: 1.0,
        depth: 1.0,
        size: 480,
    };
    efficientnet_v2(&v, options)
}

/// EfficientNetV2L (Keras' `EfficientNetV2L`, default 480×480).
pub fn efficientnet_v2_l(options: &Options) -> Result<Model> {
    let v = Variant {
        name: "l",
        stages: &L,
        width: 1.0,
        depth: 1.0,
        size: 480,
    };
    efficientnet_v2(&v, options)
}

/// Keras' V2 `round_filters`: `filters` times the width coefficient, rounded to a multiple
/// of 8, at least 8 (no 10% rule, unlike V1).
fn round_filters(filters: usize, width: f64) -> usize {
    ((((filters as f64 * width) + 4.0) as usize) / 8 * 8).max(8)
}

/// EfficientNetV2's BatchNormalization (momentum 0.9).
fn bn(name: impl Into<String>) -> BatchNormalization {
    BatchNormalization::new().axis(3).momentum(0.9).named(name)
}

/// Keras' `EfficientNetV2(width, depth, size, ...)`.
fn efficientnet_v2(v: &Variant, options: &Options) -> Result<Model> {
    let family = Family {
        v3: true,
        ..Family::plain(builder_name(v.name), v.size, 32)
    };
    if options.is_minimalistic() {
        return Err(Error::InvalidArgument {
            name: "minimalistic",
            msg: format!("{}: only MobileNetV3 takes it", builder_name(v.name)),
        });
    }
    let mut net = Net::start(&format!("efficientnetv2-{}", v.name), family, options)?;
    let filters = |f: usize| round_filters(f, v.width);
    let mut x = net.input;
    if net.options.preprocesses() {
        x = preprocess(&mut net, x, v.name.starts_with('b'))?;
    }
    let stem = conv(filters(v.stages[0].2), 3).strides(2);
    x = net.add(stem.named("stem_conv"), x)?;
    x = net.add(bn("stem_bn"), x)?;
    x = net.add(activation(Activation::Swish, "stem_activation"), x)?;
    // Keras divides by the unrounded number of blocks.
    let total = v.stages.iter().map(|s| s.1).sum::<usize>() as f64;
    let mut b = 0;
    for (i, &(kernel, count, f_in, f_out, expansion, se, stride, fused)) in
        v.stages.iter().enumerate()
    {
        let repeats = (v.depth * count as f64).ceil() as usize;
        for j in 0..repeats {
            let block = Block {
                prefix: format!("block{}{}_", i + 1, char::from(b'a' + j as u8)),
                kernel,
                filters_in: if j == 0 {
                    filters(f_in)
                } else {
                    filters(f_out)
                },
                filters_out: filters(f_out),
                expansion,
                se,
                stride: if j == 0 { stride } else { 1 },
                drop_rate: DROP_CONNECT * b as f64 / total,
            };
            x = if fused {
                block.fused(&mut net, x)?
            } else {
                block.mbconv(&mut net, x)?
            };
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
    x = net.add(Dropout::new(0.2).named("top_dropout"), x)?;
    let dense = Dense::new(net.options.class_count())
        .activation(net.options.classifier())
        .kernel_initializer(DENSE_INIT)
        .bias_initializer(Initializer::Constant(0.0))
        .named("predictions");
    let y = net.add(dense, x)?;
    net.finish(y)
}

/// The builder's name for errors.
fn builder_name(variant: &str) -> &'static str {
    match variant {
        "b0" => "efficientnet_v2_b0",
        "b1" => "efficientnet_v2_b1",
        "b2" => "efficientnet_v2_b2",
        "b3" => "efficientnet_v2_b3",
        "s" => "efficientnet_v2_s",
        "m" => "efficientnet_v2_m",
        _ => "efficientnet_v2_l",
    }
}

/// The preprocessing: for the B variants with three channels, to [0, 1] and ImageNet's
/// mean and variance; otherwise to [-1, 1].
fn preprocess(net: &mut Net, x: Node, b_variant: bool) -> Result<Node> {
    if b_variant && net.shape(x).dims()[2] == 3 {
        let x = net.add(Rescaling::new(1.0 / 255.0), x)?;
        let variance = [0.229f64, 0.224, 0.225].map(|s| (s * s) as f32).to_vec();
        let norm = Normalization::new()
            .axes(Some(&[3]))
            .statistics(vec![0.485, 0.456, 0.406], variance);
        net.add(norm, x)
    } else {
        net.add(Rescaling::new(1.0 / 128.0).offset(-1.0), x)
    }
}

/// One block (Keras' `MBConvBlock` or `FusedMBConvBlock`).
struct Block {
    prefix: String,
    kernel: usize,
    filters_in: usize,
    filters_out: usize,
    expansion: usize,
    se: bool,
    stride: usize,
    drop_rate: f64,
}

impl Block {
    /// `expand_conv`, `expand_bn`, `expand_activation` with a `kernel` × `kernel` window.
    fn expand(&self, net: &mut Net, x: Node, kernel: usize, stride: usize) -> Result<Node> {
        let p = &self.prefix;
        let expand = conv(self.filters_in * self.expansion, kernel).strides(stride);
        let x = net.add(expand.named(format!("{p}expand_conv")), x)?;
        let x = net.add(bn(format!("{p}expand_bn")), x)?;
        net.add(
            activation(Activation::Swish, format!("{p}expand_activation")),
            x,
        )
    }

    /// The skip connection when the block keeps its shape.
    fn end(&self, net: &mut Net, x: Node, input: Node) -> Result<Node> {
        if self.stride == 1 && self.filters_in == self.filters_out {
            return skip(net, x, input, &self.prefix, self.drop_rate);
        }
        Ok(x)
    }

    /// `MBConvBlock`.
    fn mbconv(&self, net: &mut Net, input: Node) -> Result<Node> {
        let p = &self.prefix;
        let filters = self.filters_in * self.expansion;
        let mut x = input;
        if self.expansion != 1 {
            x = self.expand(net, x, 1, 1)?;
        }
        let dw = DepthwiseConv2D::new(self.kernel)
            .strides(self.stride)
            .padding(Padding::Same)
            .use_bias(false)
            .depthwise_initializer(CONV_INIT);
        x = net.add(dw.named(format!("{p}dwconv2")), x)?;
        x = net.add(bn(format!("{p}bn")), x)?;
        x = net.add(activation(Activation::Swish, format!("{p}activation")), x)?;
        if self.se {
            x = squeeze_excite(net, x, p, self.filters_in, filters)?;
        }
        x = net.add(
            conv(self.filters_out, 1).named(format!("{p}project_conv")),
            x,
        )?;
        x = net.add(bn(format!("{p}project_bn")), x)?;
        self.end(net, x, input)
    }

    /// `FusedMBConvBlock`.
    fn fused(&self, net: &mut Net, input: Node) -> Result<Node> {
        let p = &self.prefix;
        let filters = self.filters_in * self.expansion;
        let mut x = input;
        let expanded = self.expansion != 1;
        if expanded {
            x = self.expand(net, x, self.kernel, self.stride)?;
        }
        if self.se {
            x = squeeze_excite(net, x, p, self.filters_in, filters)?;
        }
        let (kernel, stride) = if expanded {
            (1, 1)
        } else {
            (self.kernel, self.stride)
        };
        let project = conv(self.filters_out, kernel).strides(stride);
        x = net.add(project.named(format!("{p}project_conv")), x)?;
        x = net.add(bn(format!("{p}project_bn")), x)?;
        if !expanded {
            x = net.add(
                activation(Activation::Swish, format!("{p}project_activation")),
                x,
            )?;
        }
        self.end(net, x, input)
    }
}

//! RegNetX and RegNetY002 (Radosavovic et al., 2020) as tf-keras 2.21 builds them: the optional
//! `{model}_prestem_rescaling` to [0, 1], the stem `{model}_stem_conv`/`_bn`/`_relu`, four
//! stages of X blocks `{model}_Stage_{s}_XBlock_{i}_` (1×1 `conv_1x1_1`, grouped 3×3
//! `conv_3x3` of `group_width` channels per group, 1×1 `conv_1x1_2`, each with `_bn` and but
//! the last `_relu`; the first block of a stage is strided with a projection `skip_1x1` and
//! `skip_bn`), the residual sum as Keras records it (a `TFOpLambda` `tf.__operators__.add`)
//! and `exit_relu`; then Keras' head `1_head_gap` and `1head_dense`. As in tf-keras 2.21, the
//! head's Dense has no activation (Keras checks `classifier_activation` but never applies
//! it), so the model outputs logits.
//!
//! Y blocks (`YBlock_{i}_`) add Keras' squeeze-and-excitation after `conv_3x3_relu`
//! (`squeeze_and_excite_gap`, `_squeeze`, `_excite`, and the gate product as the `TFOpLambda`
//! `tf.math.multiply`). Only RegNetY002 is built yet; Y004–Y320 need only their table rows.

use serde_json::{Map, Value};

use crate::activations::Activation;
use crate::error::{Error, Result};
use crate::initializers::Initializer;
use crate::layers::{BatchNormalization, Conv2D, Dense, GlobalAveragePooling2D, Padding};
use crate::layers::{ReLU, Rescaling, TFOpLambda};
use crate::model::Model;

use super::common::{Net, Node, PoolNames};
use super::options::{Family, Options};

/// One RegNetX variant: Keras' name, blocks per stage, widths per stage, group width.
struct Variant {
    builder: &'static str,
    name: &'static str,
    depths: [usize; 4],
    widths: [usize; 4],
    group_width: usize,
    /// Y blocks (X blocks with squeeze-and-excitation) instead of X blocks.
    y: bool,
}

/// RegNetX002 (Keras' `keras.applications.RegNetX002`): 2,705,640 parameters with the top at
/// 224×224; takes `include_preprocessing`.
pub fn regnet_x002(options: &Options) -> Result<Model> {
    let v = Variant {
        builder: "regnet_x002",
        name: "regnetx002",
        depths: [1, 1, 4, 7],
        widths: [24, 56, 152, 368],
        group_width: 8,
        y: false,
    };
    regnet(&v, options)
}

/// RegNetX004 (Keras' `RegNetX004`) (the same code, its own widths and depths).
pub fn regnet_x004(options: &Options) -> Result<Model> {
    let v = Variant {
        builder: "regnet_x004",
        name: "regnetx004",
        depths: [1, 2, 7, 12],
        widths: [32, 64, 160, 384],
        group_width: 16,
        y: false,
    };
    regnet(&v, options)
}

/// RegNetX006 (Keras' `RegNetX006`) (the same code, its own widths and depths).
pub fn regnet_x006(options: &Options) -> Result<Model> {
    let v = Variant {
        builder: "regnet_x006",
        name: "regnetx006",
        depths: [1, 3, 5, 7],
        widths: [48, 96, 240, 528],
        group_width: 24,
        y: false,
    };
    regnet(&v, options)
}

/// RegNetX008 (Keras' `RegNetX008`) (the same code, its own widths and depths).
pub fn regnet_x008(options: &Options) -> Result<Model> {
    let v = Variant {
        builder: "regnet_x008",
        name: "regnetx008",
        depths: [1, 3, 7, 5],
        widths: [64, 128, 288, 672],
        group_width: 16,
        y: false,
    };
    regnet(&v, options)
}

/// RegNetX016 (Keras' `RegNetX016`) (the same code, its own widths and depths).
pub fn regnet_x016(options: &Options) -> Result<Model> {
    let v = Variant {
        builder: "regnet_x016",
        name: "regnetx016",
        depths: [2, 4, 10, 2],
        widths: [72, 168, 408, 912],
        group_width: 24,
        y: false,
    };
    regnet(&v, options)
}

/// RegNetX032 (Keras' `RegNetX032`) (the same code, its own widths and depths).
pub fn regnet_x032(options: &Options) -> Result<Model> {
    let v = Variant {
        builder: "regnet_x032",
        name: "regnetx032",
        depths: [2, 6, 15, 2],
        widths: [96, 192, 432, 1008],
        group_width: 48,
        y: false,
    };
    regnet(&v, options)
}

/// RegNetX040 (Keras' `RegNetX040`) (the same code, its own widths and depths).
pub fn regnet_x040(options: &Options) -> Result<Model> {
    let v = Variant {
        builder: "regnet_x040",
        name: "regnetx040",
        depths: [2, 5, 14, 2],
        widths: [80, 240, 560, 1360],
        group_width: 40,
        y: false,
    };
    regnet(&v, options)
}

/// RegNetX064 (Keras' `RegNetX064`) (the same code, its own widths and depths).
pub fn regnet_x064(options: &Options) -> Result<Model> {
    let v = Variant {
        builder: "regnet_x064",
        name: "regnetx064",
        depths: [2, 4, 10, 1],
        widths: [168, 392, 784, 1624],
        group_width: 56,
        y: false,
    };
    regnet(&v, options)
}

/// RegNetX080 (Keras' `RegNetX080`) (the same code, its own widths and depths).
pub fn regnet_x080(options: &Options) -> Result<Model> {
    let v = Variant {
        builder: "regnet_x080",
        name: "regnetx080",
        depths: [2, 5, 15, 1],
        widths: [80, 240, 720, 1920],
        group_width: 120,
        y: false,
    };
    regnet(&v, options)
}

/// RegNetX120 (Keras' `RegNetX120`) (the same code, its own widths and depths).
pub fn regnet_x120(options: &Options) -> Result<Model> {
    let v = Variant {
        builder: "regnet_x120",
        name: "regnetx120",
        depths: [2, 5, 11, 1],
        widths: [224, 448, 896, 2240],
        group_width: 112,
        y: false,
    };
    regnet(&v, options)
}

/// RegNetX160 (Keras' `RegNetX160`) (the same code, its own widths and depths).
pub fn regnet_x160(options: &Options) -> Result<Model> {
    let v = Variant {
        builder: "regnet_x160",
        name: "regnetx160",
        depths: [2, 6, 13, 1],
        widths: [256, 512, 896, 2048],
        group_width: 128,
        y: false,
    };
    regnet(&v, options)
}

/// RegNetX320 (Keras' `RegNetX320`) (the same code, its own widths and depths).
pub fn regnet_x320(options: &Options) -> Result<Model> {
    let v = Variant {
        builder: "regnet_x320",
        name: "regnetx320",
        depths: [2, 7, 13, 1],
        widths: [336, 672, 1344, 2520],
        group_width: 168,
        y: false,
    };
    regnet(&v, options)
}

/// RegNetY002 (Keras' `RegNetY002`): RegNetX002's widths with Y blocks
/// (squeeze-and-excitation after the grouped convolution).
pub fn regnet_y002(options: &Options) -> Result<Model> {
    let v = Variant {
        builder: "regnet_y002",
        name: "regnety002",
        depths: [1, 1, 4, 7],
        widths: [24, 56, 152, 368],
        group_width: 8,
        y: true,
    };
    regnet(&v, options)
}

/// RegNet's BatchNormalization (momentum 0.9, epsilon 1e-5).
fn bn(name: String) -> BatchNormalization {
    BatchNormalization::new()
        .axis(3)
        .momentum(0.9)
        .epsilon(1e-5)
        .named(name)
}

/// A bias-free convolution with Keras' `he_normal` kernels, named `name`.
fn conv(filters: usize, kernel: usize, name: String) -> Conv2D {
    Conv2D::new(filters, kernel)
        .use_bias(false)
        .kernel_initializer(Initializer::HeNormal)
        .named(name)
}

/// Keras' `RegNet(depths, widths, group_width, "X", 224, ...)`.
fn regnet(v: &Variant, options: &Options) -> Result<Model> {
    let family = Family {
        v3: true,
        ..Family::plain(v.builder, 224, 32)
    };
    if options.is_minimalistic() {
        return Err(Error::InvalidArgument {
            name: "minimalistic",
            msg: format!("{}: only MobileNetV3 takes it", v.builder),
        });
    }
    let m = v.name;
    let mut net = Net::start(m, family, options)?;
    let mut x = net.input;
    if net.options.preprocesses() {
        let rescale = Rescaling::new(1.0 / 255.0).named(format!("{m}_prestem_rescaling"));
        x = net.add(rescale, x)?;
    }
    let stem = conv(32, 3, format!("{m}_stem_conv"))
        .strides(2)
        .padding(Padding::Same);
    x = net.add(stem, x)?;
    x = net.add(bn(format!("{m}_stem_bn")), x)?;
    x = net.add(ReLU::new().named(format!("{m}_stem_relu")), x)?;
    let mut ops = [0, 0];
    for (s, (&depth, &width)) in v.depths.iter().zip(&v.widths).enumerate() {
        for i in 0..depth {
            let kind = if v.y { "Y" } else { "X" };
            let block = Block {
                prefix: format!("{m}_Stage_{s}_{kind}Block_{i}_"),
                filters: width,
                group_width: v.group_width,
                stride: if i == 0 { 2 } else { 1 },
                se: v.y,
            };
            x = block.add(&mut net, x, &mut ops)?;
        }
    }
    if !net.options.has_top() {
        let y = net.pool(x, PoolNames::AUTO)?;
        return net.finish(y);
    }
    x = net.add(GlobalAveragePooling2D::new().named("1_head_gap"), x)?;
    let dense = Dense::new(net.options.class_count()).named("1head_dense");
    let y = net.add(dense, x)?;
    net.finish(y)
}

/// One X or Y block (Keras' `XBlock`, `YBlock`).
struct Block {
    prefix: String,
    filters: usize,
    group_width: usize,
    stride: usize,
    se: bool,
}

/// A `tf.{function}` layer numbered as Keras numbers it (`count` so far).
fn tf_op(function: &str, count: &mut usize) -> Result<TFOpLambda> {
    let name = match *count {
        0 => format!("tf.{function}"),
        n => format!("tf.{function}_{n}"),
    };
    *count += 1;
    let mut kwargs = Map::new();
    kwargs.insert("name".into(), Value::Null);
    TFOpLambda::new(function)?
        .with_call_kwargs(&kwargs)
        .map(|op| op.named(name))
}

impl Block {
    /// The block on `input`; `ops` counts the `tf.__operators__.add` and `tf.math.multiply`
    /// layers so far.
    fn add(&self, net: &mut Net, input: Node, ops: &mut [usize; 2]) -> Result<Node> {
        let (p, filters) = (&self.prefix, self.filters);
        let in_filters = net.shape(input).dims()[2];
        let skip = if self.stride == 1 {
            input
        } else {
            let skip = conv(filters, 1, format!("{p}skip_1x1")).strides(self.stride);
            let skip = net.add(skip, input)?;
            net.add(bn(format!("{p}skip_bn")), skip)?
        };
        let mut x = net.add(conv(filters, 1, format!("{p}conv_1x1_1")), input)?;
        x = net.add(bn(format!("{p}conv_1x1_1_bn")), x)?;
        x = net.add(ReLU::new().named(format!("{p}conv_1x1_1_relu")), x)?;
        let grouped = conv(filters, 3, format!("{p}conv_3x3"))
            .strides(self.stride)
            .padding(Padding::Same)
            // Keras' Conv2D takes `groups=0` (RegNetX080's first stage: 80 // 120) as 1.
            .groups((filters / self.group_width).max(1));
        x = net.add(grouped, x)?;
        x = net.add(bn(format!("{p}conv_3x3_bn")), x)?;
        x = net.add(ReLU::new().named(format!("{p}conv_3x3_relu")), x)?;
        if self.se {
            x = squeeze_excite(net, x, p, in_filters / 4, filters, &mut ops[1])?;
        }
        x = net.add(conv(filters, 1, format!("{p}conv_1x1_2")), x)?;
        x = net.add(bn(format!("{p}conv_1x1_2_bn")), x)?;
        let sum = net.merge(tf_op("__operators__.add", &mut ops[0])?, &[x, skip])?;
        net.add(ReLU::new().named(format!("{p}exit_relu")), sum)
    }
}

/// Keras' `SqueezeAndExciteBlock` with the block's prefix `p` (`{p}squeeze_and_excite_gap`,
/// `_squeeze`, `_excite`): `x` times a sigmoid gate from `reduced` channels.
fn squeeze_excite(
    net: &mut Net,
    x: Node,
    p: &str,
    reduced: usize,
    filters: usize,
    multiplies: &mut usize,
) -> Result<Node> {
    let s = format!("{p}squeeze_and_excite_");
    let gap = GlobalAveragePooling2D::new().keepdims(true);
    let mut g = net.add(gap.named(format!("{s}gap")), x)?;
    let squeeze = Conv2D::new(reduced, 1)
        .activation(Activation::Relu)
        .kernel_initializer(Initializer::HeNormal);
    g = net.add(squeeze.named(format!("{s}squeeze")), g)?;
    let excite = Conv2D::new(filters, 1)
        .activation(Activation::Sigmoid)
        .kernel_initializer(Initializer::HeNormal);
    g = net.add(excite.named(format!("{s}excite")), g)?;
    net.merge(tf_op("math.multiply", multiplies)?, &[g, x])
}

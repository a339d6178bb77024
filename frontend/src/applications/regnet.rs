//! RegNetX (Radosavovic et al., 2020) as tf-keras 2.21 builds it: the optional
//! `{model}_prestem_rescaling` to [0, 1], the stem `{model}_stem_conv`/`_bn`/`_relu`, four
//! stages of X blocks `{model}_Stage_{s}_XBlock_{i}_` (1×1 `conv_1x1_1`, grouped 3×3
//! `conv_3x3` of `group_width` channels per group, 1×1 `conv_1x1_2`, each with `_bn` and but
//! the last `_relu`; the first block of a stage is strided with a projection `skip_1x1` and
//! `skip_bn`), the residual sum as Keras records it (a `TFOpLambda` `tf.__operators__.add`)
//! and `exit_relu`; then Keras' head `1_head_gap` and `1head_dense`. As in tf-keras 2.21, the
//! head's Dense has no activation (Keras checks `classifier_activation` but never applies
//! it), so the model outputs logits.
//!
//! It does NOT build the Y variants (squeeze-and-excitation blocks) yet.

use serde_json::{Map, Value};

use crate::error::Result;
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
        return Err(crate::Error::InvalidArgument {
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
    let mut adds = 0;
    for (s, (&depth, &width)) in v.depths.iter().zip(&v.widths).enumerate() {
        for i in 0..depth {
            let p = format!("{m}_Stage_{s}_XBlock_{i}_");
            let stride = if i == 0 { 2 } else { 1 };
            x = x_block(&mut net, x, width, v.group_width, stride, &p, &mut adds)?;
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

/// Keras' `XBlock` named `p`; `adds` counts the `tf.__operators__.add` layers so far.
fn x_block(
    net: &mut Net,
    input: Node,
    filters: usize,
    group_width: usize,
    stride: usize,
    p: &str,
    adds: &mut usize,
) -> Result<Node> {
    let skip = if stride == 1 {
        input
    } else {
        let skip = conv(filters, 1, format!("{p}skip_1x1")).strides(stride);
        let skip = net.add(skip, input)?;
        net.add(bn(format!("{p}skip_bn")), skip)?
    };
    let mut x = net.add(conv(filters, 1, format!("{p}conv_1x1_1")), input)?;
    x = net.add(bn(format!("{p}conv_1x1_1_bn")), x)?;
    x = net.add(ReLU::new().named(format!("{p}conv_1x1_1_relu")), x)?;
    let grouped = conv(filters, 3, format!("{p}conv_3x3"))
        .strides(stride)
        .padding(Padding::Same)
        // Keras' Conv2D takes `groups=0` (RegNetX080's first stage: 80 // 120) as 1.
        .groups((filters / group_width).max(1));
    x = net.add(grouped, x)?;
    x = net.add(bn(format!("{p}conv_3x3_bn")), x)?;
    x = net.add(ReLU::new().named(format!("{p}conv_3x3_relu")), x)?;
    x = net.add(conv(filters, 1, format!("{p}conv_1x1_2")), x)?;
    x = net.add(bn(format!("{p}conv_1x1_2_bn")), x)?;
    let name = match *adds {
        0 => "tf.__operators__.add".to_string(),
        n => format!("tf.__operators__.add_{n}"),
    };
    *adds += 1;
    let mut kwargs = Map::new();
    kwargs.insert("name".into(), Value::Null);
    let add = TFOpLambda::new("__operators__.add")?
        .with_call_kwargs(&kwargs)?
        .named(name);
    let sum = net.merge(add, &[x, skip])?;
    net.add(ReLU::new().named(format!("{p}exit_relu")), sum)
}

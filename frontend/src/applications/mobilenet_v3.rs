//! MobileNetV3 Small and Large (Howard et al., 2019) as tf-keras 2.21 builds them: the
//! optional `rescaling` to [-1, 1], `Conv` and `Conv/BatchNorm`, the inverted residual
//! blocks `expanded_conv/` and `expanded_conv_{i}/` (`expand`, `depthwise/pad` before a
//! strided `depthwise`, the squeeze-and-excitation `squeeze_excite/AvgPool`, `/Conv`,
//! `/Relu`, `/Conv_1`, `/Mul`, `project`, each convolution's `/BatchNorm`, and `Add`), `Conv_1`
//! and its BatchNorm, then the top: a kept-dims global pooling, `Conv_2`, `dropout`,
//! `Logits`, `flatten` and `Predictions`. Hard sigmoid and hard swish are Keras' own layer
//! graphs (`x + 3` and `· 1/6` as `TFOpLambda` layers around a `ReLU(6)`, then a
//! `Multiply`), so names and weight files line up; `minimalistic` uses ReLU only.
//! Widths are `alpha` times the paper's, rounded as Keras' `_depth` rounds them.

use serde_json::{Map, json};

use crate::error::Result;
use crate::layers::{
    Add, BatchNormalization, Conv2D, DepthwiseConv2D, Dropout, Flatten, GlobalAveragePooling2D,
    Multiply, Padding, ReLU, Rescaling, TFOpLambda, ZeroPadding2D,
};
use crate::model::Model;

use super::common::{Net, Node, PoolNames, activation, make_divisible};
use super::mobilenet::python_float;
use super::options::{Family, Options};

/// A block: expansion, filters, kernel (`None`: the variant's kernel), stride, whether it
/// has squeeze-and-excitation (when not minimalistic), whether it uses the variant's
/// activation (else ReLU).
type BlockSpec = (f64, usize, Option<usize>, usize, bool, bool);

/// MobileNetV3Small's blocks.
const SMALL: [BlockSpec; 11] = [
    (1.0, 16, Some(3), 2, true, false),
    (72.0 / 16.0, 24, Some(3), 2, false, false),
    (88.0 / 24.0, 24, Some(3), 1, false, false),
    (4.0, 40, None, 2, true, true),
    (6.0, 40, None, 1, true, true),
    (6.0, 40, None, 1, true, true),
    (3.0, 48, None, 1, true, true),
    (3.0, 48, None, 1, true, true),
    (6.0, 96, None, 2, true, true),
    (6.0, 96, None, 1, true, true),
    (6.0, 96, None, 1, true, true),
];

/// MobileNetV3Large's blocks.
const LARGE: [BlockSpec; 15] = [
    (1.0, 16, Some(3), 1, false, false),
    (4.0, 24, Some(3), 2, false, false),
    (3.0, 24, Some(3), 1, false, false),
    (3.0, 40, None, 2, true, false),
    (3.0, 40, None, 1, true, false),
    (3.0, 40, None, 1, true, false),
    (6.0, 80, Some(3), 2, false, true),
    (2.5, 80, Some(3), 1, false, true),
    (2.3, 80, Some(3), 1, false, true),
    (2.3, 80, Some(3), 1, false, true),
    (6.0, 112, Some(3), 1, true, true),
    (6.0, 112, Some(3), 1, true, true),
    (6.0, 160, None, 2, true, true),
    (6.0, 160, None, 1, true, true),
    (6.0, 160, None, 1, true, true),
];

/// MobileNetV3Small (Keras' `keras.applications.MobileNetV3Small`): 2,554,968 parameters
/// with the top at 224×224; takes `alpha`, `minimalistic`, `dropout` (Keras'
/// `dropout_rate`, default 0.2) and `include_preprocessing`.
pub fn mobilenet_v3_small(options: &Options) -> Result<Model> {
    mobilenet_v3("small", &SMALL, 1024, options)
}

/// MobileNetV3Large (Keras' `keras.applications.MobileNetV3Large`): 5,507,432 parameters
/// with the top at 224×224; takes the same arguments as [`mobilenet_v3_small`].
pub fn mobilenet_v3_large(options: &Options) -> Result<Model> {
    mobilenet_v3("large", &LARGE, 1280, options)
}

/// MobileNetV3's BatchNormalization (epsilon 1e-3, momentum 0.999).
fn bn(name: impl Into<String>) -> BatchNormalization {
    BatchNormalization::new()
        .axis(3)
        .epsilon(1e-3)
        .momentum(0.999)
        .named(name)
}

/// The activations as Keras' layer graphs, with its session-wide names of the `TFOpLambda`
/// layers (`tf.__operators__.add_3`).
struct Activations {
    adds: usize,
    multiplies: usize,
    hard_swish: bool,
}

impl Activations {
    /// `tf.{function}` numbered as Keras numbers it, with `y` as the call's argument.
    fn op(&mut self, function: &str, y: f64) -> Result<TFOpLambda> {
        let count = if function == "__operators__.add" {
            &mut self.adds
        } else {
            &mut self.multiplies
        };
        let name = match *count {
            0 => format!("tf.{function}"),
            n => format!("tf.{function}_{n}"),
        };
        *count += 1;
        let mut kwargs = Map::new();
        kwargs.insert("y".into(), json!(y));
        kwargs.insert("name".into(), json!(null));
        Ok(TFOpLambda::new(function)?
            .with_call_kwargs(&kwargs)?
            .named(name))
    }

    /// Keras' `hard_sigmoid`: `ReLU(6)(x + 3) · (1/6)`.
    fn hard_sigmoid(&mut self, net: &mut Net, x: Node) -> Result<Node> {
        let shifted = net.add(self.op("__operators__.add", 3.0)?, x)?;
        let clipped = net.add(ReLU::new().max_value(6.0), shifted)?;
        net.add(self.op("math.multiply", 1.0 / 6.0)?, clipped)
    }

    /// The block's activation: the variant's (hard swish unless minimalistic) or ReLU.
    fn apply(&mut self, net: &mut Net, x: Node, variant: bool) -> Result<Node> {
        if variant && self.hard_swish {
            let gate = self.hard_sigmoid(net, x)?;
            net.merge(Multiply::new(), &[x, gate])
        } else {
            net.add(ReLU::new(), x)
        }
    }
}

/// Keras' `MobileNetV3(stack_fn, last_point_ch, ...)`.
fn mobilenet_v3(
    kind: &'static str,
    blocks: &[BlockSpec],
    last_point: usize,
    options: &Options,
) -> Result<Model> {
    let family = Family {
        alpha: true,
        dropout: Some(0.2),
        v3: true,
        ..Family::plain(
            if kind == "small" {
                "mobilenet_v3_small"
            } else {
                "mobilenet_v3_large"
            },
            224,
            32,
        )
    };
    let mut net = Net::start(&format!("MobilenetV3{kind}"), family, options)?;
    let alpha = python_float(net.options.width());
    let minimalistic = net.options.is_minimalistic();
    let mut acts = Activations {
        adds: 0,
        multiplies: 0,
        hard_swish: !minimalistic,
    };
    let mut x = net.input;
    if net.options.preprocesses() {
        x = net.add(Rescaling::new(1.0 / 127.5).offset(-1.0), x)?;
    }
    let conv = Conv2D::new(16, 3)
        .strides(2)
        .padding(Padding::Same)
        .use_bias(false);
    x = net.add(conv.named("Conv"), x)?;
    x = net.add(bn("Conv/BatchNorm"), x)?;
    x = acts.apply(&mut net, x, true)?;
    let kernel = if minimalistic { 3 } else { 5 };
    for (id, &(expansion, filters, k, stride, se, variant)) in blocks.iter().enumerate() {
        let block = Block {
            id,
            expansion,
            filters: make_divisible(filters as f64 * alpha),
            kernel: k.unwrap_or(kernel),
            stride,
            se: se && !minimalistic,
            variant,
        };
        x = block.add(&mut net, &mut acts, x)?;
    }
    let channels = net.shape(x).dims()[2];
    let last_conv = Conv2D::new(make_divisible((channels * 6) as f64), 1)
        .padding(Padding::Same)
        .use_bias(false);
    x = net.add(last_conv.named("Conv_1"), x)?;
    x = net.add(bn("Conv_1/BatchNorm"), x)?;
    x = acts.apply(&mut net, x, true)?;
    top(net, &mut acts, x, last_point, alpha)
}

/// The end: without the top, the chosen pooling; with it, a kept-dims pooling, `Conv_2`
/// (wider when `alpha` > 1), the activation, `dropout`, `Logits`, `flatten`, `Predictions`.
fn top(
    mut net: Net,
    acts: &mut Activations,
    x: Node,
    last_point: usize,
    alpha: f64,
) -> Result<Model> {
    let mut x = x;
    if !net.options.has_top() {
        let y = net.pool(x, PoolNames::NAMED)?;
        return net.finish(y);
    }
    let last_point = if alpha > 1.0 {
        make_divisible(last_point as f64 * alpha)
    } else {
        last_point
    };
    x = net.add(GlobalAveragePooling2D::new().keepdims(true), x)?;
    x = net.add(
        Conv2D::new(last_point, 1)
            .padding(Padding::Same)
            .named("Conv_2"),
        x,
    )?;
    x = acts.apply(&mut net, x, true)?;
    let rate = net.options.dropout_rate(&net.family);
    if rate > 0.0 {
        x = net.add(Dropout::new(rate), x)?;
    }
    let classes = net.options.class_count();
    x = net.add(
        Conv2D::new(classes, 1)
            .padding(Padding::Same)
            .named("Logits"),
        x,
    )?;
    x = net.add(Flatten::new(), x)?;
    let y = net.add(activation(net.options.classifier(), "Predictions"), x)?;
    net.finish(y)
}

/// One `_inverted_res_block`.
struct Block {
    id: usize,
    expansion: f64,
    filters: usize,
    kernel: usize,
    stride: usize,
    se: bool,
    variant: bool,
}

impl Block {
    /// The block applied to `input`.
    fn add(&self, net: &mut Net, acts: &mut Activations, input: Node) -> Result<Node> {
        let in_filters = net.shape(input).dims()[2];
        let expanded = make_divisible(in_filters as f64 * self.expansion);
        let mut x = input;
        let p = if self.id == 0 {
            "expanded_conv/".to_string()
        } else {
            let p = format!("expanded_conv_{}/", self.id);
            let expand = Conv2D::new(expanded, 1)
                .padding(Padding::Same)
                .use_bias(false);
            x = net.add(expand.named(format!("{p}expand")), x)?;
            x = net.add(bn(format!("{p}expand/BatchNorm")), x)?;
            x = acts.apply(net, x, self.variant)?;
            p
        };
        if self.stride == 2 {
            let dims = net.shape(x).dims();
            let half = self.kernel / 2;
            let pad = [
                [half - 1 + dims[0] % 2, half],
                [half - 1 + dims[1] % 2, half],
            ];
            x = net.add(
                ZeroPadding2D::explicit(pad).named(format!("{p}depthwise/pad")),
                x,
            )?;
        }
        let padding = if self.stride == 1 {
            Padding::Same
        } else {
            Padding::Valid
        };
        let dw = DepthwiseConv2D::new(self.kernel)
            .strides(self.stride)
            .padding(padding)
            .use_bias(false);
        x = net.add(dw.named(format!("{p}depthwise")), x)?;
        x = net.add(bn(format!("{p}depthwise/BatchNorm")), x)?;
        x = acts.apply(net, x, self.variant)?;
        if self.se {
            x = squeeze_excite(net, acts, x, expanded, &p)?;
        }
        let project = Conv2D::new(self.filters, 1)
            .padding(Padding::Same)
            .use_bias(false);
        x = net.add(project.named(format!("{p}project")), x)?;
        x = net.add(bn(format!("{p}project/BatchNorm")), x)?;
        if self.stride == 1 && in_filters == self.filters {
            x = net.merge(Add::new().named(format!("{p}Add")), &[input, x])?;
        }
        Ok(x)
    }
}

/// Keras' `_se_block` with ratio 1/4.
fn squeeze_excite(
    net: &mut Net,
    acts: &mut Activations,
    input: Node,
    filters: usize,
    p: &str,
) -> Result<Node> {
    let s = format!("{p}squeeze_excite/");
    let pool = GlobalAveragePooling2D::new().keepdims(true);
    let mut x = net.add(pool.named(format!("{s}AvgPool")), input)?;
    let reduce = Conv2D::new(make_divisible(filters as f64 * 0.25), 1).padding(Padding::Same);
    x = net.add(reduce.named(format!("{s}Conv")), x)?;
    x = net.add(ReLU::new().named(format!("{s}Relu")), x)?;
    x = net.add(
        Conv2D::new(filters, 1)
            .padding(Padding::Same)
            .named(format!("{s}Conv_1")),
        x,
    )?;
    x = acts.hard_sigmoid(net, x)?;
    net.merge(Multiply::new().named(format!("{s}Mul")), &[input, x])
}

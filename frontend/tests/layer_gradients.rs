//! Layer-level gradient checks: every Keras layer lowered by `Layer::build`, differentiated by
//! `passes::autodiff::grad`, against central finite differences on the reference interpreter;
//! and a hand-computed Conv2D `same`-padding case through the compiled model.
//!
//! Each case builds one layer on a graph input `x` with its parameters as graph params,
//! appends `loss = sum(output * fixed_random_weights)`, and compares `grad(loss, [x, every
//! trainable param])` against `(loss(v + eps) - loss(v - eps)) / 2 eps` element by element.
//! Inputs are drawn away from kinks and ties (ReLU-like inputs away from their corners,
//! max-pooling inputs distinct and spaced) so a perturbation never crosses one; where a
//! ReLU sits inside a layer (a conv's activation), the values are redrawn until every ReLU
//! input is at least `KINK_MARGIN` from 0.
//!
//! Tolerance (f32 interpreter, the finite-difference loss summed in f64): `eps = 1e-2`, and an
//! analytic value `a` matches a numeric value `n` when `|a - n| <= 5e-3 + 2e-2 * max(|a|, |n|)`.

use std::collections::HashMap;

use ir::interp::{Bindings, eval};
use ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Shape, Tensor, UnaryOp};
use kiln::layers::LayerContext;
use kiln::losses::MeanSquaredError;
use kiln::metrics::Accuracy;
use kiln::optimizers::SGD;
use kiln::prelude::*;
use passes::autodiff::grad;

const EPS: f32 = 1e-2;
const ABS_TOL: f64 = 5e-3;
const REL_TOL: f64 = 2e-2;
/// How far every ReLU input must stay from its kink at 0: more than a perturbation of one
/// value by `eps` can move it (values and coefficients are at most 1.5 in magnitude).
const KINK_MARGIN: f32 = 0.02;
/// Draws tried before a case gives up on finding values away from the kinks.
const MAX_DRAWS: usize = 50;

/// How a case's input values are drawn.
#[derive(Clone, Copy)]
enum Init {
    /// Uniform in `[lo, hi)`.
    Uniform(f32, f32),
    /// Magnitude in `[0.2, 1.5)` with a random sign: away from a kink at 0.
    AwayFromZero,
    /// `k + f` with integer `k` in `[-2, 2]` and `f` in `[0.2, 0.8)`: away from integers.
    Fractional,
    /// Distinct values `0.1 * k`, shuffled: no two within `0.1`, so a max never ties.
    Spaced,
}

/// Deterministic values from the IR's counter-based generator.
struct Draws {
    seed: u32,
    index: u32,
}

impl Draws {
    fn next(&mut self) -> f32 {
        self.index += 1;
        ir::random::uniform(self.seed, self.index)
    }

    fn tensor(&mut self, shape: &Shape, init: Init) -> Tensor {
        let n = shape.numel();
        let data = match init {
            Init::Uniform(lo, hi) => (0..n).map(|_| lo + (hi - lo) * self.next()).collect(),
            Init::AwayFromZero => (0..n)
                .map(|_| {
                    let magnitude = 0.2 + 1.3 * self.next();
                    if self.next() < 0.5 {
                        -magnitude
                    } else {
                        magnitude
                    }
                })
                .collect(),
            Init::Fractional => (0..n)
                .map(|_| (5.0 * self.next()).floor() - 2.0 + 0.2 + 0.6 * self.next())
                .collect(),
            Init::Spaced => {
                let mut v: Vec<f32> = (0..n).map(|k| 0.1 * (k as f32 - (n / 2) as f32)).collect();
                for i in (1..n).rev() {
                    let j = ((self.next() * (i + 1) as f32) as usize).min(i);
                    v.swap(i, j);
                }
                v
            }
        };
        Tensor::new(shape.dims(), data).unwrap()
    }
}

/// One check: a layer on a batched input of `input` dims drawn by `init`.
struct Case {
    name: String,
    input: Vec<usize>,
    layer: Box<dyn Layer>,
    init: Init,
    training: bool,
}

/// A case lowered as in a training graph (Dropout drops, BatchNormalization uses batch
/// statistics).
fn case(name: &str, input: &[usize], layer: impl Layer + 'static, init: Init) -> Case {
    Case {
        name: name.to_string(),
        input: input.to_vec(),
        layer: Box::new(layer),
        init,
        training: true,
    }
}

impl Case {
    /// The same case lowered as in an inference graph.
    fn inference(mut self) -> Self {
        self.training = false;
        self
    }
}

/// A differentiated leaf: its binding name and node.
struct Leaf {
    name: String,
    node: NodeId,
}

/// The layer's graph with `loss = sum(out * weights)`, the values of its leaves and the
/// leaves to differentiate (the input first, then the trainable params).
struct Built {
    graph: Graph,
    values: Bindings,
    wrt: Vec<Leaf>,
    out: NodeId,
    weights: Tensor,
    loss: NodeId,
}

fn build(case: &Case) -> Built {
    let seed = case.name.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    });
    let mut draws = Draws { seed, index: 0 };
    let per_example = Shape::new(case.input[1..].to_vec());
    let out_shape = case
        .layer
        .output_shape(&per_example)
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));

    let mut graph = Graph::new();
    let input_shape = Shape::new(case.input.clone());
    let x = graph.input("x", input_shape.clone());
    let mut wrt = vec![Leaf {
        name: "x".into(),
        node: x,
    }];
    let mut fixed = HashMap::new();
    let specs = case.layer.params(&per_example);
    let mut param_nodes = Vec::new();
    for spec in &specs {
        let name = format!("layer/{}", spec.name);
        let node = graph.param(name.clone(), spec.shape.clone());
        if spec.trainable {
            wrt.push(Leaf { name, node });
        } else {
            fixed.insert(name, spec.initializer.initialize(&spec.shape, 1).unwrap());
        }
        param_nodes.push(node);
    }
    let ctx = LayerContext {
        params: &param_nodes,
        training: case.training,
        seed: 7,
    };
    let out = case
        .layer
        .build(&mut graph, x, ctx)
        .unwrap_or_else(|e| panic!("{}: build failed: {e}", case.name));
    let mut want = vec![case.input[0]];
    want.extend(out_shape.dims());
    assert_eq!(graph.shape(out).dims(), want, "{}: output shape", case.name);

    // Params the layer adds itself (Dropout's step counter) get a fixed value.
    for node in graph.params() {
        if let Op::Param { name, shape } = graph.op(node) {
            fixed
                .entry(name.clone())
                .or_insert_with(|| Tensor::full(shape.clone(), 3.0));
        }
    }

    let weights = draws.tensor(graph.shape(out), Init::Uniform(-1.0, 1.0));
    let weight_node = graph.constant(weights.clone());
    let weighted = graph.binary(BinaryOp::Mul, out, weight_node).unwrap();
    let axes: Vec<usize> = (0..graph.shape(out).rank()).collect();
    let loss = graph.reduce(ReduceOp::Sum, weighted, &axes, false).unwrap();

    // Draw the differentiated values until no ReLU input lies within reach of a perturbation.
    for _ in 0..MAX_DRAWS {
        let mut values = fixed.clone();
        for leaf in &wrt {
            let shape = graph.shape(leaf.node);
            let init = match leaf.name.as_str() {
                "x" => case.init,
                "layer/gamma" => Init::Uniform(0.5, 1.5),
                _ => Init::Uniform(-1.0, 1.0),
            };
            values.insert(leaf.name.clone(), draws.tensor(shape, init));
        }
        if relu_margin(&graph, &values) >= KINK_MARGIN {
            return Built {
                graph,
                values,
                wrt,
                out,
                weights,
                loss,
            };
        }
    }
    panic!(
        "{}: no draw kept the ReLU inputs {KINK_MARGIN} away from 0",
        case.name
    );
}

/// The smallest `|input|` of any ReLU node in `graph` (infinite when there is none).
fn relu_margin(graph: &Graph, values: &Bindings) -> f32 {
    let all = eval(graph, values).unwrap();
    graph
        .node_ids()
        .filter(|&id| matches!(graph.op(id), Op::Unary(UnaryOp::Relu)))
        .flat_map(|id| {
            all[graph.operands(id)[0].index()]
                .data
                .iter()
                .map(|v| v.abs())
        })
        .fold(f32::INFINITY, f32::min)
}

/// Mismatches between the analytic and numeric gradients of one case, as messages.
fn mismatches(case: &Case) -> Vec<String> {
    let built = build(case);
    let nodes: Vec<NodeId> = built.wrt.iter().map(|leaf| leaf.node).collect();
    let (grad_graph, grads) = grad(&built.graph, built.loss, &nodes)
        .unwrap_or_else(|e| panic!("{}: grad failed: {e}", case.name));
    let analytic = eval(&grad_graph, &built.values)
        .unwrap_or_else(|e| panic!("{}: evaluating the gradient: {e}", case.name));

    // The loss from the layer's f32 output, summed in f64 to keep rounding out of the quotient.
    let loss_at = |values: &Bindings| -> f64 {
        let out = &eval(&built.graph, values).unwrap()[built.out.index()];
        out.data
            .iter()
            .zip(&built.weights.data)
            .map(|(&o, &w)| f64::from(o) * f64::from(w))
            .sum()
    };

    let mut bad = Vec::new();
    for (leaf, &dx) in built.wrt.iter().zip(&grads) {
        let got = &analytic[dx.index()];
        let base = &built.values[&leaf.name];
        assert_eq!(
            got.shape, base.shape,
            "{}: gradient shape of {}",
            case.name, leaf.name
        );
        let mut values = built.values.clone();
        for k in 0..base.data.len() {
            let at = |delta: f32, values: &mut Bindings| {
                values.get_mut(&leaf.name).unwrap().data[k] = base.data[k] + delta;
                loss_at(values)
            };
            let numeric = (at(EPS, &mut values) - at(-EPS, &mut values)) / (2.0 * f64::from(EPS));
            values.get_mut(&leaf.name).unwrap().data[k] = base.data[k];
            let a = f64::from(got.data[k]);
            if (a - numeric).abs() > ABS_TOL + REL_TOL * a.abs().max(numeric.abs()) {
                bad.push(format!(
                    "{}: d loss / d {}[{k}]: analytic {a}, numeric {numeric}",
                    case.name, leaf.name
                ));
            }
        }
    }
    bad
}

/// Runs every case and fails listing every mismatch.
fn check_all(cases: Vec<Case>) {
    let bad: Vec<String> = cases.iter().flat_map(mismatches).collect();
    assert!(
        bad.is_empty(),
        "{} gradient mismatches:\n{}",
        bad.len(),
        bad.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn conv2d_gradients_match_finite_differences() {
    use Init::Uniform;
    let u = Uniform(-1.0, 1.0);
    check_all(vec![
        case(
            "conv same stride 2 odd size",
            &[2, 5, 5, 2],
            Conv2D::new(3, 3).strides(2).padding(Padding::Same),
            u,
        ),
        case(
            "conv same stride 2 even size",
            &[1, 6, 6, 2],
            Conv2D::new(2, 3).strides(2).padding(Padding::Same),
            u,
        ),
        case(
            "conv dilation 2",
            &[2, 7, 7, 2],
            Conv2D::new(2, 3).dilation_rate(2),
            u,
        ),
        case(
            "conv valid no bias",
            &[2, 5, 6, 2],
            Conv2D::new(3, [2, 3]).use_bias(false),
            u,
        ),
        case(
            "conv same tanh",
            &[2, 4, 4, 2],
            Conv2D::new(2, 3)
                .padding(Padding::Same)
                .activation(Activation::Tanh),
            u,
        ),
        case(
            "conv valid relu",
            &[2, 5, 5, 1],
            Conv2D::new(2, 2).activation(Activation::Relu),
            u,
        ),
    ]);
}

#[test]
fn depthwise_and_separable_gradients_match_finite_differences() {
    let u = Init::Uniform(-1.0, 1.0);
    check_all(vec![
        case(
            "depthwise multiplier 2",
            &[2, 5, 5, 2],
            DepthwiseConv2D::new(3).depth_multiplier(2),
            u,
        ),
        case(
            "depthwise same stride 2 no bias",
            &[1, 5, 5, 3],
            DepthwiseConv2D::new(3)
                .strides(2)
                .padding(Padding::Same)
                .use_bias(false),
            u,
        ),
        case("separable", &[2, 5, 5, 2], SeparableConv2D::new(3, 3), u),
        case(
            "separable same multiplier 2 tanh",
            &[1, 6, 6, 2],
            SeparableConv2D::new(2, 3)
                .padding(Padding::Same)
                .depth_multiplier(2)
                .activation(Activation::Tanh),
            u,
        ),
    ]);
}

#[test]
fn pooling_gradients_match_finite_differences() {
    use Init::{Spaced, Uniform};
    let u = Uniform(-1.0, 1.0);
    check_all(vec![
        case("max 2x2", &[2, 4, 6, 2], MaxPool2D::new(2), Spaced),
        case(
            "max 3 stride 2 same",
            &[1, 7, 7, 2],
            MaxPool2D::new(3).strides(2).padding(Padding::Same),
            Spaced,
        ),
        case(
            "max 2 stride 1 valid",
            &[1, 5, 5, 2],
            MaxPool2D::new(2).strides(1),
            Spaced,
        ),
        case("average 2x2", &[2, 4, 4, 2], AvgPool2D::new(2), u),
        case(
            "average 3 stride 2 same",
            &[1, 6, 5, 2],
            AvgPool2D::new(3).strides(2).padding(Padding::Same),
            u,
        ),
        case(
            "average 3x2 stride 1 valid",
            &[1, 5, 5, 1],
            AvgPool2D::new([3, 2]).strides(1),
            u,
        ),
        case(
            "global average",
            &[2, 3, 4, 3],
            GlobalAveragePooling2D::new(),
            u,
        ),
        case(
            "global max keepdims",
            &[2, 3, 4, 3],
            GlobalMaxPooling2D::new().keepdims(true),
            Spaced,
        ),
    ]);
}

#[test]
fn batch_normalization_and_dropout_gradients_match_finite_differences() {
    let u = Init::Uniform(-1.0, 1.0);
    check_all(vec![
        case(
            "batchnorm training",
            &[4, 3, 3, 2],
            BatchNormalization::new(),
            u,
        ),
        case(
            "batchnorm training axis 1 no scale",
            &[3, 4, 2],
            BatchNormalization::new().axis(1).scale(false),
            u,
        ),
        case(
            "batchnorm inference",
            &[2, 3, 3, 2],
            BatchNormalization::new(),
            u,
        )
        .inference(),
        case("dropout training", &[2, 4, 4, 2], Dropout::new(0.4), u),
        case("dropout inference", &[2, 6], Dropout::new(0.4), u).inference(),
    ]);
}

#[test]
fn activation_layer_gradients_match_finite_differences() {
    use Init::{AwayFromZero, Fractional, Uniform};
    let u = Uniform(-2.0, 2.0);
    check_all(vec![
        case("relu", &[2, 3, 4], ReLU::new(), AwayFromZero),
        case(
            "relu capped with slope and threshold",
            &[2, 3, 4],
            ReLU::new()
                .max_value(2.0)
                .negative_slope(0.1)
                .threshold(1.0),
            Fractional,
        ),
        case("leaky relu", &[2, 3, 4], LeakyReLU::new(0.3), AwayFromZero),
        case("elu alpha 1", &[2, 3, 4], ELU::new(1.0), u),
        case("elu alpha 0.5", &[2, 3, 4], ELU::new(0.5), AwayFromZero),
        case("softmax last axis", &[2, 3, 4], Softmax::new(-1), u),
        case("softmax axis 1", &[2, 3, 4], Softmax::new(1), u),
        case(
            "activation tanh",
            &[2, 5],
            ActivationLayer::new(Activation::Tanh),
            u,
        ),
        case(
            "activation softmax",
            &[2, 5],
            ActivationLayer::new(Activation::Softmax),
            u,
        ),
        case(
            "activation swish",
            &[2, 5],
            ActivationLayer::new(Activation::Swish),
            u,
        ),
        case(
            "activation relu6",
            &[2, 5],
            ActivationLayer::new(Activation::Relu6),
            Fractional,
        ),
    ]);
}

#[test]
fn dense_and_shape_layer_gradients_match_finite_differences() {
    let u = Init::Uniform(-1.0, 1.0);
    check_all(vec![
        case("dense", &[3, 4], Dense::new(3), u),
        case(
            "dense tanh no bias",
            &[2, 5],
            Dense::new(2).activation(Activation::Tanh).use_bias(false),
            u,
        ),
        case("flatten", &[2, 3, 2, 2], Flatten::new(), u),
        case("reshape", &[2, 3, 4], Reshape::new([2, -1]), u),
        case(
            "zero padding asymmetric",
            &[2, 3, 2, 2],
            ZeroPadding2D::explicit([[1, 2], [0, 3]]),
            u,
        ),
        case(
            "zero padding symmetric",
            &[1, 2, 3, 1],
            ZeroPadding2D::new(1),
            u,
        ),
    ]);
}

/// Conv2D with a 3x3 kernel of ones, no bias, stride 2 and `same` padding, compiled and run
/// by `predict` on a `size`x`size` ramp `1, 2, ...`; returns the output rows.
fn ones_conv_same_stride_2(size: usize) -> Vec<f32> {
    let mut model = Sequential::of([
        Input::new([size, size, 1]).into(),
        Conv2D::new(1, 3)
            .strides(2)
            .padding(Padding::Same)
            .kernel_initializer(Initializer::Ones)
            .use_bias(false)
            .into(),
    ]);
    model
        .compile(
            SGD::default().learning_rate(0.0),
            MeanSquaredError,
            [] as [Accuracy; 0],
        )
        .unwrap();
    let ramp: Vec<f32> = (1..=size * size).map(|v| v as f32).collect();
    let x = Tensor::new([1, size, size, 1], ramp).unwrap();
    let y = model.predict(&x, 1).unwrap();
    assert_eq!(y.shape.dims(), [1, 3, 3, 1]);
    y.data
}

#[test]
fn conv_same_padding_at_stride_two_matches_hand_computed_sums() {
    // 5x5: out = ceil(5 / 2) = 3, pad_total = max((3 - 1) * 2 + 3 - 5, 0) = 2, so one row
    // and column on each side: output (0, 0) sums rows/columns 0..=1, 1 + 2 + 6 + 7 = 16
    // (with no top/left padding it would be the 3x3 block 1..=13, 63).
    #[rustfmt::skip]
    let five = [
        16.0, 33.0, 28.0,
        69.0, 117.0, 87.0,
        76.0, 123.0, 88.0,
    ];
    assert_eq!(ones_conv_same_stride_2(5), five);
    // 6x6: pad_total = max(4 + 3 - 6, 0) = 1, all at the bottom/right: output (0, 0) is the
    // 3x3 block 1+2+3 + 7+8+9 + 13+14+15 = 72, output (2, 2) is 29 + 30 + 35 + 36 = 130.
    #[rustfmt::skip]
    let six = [
        72.0, 90.0, 69.0,
        180.0, 198.0, 141.0,
        174.0, 186.0, 130.0,
    ];
    assert_eq!(ones_conv_same_stride_2(6), six);
}

//! The finite-difference gradient check every layer test shares: a layer lowered by
//! `Layer::build_many` on graph inputs with its parameters as graph params, differentiated by
//! `passes::autodiff::grad`, against central finite differences on the reference interpreter.
//!
//! Each case appends `loss = sum(output * fixed_random_weights)` and compares `grad(loss,
//! [every input, every trainable param])` against `(loss(v + eps) - loss(v - eps)) / 2 eps`
//! element by element. Inputs are drawn away from kinks and ties (ReLU-like inputs away from
//! their corners, max-pooling inputs distinct and spaced) so a perturbation never crosses one;
//! where a ReLU sits inside a layer (a conv's activation), the values are redrawn until every
//! ReLU input is at least `KINK_MARGIN` from 0. Inputs drawn as [`Init::Ids`] (token ids) are
//! held fixed: they are not differentiable.
//!
//! Tolerance (f32 interpreter, the finite-difference loss summed in f64): `eps = 1e-2`, and an
//! analytic value `a` matches a numeric value `n` when `|a - n| <= 5e-3 + 2e-2 * max(|a|, |n|)`.

#![allow(dead_code)] // each test crate uses only some of the helpers

use std::collections::HashMap;

use ir::interp::{Bindings, eval};
use ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Shape, Tensor, UnaryOp};
use kiln::layers::{Layer, LayerContext};
use passes::autodiff::grad;

pub const EPS: f32 = 1e-2;
pub const ABS_TOL: f64 = 5e-3;
pub const REL_TOL: f64 = 2e-2;
/// How far every ReLU input must stay from its kink at 0: more than a perturbation of one
/// value by `eps` can move it (values and coefficients are at most 1.5 in magnitude).
const KINK_MARGIN: f32 = 0.02;
/// Draws tried before a case gives up on finding values away from the kinks.
const MAX_DRAWS: usize = 50;

/// How a case's input values are drawn.
#[derive(Clone, Copy)]
pub enum Init {
    /// Uniform in `[lo, hi)`.
    Uniform(f32, f32),
    /// Magnitude in `[0.2, 1.5)` with a random sign: away from a kink at 0.
    AwayFromZero,
    /// `k + f` with integer `k` in `[-2, 2]` and `f` in `[0.2, 0.8)`: away from integers.
    Fractional,
    /// Distinct values `0.1 * k`, shuffled: no two within `0.1`, so a max never ties.
    Spaced,
    /// Integer ids `0..n` stored as f32 (an Embedding's input): not differentiated.
    Ids(usize),
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
            Init::Ids(rows) => (0..n)
                .map(|_| ((self.next() * rows as f32) as usize).min(rows - 1) as f32)
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

/// One check: a layer on one or more batched inputs, each of given dims drawn by its `Init`.
pub struct Case {
    name: String,
    inputs: Vec<(Vec<usize>, Init)>,
    layer: Box<dyn Layer>,
    training: bool,
}

/// A case lowered as in a training graph (Dropout drops, BatchNormalization uses batch
/// statistics).
pub fn case(name: &str, input: &[usize], layer: impl Layer + 'static, init: Init) -> Case {
    Case {
        name: name.to_string(),
        inputs: vec![(input.to_vec(), init)],
        layer: Box::new(layer),
        training: true,
    }
}

impl Case {
    /// The same case lowered as in an inference graph.
    pub fn inference(mut self) -> Self {
        self.training = false;
        self
    }

    /// The same case with one more input (for layers of several inputs: the second is bound
    /// as `x1`, the third as `x2`, ...). Inputs drawn as [`Init::Ids`] are not differentiated.
    pub fn and_input(mut self, input: &[usize], init: Init) -> Self {
        self.inputs.push((input.to_vec(), init));
        self
    }
}

/// A case's graph leaves: its inputs, its parameters, which of them are differentiated, and
/// the values of those that are held fixed.
struct Leaves {
    xs: Vec<NodeId>,
    params: Vec<NodeId>,
    wrt: Vec<Leaf>,
    fixed: Bindings,
}

/// Adds the case's inputs and the layer's parameters to `graph`. Token-id inputs and
/// non-trainable parameters get fixed values; the rest are differentiated.
fn add_leaves(case: &Case, per_example: &[Shape], graph: &mut Graph, draws: &mut Draws) -> Leaves {
    let mut leaves = Leaves {
        xs: Vec::new(),
        params: Vec::new(),
        wrt: Vec::new(),
        fixed: HashMap::new(),
    };
    for (k, (dims, init)) in case.inputs.iter().enumerate() {
        let name = input_name(k);
        let shape = Shape::new(dims.clone());
        let node = graph.input(name.clone(), shape.clone());
        if matches!(init, Init::Ids(_)) {
            leaves.fixed.insert(name, draws.tensor(&shape, *init));
        } else {
            leaves.wrt.push(Leaf { name, node });
        }
        leaves.xs.push(node);
    }
    for spec in &case.layer.params_many(per_example) {
        let name = format!("layer/{}", spec.name);
        let node = graph.param(name.clone(), spec.shape.clone());
        if spec.trainable {
            leaves.wrt.push(Leaf { name, node });
        } else {
            let value = spec.initializer.initialize(&spec.shape, 1).unwrap();
            leaves.fixed.insert(name, value);
        }
        leaves.params.push(node);
    }
    leaves
}

/// The binding name of input `k`: `x`, `x1`, `x2`, ...
fn input_name(k: usize) -> String {
    if k == 0 {
        "x".to_string()
    } else {
        format!("x{k}")
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
    let per_example: Vec<Shape> = case
        .inputs
        .iter()
        .map(|(dims, _)| Shape::new(dims[1..].to_vec()))
        .collect();
    let out_shape = case
        .layer
        .output_shape_many(&per_example)
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));

    let mut graph = Graph::new();
    let leaves = add_leaves(case, &per_example, &mut graph, &mut draws);
    let (xs, param_nodes, wrt, mut fixed) = (leaves.xs, leaves.params, leaves.wrt, leaves.fixed);
    let ctx = LayerContext {
        params: &param_nodes,
        training: case.training,
        seed: 7,
    };
    let out = case
        .layer
        .build_many(&mut graph, &xs, ctx)
        .unwrap_or_else(|e| panic!("{}: build failed: {e}", case.name));
    let mut want = vec![case.inputs[0].0[0]];
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
            let as_input = (0..case.inputs.len()).find(|&k| leaf.name == input_name(k));
            let init = match (as_input, leaf.name.as_str()) {
                (Some(k), _) => case.inputs[k].1,
                (None, "layer/gamma") => Init::Uniform(0.5, 1.5),
                (None, _) => Init::Uniform(-1.0, 1.0),
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
pub fn check_all(cases: Vec<Case>) {
    let bad: Vec<String> = cases.iter().flat_map(mismatches).collect();
    assert!(
        bad.is_empty(),
        "{} gradient mismatches:\n{}",
        bad.len(),
        bad.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

//! A dense ReLU network trained with softmax cross-entropy and Adam, written directly in IR:
//! the whole training step (forward, loss, backward, Adam update) is one graph whose
//! parameter and optimizer-state updates are graph `updates`.

use std::collections::HashMap;

use ir::{BinaryOp, Graph, NodeId, ReduceOp, Shape, Tensor, UnaryOp};
use passes::PassError;

/// Keras' Adam defaults.
pub const ADAM_LR: f32 = 0.001;
const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;
const EPSILON: f32 = 1e-7;

/// The training-step graph of an MLP with layer widths `sizes` (input first, logits last),
/// ReLU between layers, softmax cross-entropy with logits on one-hot labels, and Adam.
///
/// Inputs: `x` `[batch, sizes[0]]`, `y` `[batch, sizes.last()]`. Params: `w{i}`, `b{i}` per layer,
/// their Adam moments `w{i}/m`, `w{i}/v`, ..., and `adam/iterations` (a scalar step count).
/// Output: `loss` (a scalar).
pub fn mlp_adam_step(batch: usize, sizes: &[usize]) -> Result<Graph, PassError> {
    let mut g = Graph::new();
    let x = g.input("x", [batch, sizes[0]]);
    let y = g.input("y", [batch, *sizes.last().expect("at least one layer")]);
    let mut params = Vec::new();
    let mut h = x;
    for (i, pair) in sizes.windows(2).enumerate() {
        let w = g.param(format!("w{i}"), [pair[0], pair[1]]);
        let b = g.param(format!("b{i}"), [pair[1]]);
        params.extend([w, b]);
        let z = g.matmul(h, w, false, false)?;
        let z = g.binary(BinaryOp::Add, z, b)?;
        h = if i + 2 < sizes.len() { g.unary(UnaryOp::Relu, z)? } else { z };
    }
    let loss = softmax_cross_entropy(&mut g, h, y)?;
    let (mut g, grads) = passes::autodiff::grad(&g, loss, &params)?;
    adam(&mut g, &params, &grads)?;
    g.add_output("loss", loss)?;
    Ok(g)
}

/// `mean_b(-sum_c y * log_softmax(z))`, stabilised by subtracting the row maximum.
pub fn softmax_cross_entropy(g: &mut Graph, logits: NodeId, labels: NodeId) -> Result<NodeId, PassError> {
    let max = g.reduce(ReduceOp::Max, logits, &[1], true)?;
    let shifted = g.binary(BinaryOp::Sub, logits, max)?;
    let exp = g.unary(UnaryOp::Exp, shifted)?;
    let sum = g.reduce(ReduceOp::Sum, exp, &[1], true)?;
    let log_sum = g.unary(UnaryOp::Log, sum)?;
    let log_probs = g.binary(BinaryOp::Sub, shifted, log_sum)?;
    let picked = g.binary(BinaryOp::Mul, labels, log_probs)?;
    let per_sample = g.reduce(ReduceOp::Sum, picked, &[1], false)?;
    let mean = g.reduce(ReduceOp::Mean, per_sample, &[0], false)?;
    Ok(g.unary(UnaryOp::Neg, mean)?)
}

/// Keras' Adam: `m = b1 m + (1-b1) g`, `v = b2 v + (1-b2) g²`,
/// `p -= lr √(1-b2^t)/(1-b1^t) · m / (√v + ε)` with `t` the step count after this step.
fn adam(g: &mut Graph, params: &[NodeId], grads: &[NodeId]) -> Result<(), PassError> {
    let iterations = g.param("adam/iterations", Shape::scalar());
    let one = g.scalar(1.0);
    let t = g.binary(BinaryOp::Add, iterations, one)?;
    g.add_update(iterations, t)?;
    let b1 = g.scalar(BETA_1);
    let b2 = g.scalar(BETA_2);
    let b1_t = g.binary(BinaryOp::Pow, b1, t)?;
    let b2_t = g.binary(BinaryOp::Pow, b2, t)?;
    let bias1 = g.binary(BinaryOp::Sub, one, b1_t)?;
    let bias2 = g.binary(BinaryOp::Sub, one, b2_t)?;
    let root2 = g.unary(UnaryOp::Sqrt, bias2)?;
    let lr = g.scalar(ADAM_LR);
    let scaled = g.binary(BinaryOp::Mul, lr, root2)?;
    let lr_t = g.binary(BinaryOp::Div, scaled, bias1)?;
    let (one_minus_b1, one_minus_b2, eps) = (g.scalar(1.0 - BETA_1), g.scalar(1.0 - BETA_2), g.scalar(EPSILON));
    for (&p, &grad) in params.iter().zip(grads) {
        let name = param_name(g, p);
        let shape = g.shape(p).clone();
        let m = g.param(format!("{name}/m"), shape.clone());
        let v = g.param(format!("{name}/v"), shape);
        let m_decay = g.binary(BinaryOp::Mul, b1, m)?;
        let m_new_part = g.binary(BinaryOp::Mul, one_minus_b1, grad)?;
        let m_new = g.binary(BinaryOp::Add, m_decay, m_new_part)?;
        let v_decay = g.binary(BinaryOp::Mul, b2, v)?;
        let g2 = g.unary(UnaryOp::Square, grad)?;
        let v_new_part = g.binary(BinaryOp::Mul, one_minus_b2, g2)?;
        let v_new = g.binary(BinaryOp::Add, v_decay, v_new_part)?;
        let root_v = g.unary(UnaryOp::Sqrt, v_new)?;
        let denom = g.binary(BinaryOp::Add, root_v, eps)?;
        let ratio = g.binary(BinaryOp::Div, m_new, denom)?;
        let step = g.binary(BinaryOp::Mul, lr_t, ratio)?;
        let p_new = g.binary(BinaryOp::Sub, p, step)?;
        g.add_update(m, m_new)?;
        g.add_update(v, v_new)?;
        g.add_update(p, p_new)?;
    }
    Ok(())
}

fn param_name(g: &Graph, p: NodeId) -> String {
    match g.op(p) {
        ir::Op::Param { name, .. } => name.clone(),
        other => unreachable!("params are Param nodes, got {other:?}"),
    }
}

/// Glorot-uniform weights and zero biases/moments for every param of `graph`, seeded.
pub fn initial_params(graph: &Graph, seed: u32) -> HashMap<String, Tensor> {
    graph
        .params()
        .into_iter()
        .enumerate()
        .map(|(k, p)| {
            let ir::Op::Param { name, shape } = graph.op(p) else { unreachable!("params() yields Param nodes") };
            let is_weight = name.starts_with('w') && !name.contains('/');
            let data = if is_weight {
                let limit = (6.0 / (shape.dims()[0] + shape.dims()[1]) as f32).sqrt();
                (0..shape.numel()).map(|i| (2.0 * ir::random::uniform(seed + k as u32, i as u32) - 1.0) * limit).collect()
            } else {
                vec![0.0; shape.numel()]
            };
            (name.clone(), Tensor { shape: shape.clone(), data })
        })
        .collect()
}

/// A learnable synthetic classification batch: `x` uniform in [-1, 1), `y` one-hot of the
/// argmax of a fixed random linear map of `x`.
pub fn synthetic_batch(batch: usize, features: usize, classes: usize, seed: u32) -> (Tensor, Tensor) {
    let x: Vec<f32> = (0..batch * features).map(|i| 2.0 * ir::random::uniform(seed, i as u32) - 1.0).collect();
    let teacher: Vec<f32> = (0..features * classes).map(|i| 2.0 * ir::random::uniform(12345, i as u32) - 1.0).collect();
    let mut y = vec![0.0; batch * classes];
    for b in 0..batch {
        let score = |c: usize| (0..features).map(|f| x[b * features + f] * teacher[f * classes + c]).sum::<f32>();
        let best = (0..classes).max_by(|&i, &j| score(i).total_cmp(&score(j))).expect("classes > 0");
        y[b * classes + best] = 1.0;
    }
    (Tensor { shape: Shape::from([batch, features]), data: x }, Tensor { shape: Shape::from([batch, classes]), data: y })
}

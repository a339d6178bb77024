//! A whole training step written directly in IR, as `benches/src/mlp.rs` writes one: softmax
//! cross-entropy on logits, `passes::autodiff::grad`, and Adam with Keras' defaults as graph
//! `updates`. The loss and the update are the ops of `kiln`'s `SoftmaxCrossEntropyWithLogits`
//! and `Adam::default()` (`frontend/src/losses/`, `frontend/src/optimizers/adam.rs`), emitted
//! in the same order, so the backend's tests need nothing from the frontend above them.

use ir::{BinaryOp, Graph, IrError, NodeId, ReduceOp, Shape, Tensor, UnaryOp};

// Adam's hyper-parameters at Keras' defaults, as `kiln::optimizers::Adam::default()`.
/// Initial value of `optimizer/learning_rate`.
const LEARNING_RATE: f32 = 0.001;
/// Decay of the first-moment estimate.
const BETA_1: f32 = 0.9;
/// Decay of the second-moment estimate.
const BETA_2: f32 = 0.999;
/// Added to the denominator for stability.
const EPSILON: f32 = 1e-7;

/// Append softmax cross-entropy of `logits` against `labels`, autodiff with respect to
/// `params` and the Adam update; the step graph (output `loss`) and the initial values of
/// the optimizer state it added.
pub fn softmax_cross_entropy_adam_step(
    mut g: Graph,
    logits: NodeId,
    labels: NodeId,
    params: &[NodeId],
) -> (Graph, Vec<(String, Tensor)>) {
    let loss = softmax_cross_entropy(&mut g, logits, labels).unwrap();
    let (mut g, grads) = passes::autodiff::grad(&g, loss, params).unwrap();
    let state = adam(&mut g, params, &grads).unwrap();
    g.add_output("loss", loss).unwrap();
    (g, state)
}

/// `mean_b(-sum_c labels · log_softmax(logits))` over the last axis `c`, the log-softmax
/// stabilised by the row maximum: a scalar.
pub fn softmax_cross_entropy(
    g: &mut Graph,
    logits: NodeId,
    labels: NodeId,
) -> Result<NodeId, IrError> {
    let last = g.shape(logits).rank() - 1;
    let max = g.reduce(ReduceOp::Max, logits, &[last], true)?;
    let shifted = g.binary(BinaryOp::Sub, logits, max)?;
    let exp = g.unary(UnaryOp::Exp, shifted)?;
    let sum = g.reduce(ReduceOp::Sum, exp, &[last], true)?;
    let log_sum = g.unary(UnaryOp::Log, sum)?;
    let log_probs = g.binary(BinaryOp::Sub, shifted, log_sum)?;
    let picked = g.binary(BinaryOp::Mul, labels, log_probs)?;
    let negated = g.unary(UnaryOp::Neg, picked)?;
    let per_sample = g.reduce(ReduceOp::Sum, negated, &[last], false)?;
    let batch_axes: Vec<usize> = (0..g.shape(per_sample).rank()).collect();
    if batch_axes.is_empty() {
        return Ok(per_sample);
    }
    g.reduce(ReduceOp::Mean, per_sample, &batch_axes, false)
}

/// Adam as tf.keras 2.x: with `t = iterations + 1`, `m = β₁m + (1-β₁)g`,
/// `v = β₂v + (1-β₂)g²`, `p -= lr·√(1-β₂ᵗ)/(1-β₁ᵗ) · m/(√v + ε)`. Adds the scalar params
/// `optimizer/learning_rate` and `optimizer/iterations`, the slots `<param>/m` and
/// `<param>/v`, and one update per param and state; returns the state's initial values.
pub fn adam(
    g: &mut Graph,
    params: &[NodeId],
    grads: &[NodeId],
) -> Result<Vec<(String, Tensor)>, IrError> {
    let mut state = Vec::new();
    let learning_rate = state_param(
        g,
        &mut state,
        "optimizer/learning_rate".into(),
        Shape::scalar(),
        LEARNING_RATE,
    );
    let iterations = state_param(
        g,
        &mut state,
        "optimizer/iterations".into(),
        Shape::scalar(),
        0.0,
    );
    let one = g.scalar(1.0);
    let step = g.binary(BinaryOp::Add, iterations, one)?;
    g.add_update(iterations, step)?;
    let rate = bias_corrected_rate(g, learning_rate, step)?;
    let (beta_1, beta_2) = (g.scalar(BETA_1), g.scalar(BETA_2));
    let (keep_1, keep_2) = (g.scalar(1.0 - BETA_1), g.scalar(1.0 - BETA_2));
    let epsilon = g.scalar(EPSILON);
    for (&p, &grad) in params.iter().zip(grads) {
        let ir::Op::Param { name, shape } = g.op(p).clone() else {
            panic!("Adam updates params only, not {p}")
        };
        let m = state_param(g, &mut state, format!("{name}/m"), shape.clone(), 0.0);
        let v = state_param(g, &mut state, format!("{name}/v"), shape, 0.0);
        let m_new = moving_average(g, beta_1, keep_1, m, grad)?;
        let grad_sq = g.unary(UnaryOp::Square, grad)?;
        let v_new = moving_average(g, beta_2, keep_2, v, grad_sq)?;
        let root = g.unary(UnaryOp::Sqrt, v_new)?;
        let denominator = g.binary(BinaryOp::Add, root, epsilon)?;
        let ratio = g.binary(BinaryOp::Div, m_new, denominator)?;
        let delta = g.binary(BinaryOp::Mul, rate, ratio)?;
        let p_new = g.binary(BinaryOp::Sub, p, delta)?;
        g.add_update(m, m_new)?;
        g.add_update(v, v_new)?;
        g.add_update(p, p_new)?;
    }
    Ok(state)
}

/// A new optimizer-state param `name` of `shape`, its initial value `fill` recorded in `state`.
fn state_param(
    g: &mut Graph,
    state: &mut Vec<(String, Tensor)>,
    name: String,
    shape: Shape,
    fill: f32,
) -> NodeId {
    let node = g.param(name.clone(), shape.clone());
    state.push((name, Tensor::full(shape, fill)));
    node
}

/// `lr · √(1-β₂ᵗ) / (1-β₁ᵗ)`, Adam's bias-corrected step size at step `t`.
fn bias_corrected_rate(g: &mut Graph, learning_rate: NodeId, t: NodeId) -> Result<NodeId, IrError> {
    let one = g.scalar(1.0);
    let correction_1 = one_minus_power(g, one, BETA_1, t)?;
    let correction_2 = one_minus_power(g, one, BETA_2, t)?;
    let root = g.unary(UnaryOp::Sqrt, correction_2)?;
    let scaled = g.binary(BinaryOp::Mul, learning_rate, root)?;
    g.binary(BinaryOp::Div, scaled, correction_1)
}

/// `1 - base^t`.
fn one_minus_power(g: &mut Graph, one: NodeId, base: f32, t: NodeId) -> Result<NodeId, IrError> {
    let base = g.scalar(base);
    let power = g.binary(BinaryOp::Pow, base, t)?;
    g.binary(BinaryOp::Sub, one, power)
}

/// `decay·old + keep·new`, an exponential moving average.
fn moving_average(
    g: &mut Graph,
    decay: NodeId,
    keep: NodeId,
    old: NodeId,
    new: NodeId,
) -> Result<NodeId, IrError> {
    let kept = g.binary(BinaryOp::Mul, decay, old)?;
    let added = g.binary(BinaryOp::Mul, keep, new)?;
    g.binary(BinaryOp::Add, kept, added)
}

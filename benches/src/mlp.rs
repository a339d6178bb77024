//! A dense ReLU network trained with softmax cross-entropy and Adam, written directly in IR
//! (no layers, no model): the whole training step (forward, loss, backward, Adam update) is
//! one graph whose parameter and optimizer-state updates are graph `updates`. The loss and
//! the Adam rule are `kiln`'s IR builders.

use std::collections::HashMap;

use ir::{BinaryOp, Graph, Shape, Tensor, UnaryOp};
use kiln::losses::{Loss, SoftmaxCrossEntropyWithLogits};
use kiln::optimizers::{Adam, Optimizer};

/// The training-step graph of an MLP with layer widths `sizes` (input first, logits last),
/// ReLU between layers, softmax cross-entropy with logits on one-hot labels, and Adam with
/// Keras' defaults.
///
/// Inputs: `x` `[batch, sizes[0]]`, `y` `[batch, sizes.last()]`. Params: `w{i}`, `b{i}` per
/// layer and the optimizer state (see [`kiln::optimizers`]). Output: `loss` (a scalar).
/// Also returns the initial values of the optimizer state.
pub fn mlp_adam_step(
    batch: usize,
    sizes: &[usize],
) -> Result<(Graph, Vec<(String, Tensor)>), kiln::Error> {
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
        h = if i + 2 < sizes.len() {
            g.unary(UnaryOp::Relu, z)?
        } else {
            z
        };
    }
    let loss = SoftmaxCrossEntropyWithLogits.build(&mut g, h, y)?;
    let (mut g, grads) =
        passes::autodiff::grad(&g, loss, &params).map_err(|e| kiln::Error::TrainingGraph {
            component: "autodiff".into(),
            msg: e.to_string(),
        })?;
    let state = Adam::default().build_update(&mut g, &params, &grads)?;
    g.add_output("loss", loss)?;
    Ok((g, state))
}

/// Glorot-uniform weights `w{i}` and zero biases `b{i}`, seeded, plus the optimizer state
/// `state` as returned by [`mlp_adam_step`].
pub fn initial_params(
    graph: &Graph,
    state: &[(String, Tensor)],
    seed: u32,
) -> HashMap<String, Tensor> {
    let mut values: HashMap<String, Tensor> = graph
        .params()
        .into_iter()
        .enumerate()
        .map(|(k, p)| {
            let ir::Op::Param { name, shape } = graph.op(p) else {
                unreachable!("params() yields Param nodes")
            };
            let is_weight = name.starts_with('w') && !name.contains('/');
            let data = if is_weight {
                let limit = (6.0 / (shape.dims()[0] + shape.dims()[1]) as f32).sqrt();
                (0..shape.numel())
                    .map(|i| (2.0 * ir::random::uniform(seed + k as u32, i as u32) - 1.0) * limit)
                    .collect()
            } else {
                vec![0.0; shape.numel()]
            };
            (
                name.clone(),
                Tensor {
                    shape: shape.clone(),
                    data,
                },
            )
        })
        .collect();
    values.extend(state.iter().cloned());
    values
}

/// A learnable synthetic classification batch: `x` uniform in [-1, 1), `y` one-hot of the
/// argmax of a fixed random linear map of `x`.
pub fn synthetic_batch(
    batch: usize,
    features: usize,
    classes: usize,
    seed: u32,
) -> (Tensor, Tensor) {
    let x: Vec<f32> = (0..batch * features)
        .map(|i| 2.0 * ir::random::uniform(seed, i as u32) - 1.0)
        .collect();
    let teacher: Vec<f32> = (0..features * classes)
        .map(|i| 2.0 * ir::random::uniform(12345, i as u32) - 1.0)
        .collect();
    let mut y = vec![0.0; batch * classes];
    for b in 0..batch {
        let score = |c: usize| {
            (0..features)
                .map(|f| x[b * features + f] * teacher[f * classes + c])
                .sum::<f32>()
        };
        let best = (0..classes)
            .max_by(|&i, &j| score(i).total_cmp(&score(j)))
            .expect("classes > 0");
        y[b * classes + best] = 1.0;
    }
    (
        Tensor {
            shape: Shape::from([batch, features]),
            data: x,
        },
        Tensor {
            shape: Shape::from([batch, classes]),
            data: y,
        },
    )
}

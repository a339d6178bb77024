//! Whole training steps on the GPU against the reference interpreter: an MLP and a small
//! conv net (conv + pool + dense), each with softmax cross-entropy and Adam written in IR
//! (`common::training_step`), optimised and memory-planned as the frontend would, run for 3
//! steps. The interpreter runs the unoptimised graph. Losses and final parameters agree
//! within [`STEP_TOL`] relative.

mod common;

use std::collections::HashMap;

use common::training_step::softmax_cross_entropy_adam_step;
use ir::interp::Bindings;
use ir::{BinaryOp, Conv2dAttrs, Graph, Op, Padding, Pool2dAttrs, PoolKind, Tensor, UnaryOp};

/// Tolerance after three Adam steps: Adam divides by the gradient's running RMS, which
/// amplifies summation-order differences in tiny gradients.
const STEP_TOL: f32 = 1e-3;

/// Bindings: weights uniform in ±0.5, one-hot labels, the optimizer state as given.
fn initial(g: &Graph, state: &[(String, Tensor)]) -> Bindings {
    let mut b = common::bindings(g, -0.5, 0.5);
    if let Some(y) = b.get_mut("y") {
        let classes = *y.shape.dims().last().unwrap();
        for (i, v) in y.data.iter_mut().enumerate() {
            *v = if (i / classes + i % classes) % classes == 0 {
                1.0
            } else {
                0.0
            };
        }
    }
    b.extend(state.iter().cloned());
    b
}

/// Run `steps` steps on the interpreter and on the GPU and compare losses and params.
fn check(name: &str, g: &Graph, bindings: Bindings, steps: usize) {
    let Some(gpu) = common::gpu() else { return };
    let optimized = passes::pipeline::optimize(g).unwrap();
    let plan = passes::memory_plan::plan(&optimized).unwrap();
    let (gpu_outputs, gpu_params) = common::run_gpu(gpu, &optimized, &plan, &bindings, steps)
        .unwrap_or_else(|e| panic!("{name}: {e}"));

    let mut reference = bindings.clone();
    let mut losses = Vec::new();
    for _ in 0..steps {
        let step = ir::interp::run(g, &reference).unwrap();
        losses.push(
            step.outputs
                .iter()
                .find(|(n, _)| n == "loss")
                .unwrap()
                .1
                .data[0],
        );
        reference.extend(step.updates);
    }
    for (step, (want, got)) in losses.iter().zip(&gpu_outputs).enumerate() {
        let got = got.iter().find(|(n, _)| n == "loss").unwrap().1.data[0];
        assert!(
            common::close(got, *want, STEP_TOL),
            "{name}: step {step} loss {got}, expected {want}"
        );
    }
    assert!(
        losses[steps - 1] < losses[0],
        "{name}: the loss does not fall ({losses:?})"
    );
    let params: HashMap<String, Vec<f32>> = gpu_params.into_iter().collect();
    for (name_p, value) in &params {
        common::assert_close(
            &format!("{name}: param {name_p}"),
            value,
            &reference[name_p].data,
            STEP_TOL,
        );
    }
}

#[test]
fn mlp_adam_steps_match_the_interpreter() {
    let (batch, sizes) = (16, [20, 32, 24, 5]);
    let mut g = Graph::new();
    let x = g.input("x", [batch, sizes[0]]);
    let y = g.input("y", [batch, sizes[3]]);
    let mut params = Vec::new();
    let mut h = x;
    for (i, pair) in sizes.windows(2).enumerate() {
        let w = g.param(format!("w{i}"), [pair[0], pair[1]]);
        let b = g.param(format!("b{i}"), [pair[1]]);
        params.extend([w, b]);
        let z = g.matmul(h, w, false, false).unwrap();
        let z = g.binary(BinaryOp::Add, z, b).unwrap();
        h = if i + 2 < sizes.len() {
            g.unary(UnaryOp::Relu, z).unwrap()
        } else {
            z
        };
    }
    let (g, state) = softmax_cross_entropy_adam_step(g, h, y, &params);
    let bindings = initial(&g, &state);
    check("mlp", &g, bindings, 3);
}

#[test]
fn conv_net_adam_steps_match_the_interpreter() {
    let (batch, classes) = (4, 3);
    let mut g = Graph::new();
    let x = g.input("x", [batch, 8, 8, 2]);
    let y = g.input("y", [batch, classes]);
    let k = g.param("k", [3, 3, 2, 4]);
    let kb = g.param("kb", [4]);
    let conv = Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding: Padding::Same,
    };
    let z = g.add(Op::Conv2d(conv), &[x, k]).unwrap();
    let z = g.binary(BinaryOp::Add, z, kb).unwrap();
    let z = g.unary(UnaryOp::Relu, z).unwrap();
    let pool = Pool2dAttrs {
        kind: PoolKind::Max,
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
    };
    let p = g.add(Op::Pool2d(pool), &[z]).unwrap();
    let flat = g.reshape(p, [batch, 4 * 4 * 4]).unwrap();
    let w = g.param("w", [64, classes]);
    let b = g.param("b", [classes]);
    let logits = g.matmul(flat, w, false, false).unwrap();
    let logits = g.binary(BinaryOp::Add, logits, b).unwrap();
    let (g, state) = softmax_cross_entropy_adam_step(g, logits, y, &[k, kb, w, b]);
    let bindings = initial(&g, &state);
    check("conv net", &g, bindings, 3);
}

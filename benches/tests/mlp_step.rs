//! End to end through the compiler core: an MLP training step built in IR (forward, softmax
//! cross-entropy, backward, Adam) is optimised, planned and compiled with Cranelift, and its
//! first steps match the reference interpreter; on a learnable task the loss falls.

use std::collections::HashMap;

use ir::{Tensor, interp};
use kiln_benches::mlp::{initial_params, mlp_adam_step, synthetic_batch};

/// Relative tolerance on the loss and on every updated parameter, after 3 steps. The
/// compiled code uses fused kernels, polynomial transcendentals and a blocked sgemm, so it
/// differs from the interpreter's plain loops by rounding only.
const TOLERANCE: f32 = 2e-4;

fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

fn compile(graph: &ir::Graph) -> (codegen_cpu::Executable, ir::MemoryPlan, ir::Graph) {
    let optimized = passes::pipeline::optimize(graph).unwrap();
    let plan = passes::memory_plan::plan(&optimized).unwrap();
    let exe = codegen_cpu::compile(&optimized, &plan).unwrap();
    (exe, plan, optimized)
}

#[test]
fn compiled_mlp_step_matches_the_interpreter_and_updates_in_place() {
    let sizes = [784, 300, 100, 10];
    let batch = 16;
    let (graph, optimizer_state) = mlp_adam_step(batch, &sizes).unwrap();
    let (exe, plan, optimized) = compile(&graph);
    let in_place = optimized
        .updates
        .iter()
        .filter(|(_, v)| matches!(plan.of(*v), ir::Storage::InPlace(_)))
        .count();
    assert!(
        in_place >= 2 * 3 * 3,
        "weights, biases and both Adam moments update in place, got {in_place}"
    );

    let mut state = exe.new_state();
    let mut reference: HashMap<String, Tensor> = initial_params(&graph, &optimizer_state, 1);
    for (name, value) in &reference {
        state.set_param(name, &value.data).unwrap();
    }
    for step in 0..3 {
        let (x, y) = synthetic_batch(batch, sizes[0], sizes[3], 100 + step);
        let mut bindings = reference.clone();
        bindings.insert("x".into(), x.clone());
        bindings.insert("y".into(), y.clone());
        let want = interp::run(&graph, &bindings).unwrap();
        let got = exe
            .run(&mut state, &[("x", &x.data), ("y", &y.data)])
            .unwrap();
        let want_loss = want.outputs[0].1.data[0];
        let got_loss = got.iter().find(|(n, _)| n == "loss").unwrap().1.data[0];
        assert!(
            close(got_loss, want_loss, TOLERANCE),
            "step {step}: loss {got_loss} vs interpreter {want_loss}"
        );
        for (name, value) in want.updates {
            let compiled = state.param(&name).unwrap();
            let worst = compiled
                .iter()
                .zip(&value.data)
                .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
                .fold(0.0, f32::max);
            assert!(
                worst <= TOLERANCE,
                "step {step}: param {name} differs by {worst}"
            );
            reference.insert(name, value);
        }
    }
}

#[test]
fn compiled_mlp_learns_a_synthetic_task() {
    let sizes = [32, 64, 32, 4];
    let batch = 64;
    let (graph, optimizer_state) = mlp_adam_step(batch, &sizes).unwrap();
    let (exe, _, _) = compile(&graph);
    let mut state = exe.new_state();
    for (name, value) in initial_params(&graph, &optimizer_state, 7) {
        state.set_param(&name, &value.data).unwrap();
    }
    let batches: Vec<(Tensor, Tensor)> = (0..8)
        .map(|i| synthetic_batch(batch, sizes[0], sizes[3], i))
        .collect();
    let mut epoch_losses = Vec::new();
    for _epoch in 0..30 {
        let mut total = 0.0;
        for (x, y) in &batches {
            let out = exe
                .run(&mut state, &[("x", &x.data), ("y", &y.data)])
                .unwrap();
            total += out[0].1.data[0];
        }
        epoch_losses.push(total / batches.len() as f32);
    }
    let (first, last) = (epoch_losses[0], *epoch_losses.last().unwrap());
    assert!(
        last < 0.25 * first,
        "loss should fall by 4x: {epoch_losses:?}"
    );
}

#[test]
fn wrong_input_length_is_an_error_before_any_kernel_runs() {
    let (graph, _) = mlp_adam_step(4, &[8, 4, 2]).unwrap();
    let (exe, _, _) = compile(&graph);
    let mut state = exe.new_state();
    let before = state.param("w0").unwrap().to_vec();
    let err = exe
        .run(&mut state, &[("x", &[0.0; 31]), ("y", &[0.0; 8])])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains('x') && err.contains("32") && err.contains("31"),
        "{err}"
    );
    assert_eq!(state.param("w0").unwrap(), &before[..], "nothing ran");
}

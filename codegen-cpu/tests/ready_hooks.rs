//! Ready hooks (`compile_with_ready_hooks` + `Executable::run_notifying`): on a CNN gradient
//! step (conv, bias, ReLU, max pool, dense; fused and memory-planned by the real pipeline)
//! every output reaches the listener exactly once, with the values `run` returns, in node
//! order (the loss of the forward pass first, the first layer's gradient last, whatever the
//! outputs' order); without hooks, after the step in output order; a panicking listener
//! panics the caller once the step is over and leaves the executable usable.

use std::panic::{AssertUnwindSafe, catch_unwind};

mod common;

use codegen_cpu::{Executable, compile, compile_with_ready_hooks};
use ir::{Graph, MemoryPlan};

/// Conv + bias + ReLU + max pool + dense and a squared-error loss; outputs the gradients
/// first-layer first, then the loss.
fn gradient_step() -> Graph {
    let (g, loss, params) = common::cnn::cnn_loss();
    let (mut g, grads) = passes::autodiff::grad(&g, loss, &params).unwrap();
    for (name, grad) in ["k", "kb", "w"].into_iter().zip(grads) {
        g.add_output(format!("gradient/{name}"), grad).unwrap();
    }
    g.add_output("loss", loss).unwrap();
    g
}

/// Deterministic values for every input and parameter.
fn feed(exe: &Executable) -> (codegen_cpu::State, Named) {
    let wave = |n: usize, phase: f32| -> Vec<f32> {
        (0..n).map(|i| ((i as f32) * 0.37 + phase).sin()).collect()
    };
    let mut state = exe.new_state();
    for (i, leaf) in exe.params().iter().enumerate() {
        let values = wave(leaf.shape.numel(), i as f32);
        state.set_param(&leaf.name, &values).unwrap();
    }
    let inputs = exe
        .inputs()
        .iter()
        .enumerate()
        .map(|(i, l)| (l.name.clone(), wave(l.shape.numel(), 10.0 + i as f32)))
        .collect();
    (state, inputs)
}

/// Named values, in order.
type Named = Vec<(String, Vec<f32>)>;

/// Runs `exe` twice from the same state and inputs: once notifying (the notifications, in
/// order), once with `run` (the outputs it returns).
fn run(exe: &Executable) -> (Named, Named) {
    let (mut state, inputs) = feed(exe);
    let inputs: Vec<(&str, &[f32])> = inputs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let mut seen = Vec::new();
    exe.run_notifying(&mut state, &inputs, &mut |name, values| {
        seen.push((name.to_string(), values.to_vec()));
    })
    .unwrap();
    let (mut state, _) = feed(exe);
    let outputs = exe.run(&mut state, &inputs).unwrap();
    let outputs = outputs.into_iter().map(|(n, t)| (n, t.data)).collect();
    (seen, outputs)
}

fn optimized() -> (Graph, MemoryPlan) {
    let g = passes::pipeline::optimize(&gradient_step()).unwrap();
    let plan = passes::memory_plan::plan(&g).unwrap();
    (g, plan)
}

#[test]
fn hooks_hand_over_each_output_once_in_node_order_with_its_final_values() {
    let (g, plan) = optimized();
    let exe = compile_with_ready_hooks(&g, &plan).unwrap();
    let (seen, outputs) = run(&exe);
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names.len(),
        outputs.len(),
        "one notification per output: {names:?}"
    );
    assert_eq!(
        names.first(),
        Some(&"loss"),
        "the forward pass ends first: {names:?}"
    );
    assert_eq!(
        names.last(),
        Some(&"gradient/k"),
        "the first layer's gradient ends last: {names:?}"
    );
    for (name, values) in &outputs {
        let handed: Vec<&Vec<f32>> = seen
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v)
            .collect();
        assert_eq!(
            handed,
            [values],
            "`{name}` was handed over once, with its final values"
        );
    }
    let plain = compile(&g, &plan).unwrap();
    assert_eq!(run(&plain).1, outputs, "the hooks change no result");
}

#[test]
fn without_hooks_outputs_are_handed_over_after_the_step_in_output_order() {
    let (g, plan) = optimized();
    let exe = compile(&g, &plan).unwrap();
    let (seen, outputs) = run(&exe);
    assert_eq!(seen, outputs);
}

#[test]
fn a_panicking_listener_panics_after_the_step_and_the_executable_still_runs() {
    let g = gradient_step();
    let exe = compile_with_ready_hooks(&g, &MemoryPlan::naive(&g)).unwrap();
    let (mut state, inputs) = feed(&exe);
    let inputs: Vec<(&str, &[f32])> = inputs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let mut calls = 0;
    let caught = catch_unwind(AssertUnwindSafe(|| {
        exe.run_notifying(&mut state, &inputs, &mut |name, _| {
            calls += 1;
            panic!("listener refused {name}");
        })
    }));
    let message = caught.expect_err("the listener's panic reaches the caller");
    let message = message.downcast_ref::<String>().unwrap();
    assert!(message.starts_with("listener refused"), "{message}");
    assert_eq!(calls, 1, "no hook runs after the listener panicked");
    let again = exe.run(&mut state, &inputs).unwrap();
    assert_eq!(again.len(), 4);
}

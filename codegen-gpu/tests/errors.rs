//! Bad input is a clear error, never a panic: unknown or missing inputs, wrong lengths,
//! unknown parameters, buffers larger than the device binds, plans that do not fit.

mod common;

use codegen_gpu::GpuError;
use ir::{BinaryOp, Graph, MemoryPlan};

fn small_graph() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", [2, 3]);
    let b = g.param("b", [3]);
    let y = g.binary(BinaryOp::Add, x, b).unwrap();
    g.add_output("y", y).unwrap();
    g
}

#[test]
fn inputs_and_params_are_checked_by_name_and_length() {
    let Some(gpu) = common::gpu() else { return };
    let g = small_graph();
    let exe = gpu.compile(&g, &MemoryPlan::naive(&g)).unwrap();
    let mut state = exe.new_state().unwrap();
    let short = exe.run(&mut state, &[("x", &[1.0; 5])]).unwrap_err();
    assert!(
        matches!(&short, GpuError::Input { name, msg } if name == "x" && msg.contains("[2, 3]") && msg.contains("got 5")),
        "{short}"
    );
    let missing = exe.run(&mut state, &[]).unwrap_err();
    assert!(
        matches!(&missing, GpuError::Input { name, .. } if name == "x"),
        "{missing}"
    );
    let unknown = exe
        .run(&mut state, &[("x", &[0.0; 6]), ("z", &[0.0])])
        .unwrap_err();
    assert!(
        matches!(&unknown, GpuError::Input { name, .. } if name == "z"),
        "{unknown}"
    );
    let param = state.set_param("b", &[1.0; 2]).unwrap_err();
    assert!(
        matches!(&param, GpuError::Param { name, msg } if name == "b" && msg.contains("holds 3")),
        "{param}"
    );
    assert!(matches!(state.param("nope"), Err(GpuError::Param { .. })));
    // A good run after the refused ones still works, and parameters stay on the device.
    state.set_param("b", &[1.0, 2.0, 3.0]).unwrap();
    let out = exe
        .run(&mut state, &[("x", &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0])])
        .unwrap();
    assert_eq!(out[0].1.data, [1.0, 3.0, 5.0, 4.0, 6.0, 8.0]);
    assert_eq!(state.param("b").unwrap(), [1.0, 2.0, 3.0]);
}

#[test]
fn a_buffer_larger_than_a_binding_is_refused_with_its_size() {
    let Some(gpu) = common::gpu() else { return };
    let floats = (gpu.max_binding_bytes() / 4 + 1) as usize;
    let mut g = Graph::new();
    let x = g.input("big", [floats]);
    let y = g.unary(ir::UnaryOp::Neg, x).unwrap();
    g.add_output("y", y).unwrap();
    let exe = gpu.compile(&g, &MemoryPlan::naive(&g)).unwrap();
    let err = exe
        .new_state()
        .err()
        .expect("the input buffer is too large");
    assert!(
        matches!(&err, GpuError::BufferTooLarge { buffer, .. } if buffer.contains("big")),
        "{err}"
    );
}

#[test]
fn a_plan_that_does_not_fit_the_graph_is_refused() {
    let Some(gpu) = common::gpu() else { return };
    let g = small_graph();
    let mut plan = MemoryPlan::naive(&g);
    plan.arena_len = 2;
    let err = gpu
        .compile(&g, &plan)
        .err()
        .expect("the arena is too small");
    assert!(matches!(err, GpuError::Plan { .. }), "{err}");
}

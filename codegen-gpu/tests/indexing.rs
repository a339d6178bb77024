//! `gather` and `scatter_add` on the GPU against the reference interpreter: row widths of
//! one and several elements, repeated ids, a scatter-add with more rows than one block holds,
//! ids computed inside the graph that are invalid (a zero row, a dropped update, never an
//! out-of-bounds read), the input check of ids bound to a graph input, and an embedding
//! training step through autodiff. Values move exactly and a scatter-add sums in id order as
//! the interpreter does, so the single-op cases compare exactly. Skipped where no GPU
//! adapter exists (see `codegen_gpu::gpu_tests_enabled`).

mod common;
#[path = "../../codegen-cpu/tests/common/indexing_graphs.rs"]
mod indexing_graphs;

use indexing_graphs::{computed_ids_graph, embedding_training_graph, gather_graph};
use ir::interp::Bindings;
use ir::{Graph, MemoryPlan, Tensor};

/// Bindings: `ids` for the input called `ids`, `common::bindings` values for the rest.
fn with_ids(graph: &Graph, ids: &[f32]) -> Bindings {
    let mut b = common::bindings(graph, -1.0, 1.0);
    if let Some(t) = b.get_mut("ids") {
        t.data = ids.to_vec();
    }
    b
}

/// Run `graph` for `steps` steps on the GPU under the naive and the real plan; compare the
/// last outputs and the parameters with the interpreter's.
fn check(what: &str, graph: &Graph, b: &Bindings, steps: usize, tol: f32) {
    let Some(gpu) = common::gpu() else { return };
    let mut reference = b.clone();
    let mut want = ir::interp::run(graph, &reference).unwrap();
    for _ in 1..steps {
        for (name, value) in &want.updates {
            reference.insert(name.clone(), value.clone());
        }
        want = ir::interp::run(graph, &reference).unwrap();
    }
    for (plan_name, plan) in [
        ("naive", MemoryPlan::naive(graph)),
        ("planned", passes::memory_plan::plan(graph).unwrap()),
    ] {
        let (outputs, params) = common::run_gpu(gpu, graph, &plan, b, steps)
            .unwrap_or_else(|e| panic!("{what} ({plan_name}): {e}"));
        let last = outputs.last().unwrap();
        for ((name, g), (_, w)) in last.iter().zip(&want.outputs) {
            common::assert_close(
                &format!("{what} ({plan_name}) {name}"),
                &g.data,
                &w.data,
                tol,
            );
        }
        for (name, value) in &want.updates {
            let got = &params.iter().find(|(n, _)| n == name).unwrap().1;
            common::assert_close(
                &format!("{what} ({plan_name}) {name}"),
                got,
                &value.data,
                tol,
            );
        }
    }
}

#[test]
fn gather_and_scatter_add_match_the_interpreter() {
    for (rows, row, ids_shape) in [
        (5, vec![1], vec![7]),
        (5, vec![3], vec![2, 4]),
        (3, vec![2, 3], vec![4]),
        (7, vec![], vec![2, 3]),
        // 4096 / 2 = 2048 row blocks cover 3000 rows two at a time.
        (3000, vec![2], vec![40]),
    ] {
        let g = gather_graph(rows, &row, &ids_shape);
        let n: usize = ids_shape.iter().product();
        let ids: Vec<f32> = (0..n).map(|i| ((i * 7) % rows) as f32).collect();
        let what = format!("rows {rows} row {row:?} ids {ids_shape:?}");
        check(&what, &g, &with_ids(&g, &ids), 1, 0.0);
    }
}

#[test]
fn invalid_ids_computed_in_the_graph_read_zeros_and_scatter_nothing() {
    let g = computed_ids_graph();
    let mut b = common::bindings(&g, -1.0, 1.0);
    let raw_ids: Vec<f32> = (0..8).map(|i| i as f32).collect();
    b.insert("raw".into(), Tensor::new([8], raw_ids).unwrap());
    check("computed ids", &g, &b, 1, 0.0);
}

#[test]
fn ids_bound_to_an_input_are_checked_before_any_kernel_runs() {
    let Some(gpu) = common::gpu() else { return };
    let g = gather_graph(4, &[2], &[3]);
    let exe = gpu.compile(&g, &MemoryPlan::naive(&g)).unwrap();
    let mut state = exe.new_state().unwrap();
    let (table, dy) = ([0.0; 8], [0.0; 6]);
    let ids = [0.0, 9.0, 3.0];
    let err = exe
        .run(&mut state, &[("table", &table), ("ids", &ids), ("dy", &dy)])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "input `ids`: id 9 at input position 1 is outside [0, 4)"
    );
}

#[test]
fn embedding_training_steps_match_the_interpreter() {
    let g = passes::pipeline::optimize(&embedding_training_graph()).unwrap();
    let ids = [0.0, 1.0, 1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 4.0, 3.0, 2.0];
    check("embedding training", &g, &with_ids(&g, &ids), 3, 1e-4);
}

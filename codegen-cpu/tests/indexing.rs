//! `gather` and `scatter_add` on the CPU against the reference interpreter: row widths with
//! and without a vector tail, repeated ids, a kernel large enough to be split over the pool,
//! ids computed inside the graph that are invalid (a zero row, a dropped update, never an
//! out-of-bounds read), the input check of ids bound to a graph input, and an embedding
//! training step through autodiff — each under the naive plan and after the optimising
//! pipeline with the real plan. Gather and scatter-add move values exactly (a scatter-add
//! sums in id order, as the interpreter does), so the single-op cases compare exactly.

mod common;
#[path = "common/indexing_graphs.rs"]
mod indexing_graphs;

use codegen_cpu::compile;
use common::{compare_steps, values};
use indexing_graphs::{computed_ids_graph, embedding_training_graph, gather_graph};
use ir::interp::{self, Bindings};
use ir::{Graph, MemoryPlan, Op, Tensor};

/// Ids `i * 7 mod rows`, so they repeat once `n > rows`.
fn ids(n: usize, rows: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7) % rows) as f32).collect()
}

/// Bindings: `ids` for the input called `ids`, values in `[-1, 1)` for every other leaf.
fn bindings(graph: &Graph, ids: &[f32]) -> Bindings {
    graph
        .node_ids()
        .filter_map(|id| match graph.op(id) {
            Op::Input { name, shape } | Op::Param { name, shape } => {
                let data = if name == "ids" {
                    ids.to_vec()
                } else {
                    values(shape.numel(), 40 + id.index() as u32, -1.0, 1.0)
                };
                Some((name.clone(), Tensor::new(shape.clone(), data).unwrap()))
            }
            _ => None,
        })
        .collect()
}

/// [`compare_steps`] under the naive plan, then optimised under the real plan.
fn check(what: &str, graph: &Graph, b: &Bindings, steps: usize, tol: f32) {
    compare_steps(
        &format!("{what} (naive)"),
        graph,
        &MemoryPlan::naive(graph),
        b,
        steps,
        tol,
        tol,
    );
    let optimized = passes::pipeline::optimize(graph).unwrap();
    let plan = passes::memory_plan::plan(&optimized).unwrap();
    compare_steps(
        &format!("{what} (optimized)"),
        &optimized,
        &plan,
        b,
        steps,
        tol,
        tol,
    );
}

#[test]
fn gather_and_scatter_add_match_the_interpreter_exactly() {
    for (rows, row, ids_shape) in [
        (5, vec![1], vec![7]),
        (5, vec![3], vec![2, 4]),
        (6, vec![4], vec![3, 3]),
        (4, vec![9], vec![2, 5]),
        (3, vec![2, 3], vec![4]),
        (7, vec![], vec![2, 3]),
        (50, vec![40], vec![16, 30]),
    ] {
        let g = gather_graph(rows, &row, &ids_shape);
        let n = ids_shape.iter().product();
        let what = format!("rows {rows} row {row:?} ids {ids_shape:?}");
        check(&what, &g, &bindings(&g, &ids(n, rows)), 1, 0.0);
    }
}

#[test]
fn invalid_ids_computed_in_the_graph_read_zeros_and_scatter_nothing() {
    // Seven of the eight computed ids are invalid. The table is all NaN, so a zero in the
    // result can only come from an invalid id.
    let g = computed_ids_graph();
    let mut b = bindings(&g, &[]);
    let raw_ids: Vec<f32> = (0..8).map(|i| i as f32).collect();
    b.insert("raw".into(), Tensor::new([8], raw_ids).unwrap());
    b.insert("table".into(), Tensor::full([4, 5], f32::NAN));
    let want = interp::run(&g, &b).unwrap();
    let zeros = want.outputs[0].1.data.iter().filter(|v| **v == 0.0).count();
    assert_eq!(zeros, 7 * 5, "seven of the eight ids are invalid");
    check("computed ids", &g, &b, 1, 0.0);
}

#[test]
fn ids_bound_to_an_input_are_checked_before_any_kernel_runs() {
    let g = gather_graph(4, &[2], &[3]);
    let exe = compile(&g, &MemoryPlan::naive(&g)).unwrap();
    let mut state = exe.new_state();
    let table = [0.0; 8];
    let dy = [0.0; 6];
    for (bad, msg) in [
        (
            4.0,
            "input `ids`: id 4 at input position 1 is outside [0, 4)",
        ),
        (
            -1.0,
            "input `ids`: id -1 at input position 1 is outside [0, 4)",
        ),
        (
            1.25,
            "input `ids`: id 1.25 at input position 1 is not an integer id in [0, 4)",
        ),
    ] {
        let ids = [0.0, bad, 3.0];
        let err = exe
            .run(&mut state, &[("table", &table), ("ids", &ids), ("dy", &dy)])
            .unwrap_err();
        assert_eq!(err.to_string(), msg);
    }
}

#[test]
fn embedding_training_steps_match_the_interpreter() {
    let g = embedding_training_graph();
    // Id 5 never occurs: its row must stay as it was.
    let ids = [0.0, 1.0, 1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 4.0, 3.0, 2.0];
    check("embedding training", &g, &bindings(&g, &ids), 3, 1e-5);
}

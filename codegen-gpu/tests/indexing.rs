//! `gather` and `scatter_add` on the GPU against the reference interpreter: row widths of
//! one and several elements, repeated ids, a scatter-add with more rows than one block holds,
//! ids computed inside the graph that are invalid (a zero row, a dropped update, never an
//! out-of-bounds read), the input check of ids bound to a graph input, and an embedding
//! training step through autodiff. Values move exactly and a scatter-add sums in id order as
//! the interpreter does, so the single-op cases compare exactly. Skipped where no GPU
//! adapter exists (see `codegen_gpu::gpu_tests_enabled`).

mod common;

use ir::interp::Bindings;
use ir::{BinaryOp, Graph, MemoryPlan, Op, ReduceOp, Shape, Tensor};

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

/// `gather(table [rows, row..], ids)` and its scatter-add back.
fn gather_graph(rows: usize, row: &[usize], ids_shape: &[usize]) -> Graph {
    let mut g = Graph::new();
    let mut table_shape = vec![rows];
    table_shape.extend_from_slice(row);
    let table = g.input("table", Shape::new(table_shape));
    let ids = g.input("ids", Shape::new(ids_shape.to_vec()));
    let y = g.add(Op::Gather, &[table, ids]).unwrap();
    let dy = g.input("dy", g.shape(y).clone());
    let back = g.add(Op::ScatterAdd { rows }, &[ids, dy]).unwrap();
    g.add_output("gathered", y).unwrap();
    g.add_output("scattered", back).unwrap();
    g
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
    // ids = raw * 1.5 - 1: -1, 0.5, 2, 3.5, 5, 6.5, 8, 9.5: only 2 is valid for 4 rows.
    let mut g = Graph::new();
    let table = g.input("table", [4, 5]);
    let raw = g.input("raw", [8]);
    let scale = g.scalar(1.5);
    let one = g.scalar(1.0);
    let scaled = g.binary(BinaryOp::Mul, raw, scale).unwrap();
    let ids = g.binary(BinaryOp::Sub, scaled, one).unwrap();
    let y = g.add(Op::Gather, &[table, ids]).unwrap();
    let back = g.add(Op::ScatterAdd { rows: 4 }, &[ids, y]).unwrap();
    g.add_output("gathered", y).unwrap();
    g.add_output("scattered", back).unwrap();
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
    let mut g = Graph::new();
    let ids = g.input("ids", [4, 3]);
    let target = g.input("target", [4, 2]);
    let table = g.param("table", [6, 5]);
    let w = g.param("w", [15, 2]);
    let rows = g.add(Op::Gather, &[table, ids]).unwrap();
    let flat = g.reshape(rows, Shape::from([4, 15])).unwrap();
    let y = g.matmul(flat, w, false, false).unwrap();
    let e = g.binary(BinaryOp::Sub, y, target).unwrap();
    let se = g.binary(BinaryOp::Mul, e, e).unwrap();
    let loss = g.reduce(ReduceOp::Mean, se, &[0, 1], false).unwrap();
    let params = [table, w];
    let (mut g, grads) = passes::autodiff::grad(&g, loss, &params).unwrap();
    let lr = g.scalar(0.5);
    for (p, d) in params.into_iter().zip(grads) {
        let step = g.binary(BinaryOp::Mul, d, lr).unwrap();
        let new = g.binary(BinaryOp::Sub, p, step).unwrap();
        g.add_update(p, new).unwrap();
    }
    g.add_output("loss", loss).unwrap();
    let g = passes::pipeline::optimize(&g).unwrap();
    let ids = [0.0, 1.0, 1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 4.0, 3.0, 2.0];
    check("embedding training", &g, &with_ids(&g, &ids), 3, 1e-4);
}

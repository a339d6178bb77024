//! The IR graphs of the `gather`/`scatter_add` tests, shared by the CPU and the GPU
//! `indexing` tests (the GPU one includes this file by path): a gather with its scatter-add
//! back, ids computed inside the graph, and an embedding model's training step. It builds
//! graphs only; binding values, running and comparing stay in each test.

use ir::{BinaryOp, Graph, Op, ReduceOp, Shape};

/// `gather(table [rows, row..], ids [ids_shape])` and its scatter-add of `dy` back.
pub fn gather_graph(rows: usize, row: &[usize], ids_shape: &[usize]) -> Graph {
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

/// A gather from `table [4, 5]` and its scatter-add back, with ids computed in the graph as
/// `raw [8] * 1.5 - 1`: for `raw` 0..8 the ids -1, 0.5, 2, 3.5, 5, 6.5, 8, 9.5, of which
/// only 2 is valid (the others are negative, fractional or too large).
pub fn computed_ids_graph() -> Graph {
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
    g
}

/// An embedding model's training step: `ids [4, 3]` -> `gather(table [6, 5])` -> flatten
/// -> matmul `w [15, 2]` -> mean squared error; SGD on the table and `w` from autodiff.
pub fn embedding_training_graph() -> Graph {
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
    g
}

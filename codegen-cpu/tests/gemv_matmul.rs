//! Compiled matrix-vector products (a batch-1 Dense layer and its transposed forms) against
//! the reference interpreter: `x·W` with `W` row-major, `x·Wᵀ`, and `W·x` (one column),
//! small (one thread) and large enough that `kiln_sgemm` splits them among threads itself
//! (rows of `W` into fixed parts, or columns), with the bias and relu epilogue fused in.
//!
//! Tolerance: `|got - want| <= 1e-4 * |want| + 1e-3`; the products sum up to 3000 terms in
//! [-1, 1) in another order than the interpreter (a wrong row, column or part is off by
//! O(1)).

mod common;

use codegen_cpu::compile;
use common::{assert_close, values};
use ir::interp::{self, Bindings};
use ir::{BinaryOp, Graph, Tensor, UnaryOp};

/// `relu(x · w + b)` with `x` `[1, k]` and `w` `[k, n]` (stored `[n, k]` when
/// `transposed`), or, `column`, `relu(w · x + b)` with `w` `[n, k]` and `x` `[k, 1]`.
fn dense(k: usize, n: usize, transposed: bool, column: bool) -> Graph {
    let mut g = Graph::new();
    let y = if column {
        let x = g.input("x", [k, 1]);
        let w = g.param("w", [n, k]);
        g.matmul(w, x, false, false).unwrap()
    } else {
        let x = g.input("x", [1, k]);
        let w = if transposed {
            g.param("w", [n, k])
        } else {
            g.param("w", [k, n])
        };
        g.matmul(x, w, false, transposed).unwrap()
    };
    let shape = if column { [n, 1] } else { [1, n] };
    let b = g.param("b", shape);
    let y = g.binary(BinaryOp::Add, y, b).unwrap();
    let y = g.unary(UnaryOp::Relu, y).unwrap();
    g.add_output("y", y).unwrap();
    g
}

fn check(k: usize, n: usize, transposed: bool, column: bool) {
    let what = format!("k {k} n {n} transposed {transposed} column {column}");
    let graph = passes::pipeline::optimize(&dense(k, n, transposed, column)).unwrap();
    let plan = passes::memory_plan::plan(&graph).unwrap();
    let exe = compile(&graph, &plan).unwrap();
    let mut state = exe.new_state();
    let mut bindings = Bindings::new();
    for (seed, leaf) in exe.params().iter().enumerate() {
        let data = values(leaf.shape.numel(), seed as u32 + 1, -1.0, 1.0);
        state.set_param(&leaf.name, &data).unwrap();
        bindings.insert(
            leaf.name.clone(),
            Tensor::new(leaf.shape.clone(), data).unwrap(),
        );
    }
    let x = values(k, 99, -1.0, 1.0);
    let x_shape = if column { [k, 1] } else { [1, k] };
    bindings.insert("x".into(), Tensor::new(x_shape, x.clone()).unwrap());
    let got = exe.run(&mut state, &[("x", &x)]).unwrap();
    let want = interp::run(&graph, &bindings).unwrap();
    assert_close(&what, &got[0].1.data, &want.outputs[0].1.data, 1e-4, 1e-3);
}

#[test]
fn small_products_match_the_interpreter() {
    for (transposed, column) in [(false, false), (true, false), (false, true)] {
        check(37, 53, transposed, column);
        check(300, 100, transposed, column);
    }
}

#[test]
fn products_split_among_threads_match_the_interpreter() {
    // 2 * 3000 * 1500 flops: split by `kiln_sgemm` (two row parts, or columns).
    for (transposed, column) in [(false, false), (true, false), (false, true)] {
        check(3000, 1500, transposed, column);
    }
}

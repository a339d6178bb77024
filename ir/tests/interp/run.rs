//! `eval` and `run` on whole graphs: outputs, parameter updates, binding errors.

use crate::support::{assert_close, t};
use ir::interp::{Bindings, eval, eval_op, run};
use ir::{BinaryOp, Graph, IrError, Op, Shape};

/// One SGD step on `w` for the loss `sum(x w)`: `w' = w - lr * x^T 1`.
fn sgd_graph() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", [2, 3]);
    let w = g.param("w", [3, 1]);
    let y = g.matmul(x, w, false, false).unwrap();
    let loss = g.reduce(ir::ReduceOp::Sum, y, &[0, 1], false).unwrap();
    let ones = g.constant(t([2, 1], vec![1.0, 1.0]));
    let grad = g.matmul(x, ones, true, false).unwrap();
    let lr = g.scalar(0.5);
    let step = g.binary(BinaryOp::Mul, grad, lr).unwrap();
    let w_new = g.binary(BinaryOp::Sub, w, step).unwrap();
    g.add_output("loss", loss).unwrap();
    g.add_output("y", y).unwrap();
    g.add_update(w, w_new).unwrap();
    g
}

fn sgd_bindings() -> Bindings {
    Bindings::from([
        (
            "x".to_string(),
            t([2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        ),
        ("w".to_string(), t([3, 1], vec![1.0, 0.0, -1.0])),
    ])
}

#[test]
fn run_returns_outputs_and_updates() {
    let result = run(&sgd_graph(), &sgd_bindings()).unwrap();
    let names: Vec<&str> = result.outputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["loss", "y"]);
    // y = [1 - 3, 4 - 6] = [-2, -2]; loss = -4.
    assert_close(&result.outputs[0].1, &[], &[-4.0], 0.0);
    assert_close(&result.outputs[1].1, &[2, 1], &[-2.0, -2.0], 0.0);
    // x^T 1 = [5, 7, 9]; w' = w - 0.5 [5, 7, 9].
    assert_eq!(result.updates.len(), 1);
    assert_eq!(result.updates[0].0, "w");
    assert_close(&result.updates[0].1, &[3, 1], &[-1.5, -3.5, -5.5], 0.0);
}

#[test]
fn eval_gives_every_node_by_index() {
    let g = sgd_graph();
    let values = eval(&g, &sgd_bindings()).unwrap();
    assert_eq!(values.len(), g.len());
    for id in g.node_ids() {
        assert_eq!(&values[id.index()].shape, g.shape(id), "node {id}");
    }
    assert_eq!(values[0], sgd_bindings()["x"]);
}

#[test]
fn missing_binding_names_the_node() {
    let mut bindings = sgd_bindings();
    bindings.remove("w");
    let err = run(&sgd_graph(), &bindings).unwrap_err();
    let IrError::Interp(msg) = &err else {
        panic!("wrong error kind: {err:?}")
    };
    assert!(
        msg.contains("%1")
            && msg.contains("`w`")
            && msg.contains("[3, 1]")
            && msg.contains("no binding"),
        "{msg}"
    );
}

#[test]
fn wrong_binding_shape_names_both_shapes() {
    let mut bindings = sgd_bindings();
    bindings.insert("x".into(), t([3, 2], vec![0.0; 6]));
    let err = run(&sgd_graph(), &bindings).unwrap_err();
    let IrError::Interp(msg) = &err else {
        panic!("wrong error kind: {err:?}")
    };
    assert!(
        msg.contains("%0")
            && msg.contains("`x`")
            && msg.contains("[2, 3]")
            && msg.contains("[3, 2]"),
        "{msg}"
    );
    // Data that does not fill the declared shape is rejected too.
    bindings.insert(
        "x".into(),
        ir::Tensor {
            shape: Shape::from([2, 3]),
            data: vec![0.0; 5],
        },
    );
    assert!(matches!(
        run(&sgd_graph(), &bindings),
        Err(IrError::Interp(_))
    ));
}

#[test]
fn eval_op_rejects_misfit_operands_and_unbound_leaves() {
    let err = eval_op(
        &Op::MatMul {
            transpose_a: false,
            transpose_b: false,
        },
        &[&t([2, 3], vec![0.0; 6]), &t([2, 3], vec![0.0; 6])],
    )
    .unwrap_err();
    assert!(err.to_string().contains("[2, 3], [2, 3]"), "{err}");
    let leaf = Op::Input {
        name: "x".into(),
        shape: Shape::from([1]),
    };
    assert!(matches!(eval_op(&leaf, &[]), Err(IrError::Interp(_))));
    let ok = eval_op(
        &Op::Binary(BinaryOp::Add),
        &[&t([1], vec![1.0]), &t([1], vec![2.0])],
    )
    .unwrap();
    assert_close(&ok, &[1], &[3.0], 0.0);
}

//! Structural tests of the reverse sweep: which nodes get gradients, shapes, and errors.
//! The numerics of every rule are checked against finite differences in `tests/gradcheck.rs`.

use ir::{BinaryOp, FusedOp, Graph, Op, Program, ReduceOp, Tensor, UnaryOp};

use super::grad;
use crate::error::PassError;

#[test]
fn an_unrelated_wrt_gets_a_zeros_constant() {
    let mut g = Graph::new();
    let x = g.input("x", [2, 3]);
    let unused = g.param("unused", [4]);
    let s = g.reduce(ReduceOp::Sum, x, &[0, 1], false).unwrap();
    let (out, grads) = grad(&g, s, &[unused]).unwrap();
    assert_eq!(out.op(grads[0]), &Op::Const(Tensor::zeros([4])));
}

#[test]
fn a_wrt_behind_a_piecewise_constant_op_gets_zeros() {
    let mut g = Graph::new();
    let x = g.input("x", [3]);
    let f = g.unary(UnaryOp::Floor, x).unwrap();
    let s = g.reduce(ReduceOp::Sum, f, &[0], false).unwrap();
    let (out, grads) = grad(&g, s, &[x]).unwrap();
    assert_eq!(out.op(grads[0]), &Op::Const(Tensor::zeros([3])));
}

#[test]
fn the_loss_itself_has_gradient_one() {
    let mut g = Graph::new();
    let x = g.input("x", [1, 1]);
    let (out, grads) = grad(&g, x, &[x]).unwrap();
    assert_eq!(out.op(grads[0]), &Op::Const(Tensor::full([1, 1], 1.0)));
}

#[test]
fn original_ids_survive_and_gradients_have_wrt_shapes() {
    let mut g = Graph::new();
    let a = g.input("a", [2, 3]);
    let w = g.param("w", [3, 4]);
    let b = g.param("b", [4]);
    let m = g.matmul(a, w, false, false).unwrap();
    let y = g.binary(BinaryOp::Add, m, b).unwrap();
    let s = g.reduce(ReduceOp::Mean, y, &[0, 1], false).unwrap();
    g.add_output("loss", s).unwrap();
    let (out, grads) = grad(&g, s, &[w, b, a]).unwrap();
    for id in g.node_ids() {
        assert_eq!(out.node(id), g.node(id));
    }
    assert_eq!(out.outputs, g.outputs);
    for (&x, &dx) in [w, b, a].iter().zip(&grads) {
        assert_eq!(out.shape(dx), g.shape(x), "gradient of {x}");
    }
}

#[test]
fn only_nodes_between_wrt_and_loss_get_gradient_nodes() {
    let mut g = Graph::new();
    let x = g.input("x", [3]);
    let c = g.input("c", [3]);
    let side = g.unary(UnaryOp::Exp, c).unwrap();
    let side_sum = g.reduce(ReduceOp::Sum, side, &[0], false).unwrap();
    let sx = g.reduce(ReduceOp::Sum, x, &[0], false).unwrap();
    let loss = g.binary(BinaryOp::Add, sx, side_sum).unwrap();
    let (out, _) = grad(&g, loss, &[x]).unwrap();
    // The side branch (c, exp, its sum) is never read by a gradient node.
    for id in out.node_ids().skip(g.len()) {
        for o in out.operands(id) {
            assert!(
                ![c, side, side_sum].contains(&o),
                "gradient node {id} reads side-branch node {o}"
            );
        }
    }
    // Seed, the broadcast back through sum(x): nothing for exp.
    assert!(
        out.node_ids()
            .skip(g.len())
            .all(|id| !matches!(out.op(id), Op::Unary(UnaryOp::Exp)))
    );
}

#[test]
fn fan_out_contributions_are_added() {
    let mut g = Graph::new();
    let x = g.input("x", [3]);
    let sq = g.binary(BinaryOp::Mul, x, x).unwrap();
    let s = g.reduce(ReduceOp::Sum, sq, &[0], false).unwrap();
    let (out, grads) = grad(&g, s, &[x]).unwrap();
    let dx = grads[0];
    assert_eq!(out.op(dx), &Op::Binary(BinaryOp::Add));
    assert_eq!(out.shape(dx), g.shape(x));
}

#[test]
fn a_non_scalar_loss_is_rejected() {
    let mut g = Graph::new();
    let x = g.input("x", [2]);
    let err = grad(&g, x, &[x]).unwrap_err();
    assert!(
        matches!(&err, PassError::Autodiff(m) if m.contains("%0") && m.contains("[2]")),
        "{err}"
    );
}

#[test]
fn a_fused_node_is_rejected_by_name() {
    let mut g = Graph::new();
    let x = g.input("x", [2]);
    let f = g
        .add(Op::Fused(FusedOp::Elementwise(Program::identity())), &[x])
        .unwrap();
    let s = g.reduce(ReduceOp::Sum, f, &[0], false).unwrap();
    let err = grad(&g, s, &[x]).unwrap_err();
    assert!(
        matches!(&err, PassError::Autodiff(m) if m.contains("%1") && m.contains("fused.elementwise")),
        "{err}"
    );
}

#[test]
fn a_foreign_node_id_is_rejected() {
    let mut g = Graph::new();
    let x = g.input("x", [1]);
    let err = grad(&g, x, &[ir::NodeId::from_index(7)]).unwrap_err();
    assert!(
        matches!(&err, PassError::Autodiff(m) if m.contains("%7")),
        "{err}"
    );
}

#[test]
fn the_relu_gradient_reads_the_output_with_the_input_mask() {
    let mut g = Graph::new();
    let x = g.input("x", [5]);
    let y = g.unary(UnaryOp::Relu, x).unwrap();
    let s = g.reduce(ReduceOp::Sum, y, &[0], false).unwrap();
    let (out, grads) = grad(&g, s, &[x]).unwrap();
    // The mask compares the output: the pre-activation has no other reader.
    let mask = out
        .node_ids()
        .find(|&id| out.op(id) == &Op::Binary(BinaryOp::Gt))
        .expect("a comparison mask");
    assert_eq!(out.operands(mask)[0], y);
    assert_eq!(out.users(x), vec![y]);
    // Same values as `x > 0`, NaN and signed zeros included: relu(NaN) is 0 (f32::max),
    // and neither NaN > 0 nor 0 > 0 holds.
    let values = [f32::NAN, -0.0, 0.0, -3.0, 2.5];
    let bindings = [("x".to_string(), Tensor::new([5], values.to_vec()).unwrap())].into();
    let dx = &ir::interp::eval(&out, &bindings).unwrap()[grads[0].index()];
    let by_input: Vec<f32> = values
        .iter()
        .map(|&v| f32::from(u8::from(v > 0.0)))
        .collect();
    assert_eq!(dx.data, by_input);
}

#[test]
fn no_gradient_flows_through_stop_gradient() {
    // y = sum(x * stop_gradient(x)): dy/dx is stop_gradient(x) = x, not 2x.
    let mut g = Graph::new();
    let x = g.input("x", [3]);
    let frozen = g.stop_gradient(x).unwrap();
    let p = g.binary(BinaryOp::Mul, x, frozen).unwrap();
    let s = g.reduce(ReduceOp::Sum, p, &[0], false).unwrap();
    let (out, grads) = grad(&g, s, &[x]).unwrap();
    let values = vec![1.5, -2.0, 0.25];
    let bindings = [("x".to_string(), Tensor::new([3], values.clone()).unwrap())].into();
    assert_eq!(
        ir::interp::eval(&out, &bindings).unwrap()[grads[0].index()].data,
        values
    );
    // Through stop_gradient alone: a zeros constant, as for any constant.
    let s = g.reduce(ReduceOp::Sum, frozen, &[0], false).unwrap();
    let (out, grads) = grad(&g, s, &[x]).unwrap();
    assert_eq!(out.op(grads[0]), &Op::Const(Tensor::zeros([3])));
}

#[test]
fn disjoint_slices_get_their_gradient_joined_by_one_concat() {
    // x [5, 2] sliced into rows 0..1, 1..3 and 4..5 (row 3 unused), each summed with its
    // own weight: dx is one concat of the pieces with zeros for row 3, not pads and adds.
    let mut g = Graph::new();
    let x = g.input("x", [5, 2]);
    let mut terms = Vec::new();
    for (k, (from, to)) in [(0, 1), (1, 3), (4, 5)].into_iter().enumerate() {
        let s = g
            .add(
                Op::Slice {
                    starts: vec![from, 0],
                    ends: vec![to, 2],
                },
                &[x],
            )
            .unwrap();
        let w = g.scalar(k as f32 + 1.0);
        let ws = g.binary(BinaryOp::Mul, s, w).unwrap();
        terms.push(g.reduce(ReduceOp::Sum, ws, &[0, 1], false).unwrap());
    }
    let a = g.binary(BinaryOp::Add, terms[0], terms[1]).unwrap();
    let loss = g.binary(BinaryOp::Add, a, terms[2]).unwrap();
    let (out, grads) = grad(&g, loss, &[x]).unwrap();
    assert_eq!(out.op(grads[0]), &Op::Concat { axis: 0 });
    // The slices' pads are left unused (dead code for DCE).
    let pads: Vec<_> = out
        .node_ids()
        .filter(|&n| matches!(out.op(n), Op::Pad { .. }))
        .collect();
    assert_eq!(pads.len(), 3);
    assert!(pads.iter().all(|&p| out.users(p).is_empty()));
    let mut bindings = ir::interp::Bindings::new();
    bindings.insert("x".into(), Tensor::zeros([5, 2]));
    let values = ir::interp::eval(&out, &bindings).unwrap();
    assert_eq!(
        values[grads[0].index()].data,
        [1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 0.0, 0.0, 3.0, 3.0]
    );
}

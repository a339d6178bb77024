//! A small CNN's squared-error loss (conv + bias + ReLU + 2×2 max pool + dense), the graph
//! both the differential training test and the ready-hook test differentiate.

use ir::{
    BinaryOp, Conv2dAttrs, Graph, NodeId, Op, Padding, Pool2dAttrs, PoolKind, ReduceOp, UnaryOp,
};

/// The loss graph on inputs `x` [2, 8, 8, 2] and `target` [2, 3]; returns it, the loss node
/// and the parameters `k`, `kb`, `w` in order.
pub fn cnn_loss() -> (Graph, NodeId, [NodeId; 3]) {
    let mut g = Graph::new();
    let x = g.input("x", [2, 8, 8, 2]);
    let target = g.input("target", [2, 3]);
    let k = g.param("k", [3, 3, 2, 4]);
    let kb = g.param("kb", [4]);
    let w = g.param("w", [64, 3]);
    let conv = Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding: Padding::Same,
    };
    let c = g.add(Op::Conv2d(conv), &[x, k]).unwrap();
    let c = g.binary(BinaryOp::Add, c, kb).unwrap();
    let c = g.unary(UnaryOp::Relu, c).unwrap();
    let pool = Pool2dAttrs {
        kind: PoolKind::Max,
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
    };
    let p = g.add(Op::Pool2d(pool), &[c]).unwrap();
    let flat = g.reshape(p, [2, 64]).unwrap();
    let y = g.matmul(flat, w, false, false).unwrap();
    let e = g.binary(BinaryOp::Sub, y, target).unwrap();
    let se = g.unary(UnaryOp::Square, e).unwrap();
    let loss = g.reduce(ReduceOp::Mean, se, &[0, 1], false).unwrap();
    (g, loss, [k, kb, w])
}

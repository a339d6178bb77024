//! The optimization pipeline: one short list of passes, run in order.
//!
//! Guarantees: every pass's result is checked by [`ir::verify::verify`] before the next pass
//! runs (a failure names the pass); when the environment variable `KILN_DUMP_IR` names a
//! pass (or several, comma-separated, or is `all`), the IR after that pass is printed to
//! stderr in the text form, headed by `; after <pass>`. The input graph is verified first (reported as pass `input`).
//!
//! Deliberately not here: autodiff (the frontend builds the training graph before
//! optimizing) and memory planning (it produces a plan, not a graph, and runs on this
//! pipeline's result).

use ir::Graph;

use crate::error::PassError;
use crate::{fuse, simplify};

/// A graph-to-graph pass.
pub type Pass = fn(&Graph) -> Result<Graph, PassError>;

/// The passes [`optimize`] runs, in order. Simplify first so fusion sees the smallest graph,
/// then remove what fusion absorbed.
pub const PASSES: [(&str, Pass); 6] = [
    ("const_fold", simplify::const_fold),
    ("algebraic", simplify::algebraic),
    ("cse", simplify::cse),
    ("dce", simplify::dce),
    ("fuse", fuse::fuse),
    ("dce", simplify::dce),
];

/// The environment variable that selects IR dumps.
pub const DUMP_ENV: &str = "KILN_DUMP_IR";

/// Run [`PASSES`] on `graph`.
pub fn optimize(graph: &Graph) -> Result<Graph, PassError> {
    run(graph, &PASSES)
}

/// Run `passes` in order on `graph`, verifying (and optionally dumping) after each.
pub fn run(graph: &Graph, passes: &[(&'static str, Pass)]) -> Result<Graph, PassError> {
    let dump = std::env::var(DUMP_ENV).ok();
    ir::verify::verify(graph).map_err(|source| PassError::AfterPass {
        pass: "input",
        source,
    })?;
    let mut current = graph.clone();
    for &(name, pass) in passes {
        current = pass(&current)?;
        ir::verify::verify(&current)
            .map_err(|source| PassError::AfterPass { pass: name, source })?;
        if dumps_after(dump.as_deref(), name) {
            eprintln!("; after {name}\n{}", ir::text::print(&current));
        }
    }
    Ok(current)
}

/// Whether the dump setting `setting` (the value of [`DUMP_ENV`]) asks for the IR after
/// `pass`: a comma-separated list of pass names, or `all`.
pub fn dumps_after(setting: Option<&str>, pass: &str) -> bool {
    setting.is_some_and(|s| s.split(',').map(str::trim).any(|d| d == "all" || d == pass))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::{BinaryOp, FusedOp, Op, UnaryOp};

    #[test]
    fn optimize_folds_merges_and_fuses_a_dense_layer() {
        let mut g = Graph::new();
        let x = g.input("x", [4, 3]);
        let w = g.param("w", [3, 2]);
        let b = g.param("b", [2]);
        let one = g.scalar(1.0);
        let two = g.scalar(2.0);
        let half = g.binary(BinaryOp::Div, one, two).unwrap();
        let mm = g.matmul(x, w, false, false).unwrap();
        let scaled = g.binary(BinaryOp::Mul, mm, one).unwrap();
        let biased = g.binary(BinaryOp::Add, scaled, b).unwrap();
        let act1 = g.unary(UnaryOp::Relu, biased).unwrap();
        let act2 = g.unary(UnaryOp::Relu, biased).unwrap();
        let sum = g.binary(BinaryOp::Add, act1, act2).unwrap();
        let y = g.binary(BinaryOp::Mul, sum, half).unwrap();
        g.add_output("y", y).unwrap();

        let out = optimize(&g).unwrap();
        // x, w, b, the folded 0.5 is inlined, and one fused matmul.
        assert_eq!(out.len(), 4, "{}", ir::text::print(&out));
        let y = out.output("y").unwrap();
        let Op::Fused(FusedOp::MatMul { epilogue, .. }) = out.op(y) else {
            panic!("{}", ir::text::print(&out))
        };
        // add bias, relu (merged by CSE), add, mul by the inlined constant.
        assert_eq!(
            epilogue
                .instrs
                .iter()
                .filter(|i| !matches!(i, ir::Instr::Input(_) | ir::Instr::Const(_)))
                .count(),
            4
        );
    }

    /// A conv net's whole training step (forward, MSE loss, autodiff backward, SGD updates).
    fn conv_training_step() -> Graph {
        let mut g = Graph::new();
        let x = g.input("x", [2, 6, 6, 2]);
        let target = g.input("target", [2, 3]);
        let wc = g.param("wc", [3, 3, 2, 4]);
        let bc = g.param("bc", [4]);
        let wd = g.param("wd", [36, 3]);
        let bd = g.param("bd", [3]);
        let conv_attrs = ir::Conv2dAttrs {
            strides: [1, 1],
            dilation: [1, 1],
            padding: ir::Padding::Same,
        };
        let conv = g.add(Op::Conv2d(conv_attrs), &[x, wc]).unwrap();
        let conv = g.binary(BinaryOp::Add, conv, bc).unwrap();
        let act = g.unary(UnaryOp::Relu, conv).unwrap();
        let pool_attrs = ir::Pool2dAttrs {
            kind: ir::PoolKind::Avg,
            window: [2, 2],
            strides: [2, 2],
            padding: ir::Padding::Valid,
        };
        let pooled = g.add(Op::Pool2d(pool_attrs), &[act]).unwrap();
        let flat = g.reshape(pooled, [2, 36]).unwrap();
        let dense = g.matmul(flat, wd, false, false).unwrap();
        let pred = g.binary(BinaryOp::Add, dense, bd).unwrap();
        let err = g.binary(BinaryOp::Sub, pred, target).unwrap();
        let sq = g.unary(UnaryOp::Square, err).unwrap();
        let loss = g.reduce(ir::ReduceOp::Mean, sq, &[0, 1], false).unwrap();
        let params = [wc, bc, wd, bd];
        let (mut g, grads) = crate::autodiff::grad(&g, loss, &params).unwrap();
        let lr = g.scalar(0.01);
        for (&p, &dp) in params.iter().zip(&grads) {
            let step = g.binary(BinaryOp::Mul, dp, lr).unwrap();
            let new = g.binary(BinaryOp::Sub, p, step).unwrap();
            g.add_update(p, new).unwrap();
        }
        g.add_output("loss", loss).unwrap();
        g
    }

    #[test]
    fn optimized_training_step_computes_the_same_values() {
        let g = conv_training_step();
        let out = optimize(&g).unwrap();
        assert!(out.len() < g.len(), "{} -> {} nodes", g.len(), out.len());
        let fused = |kind: &str| {
            out.node_ids()
                .filter(|&n| matches!(out.op(n), Op::Fused(f) if f.name() == kind))
                .count()
        };
        assert_eq!(fused("fused.conv2d"), 1, "{}", ir::text::print(&out));
        assert!(
            fused("fused.multi") >= 1 && fused("fused.elementwise") + fused("fused.multi") >= 3,
            "{}",
            ir::text::print(&out)
        );

        let mut bindings = ir::interp::Bindings::new();
        for (k, id) in g.node_ids().enumerate() {
            if let Op::Input { name, shape } | Op::Param { name, shape } = g.op(id) {
                let data = (0..shape.numel() as u32)
                    .map(|i| ir::random::uniform(k as u32, i) - 0.5)
                    .collect();
                bindings.insert(
                    name.clone(),
                    ir::Tensor {
                        shape: shape.clone(),
                        data,
                    },
                );
            }
        }
        let want = ir::interp::run(&g, &bindings).unwrap();
        let got = ir::interp::run(&out, &bindings).unwrap();
        assert_eq!(want.outputs.len() + want.updates.len(), 5);
        // The passes never reorder arithmetic, so a relative 1e-6 is ample (it is exact here).
        for ((name, a), (_, b)) in want
            .outputs
            .iter()
            .chain(&want.updates)
            .zip(got.outputs.iter().chain(&got.updates))
        {
            assert_eq!(a.shape, b.shape, "{name}");
            for (x, y) in a.data.iter().zip(&b.data) {
                assert!(
                    (x - y).abs() <= 1e-6 * x.abs().max(1.0),
                    "{name}: {x} vs {y}"
                );
            }
        }
    }

    #[test]
    fn dump_setting_selects_passes() {
        assert!(dumps_after(Some("all"), "fuse"));
        assert!(dumps_after(Some("cse, fuse"), "fuse"));
        assert!(!dumps_after(Some("cse"), "fuse"));
        assert!(!dumps_after(None, "fuse"));
    }

    #[test]
    fn a_broken_pass_is_named() {
        fn drops_outputs(g: &Graph) -> Result<Graph, PassError> {
            let mut out = g.clone();
            out.outputs
                .push(("dangling".into(), ir::NodeId::from_index(g.len() + 5)));
            Ok(out)
        }
        let mut g = Graph::new();
        let x = g.input("x", [1]);
        g.add_output("x", x).unwrap();
        let err = run(&g, &[("dce", simplify::dce), ("broken", drops_outputs)]).unwrap_err();
        assert!(
            matches!(err, PassError::AfterPass { pass: "broken", .. }),
            "{err}"
        );
    }
}

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
    ir::verify::verify(graph).map_err(|source| PassError::AfterPass { pass: "input", source })?;
    let mut current = graph.clone();
    for &(name, pass) in passes {
        current = pass(&current)?;
        ir::verify::verify(&current).map_err(|source| PassError::AfterPass { pass: name, source })?;
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
        let Op::Fused(FusedOp::MatMul { epilogue, .. }) = out.op(y) else { panic!("{}", ir::text::print(&out)) };
        // add bias, relu (merged by CSE), add, mul by the inlined constant.
        assert_eq!(epilogue.instrs.iter().filter(|i| !matches!(i, ir::Instr::Input(_) | ir::Instr::Const(_))).count(), 4);
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
            out.outputs.push(("dangling".into(), ir::NodeId::from_index(g.len() + 5)));
            Ok(out)
        }
        let mut g = Graph::new();
        let x = g.input("x", [1]);
        g.add_output("x", x).unwrap();
        let err = run(&g, &[("dce", simplify::dce), ("broken", drops_outputs)]).unwrap_err();
        assert!(matches!(err, PassError::AfterPass { pass: "broken", .. }), "{err}");
    }
}

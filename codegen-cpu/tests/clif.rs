//! CLIF snapshots: the CLIF that the lowering hands Cranelift ([`codegen_cpu::clif`]) for a
//! few representative graphs — a fused elementwise chain, a matmul with its bias and
//! activation fused into the kernel, a fused reduction, a max-pooling window and an
//! embedding lookup with its scatter-add gradient — matches
//! `tests/snapshots/<case>.clif` (run with `BLESS=1` to rewrite them, then read the diff
//! before committing). Each graph goes through `passes::pipeline::optimize` and
//! `passes::memory_plan::plan`, as the frontend's do.
//!
//! What a snapshot pins: every function the lowering defines (the kernels in execution
//! order, then the step function), its loops, vector (`f32x4`) code, addressing, chunking
//! for the worker pool and calls into the runtime, with the symbols its `u0:`/`u1:` names
//! stand for. What it does not pin: the machine code. Cranelift optimises, legalises and
//! compiles this CLIF afterwards for the host's CPU features (AVX, FMA, ...), none of which
//! the lowering looks at. The snapshots are taken for one fixed target,
//! [`SNAPSHOT_TARGET`], so that the signatures' calling convention does not depend on the
//! host; on a host with the same pointer width and calling convention the JIT's CLIF is the
//! same text (checked below on 64-bit Linux). The cases stay below the size at which
//! matmuls are split by thread count, so the host's core count does not enter either.

use std::path::{Path, PathBuf};

use codegen_cpu::{ClifFunction, clif};
use ir::{BinaryOp, Graph, MemoryPlan, Op, Padding, Pool2dAttrs, PoolKind, ReduceOp, UnaryOp};

/// The target the snapshots are taken for (always compiled into Cranelift here).
const SNAPSHOT_TARGET: &str = "aarch64-unknown-linux-gnu";

/// A snapshot case: its file stem, its graph before optimisation, and the ops the
/// optimised graph computes (what the snapshot shows kernels of).
struct Case {
    name: &'static str,
    graph: Graph,
    computed: &'static [&'static str],
}

/// `tanh(relu(x * 2 + b) - x)`: one fused elementwise kernel with a broadcast operand.
fn elementwise_chain() -> Case {
    let mut g = Graph::new();
    let x = g.input("x", [4, 8]);
    let b = g.param("b", [8]);
    let two = g.scalar(2.0);
    let y = g.binary(BinaryOp::Mul, x, two).unwrap();
    let y = g.binary(BinaryOp::Add, y, b).unwrap();
    let y = g.unary(UnaryOp::Relu, y).unwrap();
    let y = g.binary(BinaryOp::Sub, y, x).unwrap();
    let y = g.unary(UnaryOp::Tanh, y).unwrap();
    g.add_output("y", y).unwrap();
    Case {
        name: "elementwise_chain",
        graph: g,
        computed: &["fused.elementwise"],
    }
}

/// `relu(x @ w + b)`: a dense layer, its bias and activation run by the matmul's kernel.
fn matmul_bias_relu() -> Case {
    let mut g = Graph::new();
    let x = g.input("x", [4, 8]);
    let w = g.param("w", [8, 16]);
    let b = g.param("b", [16]);
    let y = g.matmul(x, w, false, false).unwrap();
    let y = g.binary(BinaryOp::Add, y, b).unwrap();
    let y = g.unary(UnaryOp::Relu, y).unwrap();
    g.add_output("y", y).unwrap();
    Case {
        name: "matmul_bias_relu",
        graph: g,
        computed: &["fused.matmul"],
    }
}

/// `sum(x * x, axis 1)`: a row reduction with its elementwise prologue fused in.
fn reduce_sum_of_squares() -> Case {
    let mut g = Graph::new();
    let x = g.input("x", [4, 10]);
    let sq = g.binary(BinaryOp::Mul, x, x).unwrap();
    let y = g.reduce(ReduceOp::Sum, sq, &[1], false).unwrap();
    g.add_output("y", y).unwrap();
    Case {
        name: "reduce_sum_of_squares",
        graph: g,
        computed: &["fused.reduce"],
    }
}

/// A 2x2, stride-2 max pool over an NHWC `[1, 4, 4, 3]` input.
fn max_pool_2x2() -> Case {
    let mut g = Graph::new();
    let x = g.input("x", [1, 4, 4, 3]);
    let attrs = Pool2dAttrs {
        kind: PoolKind::Max,
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
    };
    let y = g.add(Op::Pool2d(attrs), &[x]).unwrap();
    g.add_output("y", y).unwrap();
    Case {
        name: "max_pool_2x2",
        graph: g,
        computed: &["pool2d"],
    }
}

/// An embedding lookup and its gradient: `gather` of a `[5, 6]` table by `[3]` ids (a row
/// copy per id, four lanes then a tail) and `scatter_add` of `[3, 6]` updates back.
fn gather_scatter_add() -> Case {
    let mut g = Graph::new();
    let table = g.param("table", [5, 6]);
    let ids = g.input("ids", [3]);
    let dy = g.input("dy", [3, 6]);
    let rows = g.add(Op::Gather, &[table, ids]).unwrap();
    let grad = g.add(Op::ScatterAdd { rows: 5 }, &[ids, dy]).unwrap();
    g.add_output("rows", rows).unwrap();
    g.add_output("grad", grad).unwrap();
    Case {
        name: "gather_scatter_add",
        graph: g,
        computed: &["gather", "scatter_add"],
    }
}

fn cases() -> Vec<Case> {
    vec![
        elementwise_chain(),
        matmul_bias_relu(),
        reduce_sum_of_squares(),
        max_pool_2x2(),
        gather_scatter_add(),
    ]
}

/// The optimised graph of `case` and its memory plan, after checking that it computes the
/// ops the case is about.
fn optimized(case: &Case) -> (Graph, MemoryPlan) {
    let g = passes::pipeline::optimize(&case.graph).unwrap();
    let computed: Vec<String> = g
        .node_ids()
        .map(|id| g.op(id))
        .filter(|op| !matches!(op, Op::Input { .. } | Op::Param { .. } | Op::Const(_)))
        .map(ir::infer::op_name)
        .collect();
    assert_eq!(computed, case.computed, "{}", ir::text::print(&g));
    let plan = passes::memory_plan::plan(&g).unwrap();
    (g, plan)
}

/// The snapshot text of `functions`: each function's CLIF, a blank line after each.
fn snapshot_text(functions: &[ClifFunction]) -> String {
    functions.iter().map(|f| format!("{}\n", f.text)).collect()
}

fn snapshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.clif"))
}

/// Where `got` first differs from the stored `expected`, with a few lines of each.
fn mismatch(path: &Path, expected: &str, got: &str) -> String {
    let (want, have): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), got.lines().collect());
    let first = want
        .iter()
        .zip(&have)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(have.len()));
    let around = |lines: &[&str]| -> String {
        lines
            .iter()
            .enumerate()
            .skip(first.saturating_sub(2))
            .take(5)
            .map(|(i, l)| format!("    {:>4} | {l}\n", i + 1))
            .collect()
    };
    format!(
        "{}: differs from line {} ({} lines stored, {} generated)\n  stored:\n{}  generated:\n{}",
        path.display(),
        first + 1,
        want.len(),
        have.len(),
        around(&want),
        around(&have)
    )
}

#[test]
fn clif_matches_the_snapshots() {
    let bless = std::env::var("BLESS").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for case in cases() {
        let (g, plan) = optimized(&case);
        let functions = clif(&g, &plan, Some(SNAPSHOT_TARGET)).unwrap();
        let text = snapshot_text(&functions);
        let path = snapshot_path(case.name);
        if bless {
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let Ok(expected) = std::fs::read_to_string(&path) else {
            failures.push(format!("{}: missing", path.display()));
            continue;
        };
        if expected != text {
            failures.push(mismatch(&path, &expected, &text));
        }
    }
    assert!(
        failures.is_empty(),
        "CLIF snapshots missing or different (BLESS=1 cargo test -p kiln-codegen-cpu --test clif rewrites \
         them; read the diff before committing):\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_function_is_listed_kernels_first_then_the_step() {
    for case in cases() {
        let (g, plan) = optimized(&case);
        let functions = clif(&g, &plan, Some(SNAPSHOT_TARGET)).unwrap();
        let names: Vec<&str> = functions.iter().map(|f| f.name.as_str()).collect();
        let (step, kernels) = names.split_last().expect("at least the step function");
        assert_eq!(*step, "kiln_step", "{}", case.name);
        assert_eq!(
            kernels.len(),
            case.computed.len(),
            "{}: {names:?}",
            case.name
        );
        for (f, name) in functions.iter().zip(&names) {
            assert!(name.starts_with("kiln_step"), "{}: {name}", case.name);
            assert!(
                f.text.contains("\nfunction u0:"),
                "{}: {}",
                case.name,
                f.text
            );
        }
    }
}

/// On 64-bit Linux (the snapshot target's pointer width and calling convention) the CLIF
/// the JIT lowers for this host is the snapshot's text: the snapshots show what runs here.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
#[test]
fn the_host_jit_lowers_the_snapshot_text() {
    for case in cases() {
        let (g, plan) = optimized(&case);
        let host = clif(&g, &plan, None).unwrap();
        let pinned = clif(&g, &plan, Some(SNAPSHOT_TARGET)).unwrap();
        assert_eq!(
            snapshot_text(&host),
            snapshot_text(&pinned),
            "{}",
            case.name
        );
    }
}

#[test]
fn a_target_that_does_not_exist_is_an_error() {
    let case = elementwise_chain();
    let (g, plan) = optimized(&case);
    let err = clif(&g, &plan, Some("no-such-target")).unwrap_err();
    assert!(
        matches!(err, codegen_cpu::CodegenError::Target { .. }),
        "{err}"
    );
}

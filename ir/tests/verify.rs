//! The verifier accepts well-formed graphs and reports each broken invariant that the
//! public graph API lets a caller break. (Operand order, leaf operands and stored shapes
//! cannot be broken through `Graph`'s API; see `ir::verify`'s docs.)

mod common;

use common::every_op_graph;
use ir::verify::verify;
use ir::{FusedOp, Graph, Instr, IrError, Op, Program, UnaryOp};

fn assert_verify_error(g: &Graph, node: &str, needle: &str) {
    match verify(g) {
        Err(IrError::Verify { node: got, msg }) => {
            assert!(msg.contains(needle), "message {msg:?} lacks {needle:?}");
            assert_eq!(got, node, "node of {msg:?}");
        }
        other => panic!("expected a verifier error containing {needle:?}, got {other:?}"),
    }
}

/// `x: input [2, 3]`, `w: param [2, 3]`, `y = relu x`, output "y".
fn small() -> (Graph, [ir::NodeId; 3]) {
    let mut g = Graph::new();
    let x = g.input("x", [2, 3]);
    let w = g.param("w", [2, 3]);
    let y = g.unary(UnaryOp::Relu, x).unwrap();
    g.add_output("y", y).unwrap();
    (g, [x, w, y])
}

#[test]
fn well_formed_graphs_verify() {
    let g = every_op_graph();
    verify(&g).unwrap();
    verify(&ir::text::parse(&ir::text::print(&g)).unwrap()).unwrap();
    verify(&Graph::new()).unwrap();
    verify(&small().0).unwrap();
}

#[test]
fn leaf_names_must_be_unique_across_inputs_and_params() {
    let (mut g, _) = small();
    g.input("x", [1]);
    assert_verify_error(&g, "%3", "input/param name \"x\" is used twice");
    let (mut g, _) = small();
    g.param("x", [2, 3]);
    assert_verify_error(&g, "%3", "input/param name \"x\" is used twice");
}

#[test]
fn outputs_must_exist_and_have_unique_names() {
    let (mut g, [x, ..]) = small();
    g.add_output("y", x).unwrap();
    assert_verify_error(&g, "%0", "output name \"y\" is used twice");
    let (mut g, _) = small();
    g.outputs.push(("ghost".into(), ir::NodeId::from_index(99)));
    assert_verify_error(
        &g,
        "%99",
        "output \"ghost\" names a node that is not in the graph",
    );
}

#[test]
fn updates_must_target_params_once_with_equal_shapes() {
    let (mut g, [x, w, y]) = small();
    g.updates.push((x, y));
    assert_verify_error(&g, "%0", "update target is not a param");

    let (mut g, [_, w2, _]) = small();
    let narrow = g.input("n", [3]);
    g.updates.push((w2, narrow));
    assert_verify_error(
        &g,
        "%1",
        "update value %3 has shape [3] but the param has [2, 3]",
    );

    let (mut g, _) = small();
    g.add_update(w, y).unwrap();
    g.updates.push((w, y));
    assert_verify_error(&g, "%1", "param updated twice");

    let (mut g, _) = small();
    g.updates.push((w, ir::NodeId::from_index(42)));
    assert_verify_error(
        &g,
        "%42",
        "update %1 = %42 names a node that is not in the graph",
    );
}

#[test]
fn fused_programs_must_be_well_formed() {
    // Graph::add accepts both of these (it checks input ranges, not register order or an
    // empty elementwise program); the verifier does not.
    let (mut g, [x, ..]) = small();
    let forward = Program {
        instrs: vec![Instr::Unary(UnaryOp::Relu, 1), Instr::Input(0)],
    };
    g.add(Op::Fused(FusedOp::Elementwise(forward)), &[x])
        .unwrap();
    assert_verify_error(
        &g,
        "%3",
        "fused.elementwise: r0 reads r1, which is not an earlier register",
    );

    let (mut g, [x, ..]) = small();
    let self_read = Program {
        instrs: vec![Instr::Input(0), Instr::Binary(ir::BinaryOp::Add, 0, 1)],
    };
    g.add(Op::Fused(FusedOp::Elementwise(self_read)), &[x])
        .unwrap();
    assert_verify_error(&g, "%3", "r1 reads r1");

    let (mut g, [x, ..]) = small();
    g.add(Op::Fused(FusedOp::Elementwise(Program::default())), &[x])
        .unwrap();
    assert_verify_error(&g, "%3", "fused.elementwise: empty program");

    // Out-of-range inputs never get that far: shape inference refuses them.
    let (mut g, [x, ..]) = small();
    let reads_input_3 = Program {
        instrs: vec![Instr::Input(3)],
    };
    assert!(matches!(
        g.add(Op::Fused(FusedOp::Elementwise(reads_input_3)), &[x]),
        Err(IrError::Shape { .. })
    ));
}

/// `x: input [2, 3]` and a multi-result kernel writing `exp(x)` and its row sums.
fn multi() -> (Graph, ir::NodeId) {
    use ir::{Loop, LoopResult, MultiKernel, ReduceOp, Shape};
    let mut g = Graph::new();
    let x = g.input("x", [2, 3]);
    let kernel = MultiKernel {
        loops: vec![Loop {
            domain: Shape::from([2, 3]),
            axes: vec![1],
            body: Program {
                instrs: vec![Instr::Input(0), Instr::Unary(UnaryOp::Exp, 0)],
            },
            results: vec![
                LoopResult::Element(1),
                LoopResult::Reduce {
                    op: ReduceOp::Sum,
                    reg: 1,
                    keep_dims: false,
                },
            ],
        }],
    };
    let k = g.add(Op::Fused(FusedOp::Multi(kernel)), &[x]).unwrap();
    (g, k)
}

fn extract(g: &mut Graph, kernel: ir::NodeId, index: usize, shape: &[usize]) -> ir::NodeId {
    let shape = ir::Shape::from(shape);
    g.add(Op::Extract { index, shape }, &[kernel]).unwrap()
}

#[test]
fn multi_result_kernels_are_read_through_one_extract_per_result() {
    let (mut g, k) = multi();
    extract(&mut g, k, 0, &[2, 3]);
    extract(&mut g, k, 1, &[2]);
    verify(&g).unwrap();

    let (mut g, k) = multi();
    g.unary(UnaryOp::Neg, k).unwrap();
    assert_verify_error(&g, "%1", "read by %2, which is not an extract");

    let (mut g, k) = multi();
    extract(&mut g, k, 1, &[2]);
    extract(&mut g, k, 1, &[2]);
    assert_verify_error(&g, "%3", "result 1 is extracted twice");

    let (mut g, k) = multi();
    extract(&mut g, k, 1, &[2, 1]);
    assert_verify_error(&g, "%2", "result 1 of %1 has shape [2], not [2, 1]");

    let (mut g, k) = multi();
    extract(&mut g, k, 7, &[2]);
    assert_verify_error(&g, "%2", "%1 has 2 results, no result 7");

    let mut g = Graph::new();
    let empty = g.input("empty", [0]);
    extract(&mut g, empty, 0, &[1]);
    assert_verify_error(&g, "%1", "extracts from %0, not a fused.multi");
}

//! The text form round-trips: print → parse → print is the identity and the parsed graph
//! equals the original node by node, floats bit for bit.

mod common;

use common::{assert_covers_everything, assert_same_graph, every_op_graph};
use ir::text::{parse, print};
use ir::{FusedOp, Graph, Instr, Op, Program, Tensor};

fn assert_round_trips(g: &Graph) -> String {
    let text = print(g);
    let parsed = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(print(&parsed), text);
    assert_same_graph(g, &parsed);
    text
}

#[test]
fn every_op_kind_round_trips() {
    let g = every_op_graph();
    assert_covers_everything(&g);
    let text = assert_round_trips(&g);
    assert_eq!(g.to_string(), text, "Display is print");
    // A fused.multi continues over one line per loop and a closing `}`.
    let multi_lines: usize = g
        .node_ids()
        .filter_map(|id| match g.op(id) {
            ir::Op::Fused(ir::FusedOp::Multi(k)) => Some(k.loops.len() + 1),
            _ => None,
        })
        .sum();
    assert_eq!(
        text.lines().count(),
        g.len() + g.outputs.len() + g.updates.len() + 2 + multi_lines,
        "one line per statement"
    );
}

#[test]
fn a_multi_result_kernel_prints_one_loop_per_line() {
    let text = "graph {
  %0 = input \"x\" [2, 3]
  %1 = input \"m\" [2, 1]
  %2 = fused.multi %0, %1 {
    loop domain=[2, 3] axes=[1] results=[r3, sum.r3.keep_dims, argmax.r0] { r0 = in 0, r1 = in 1, r2 = sub r0 r1, r3 = exp r2 }
    loop domain=[2, 1] results=[r1] { r0 = in 1, r1 = neg r0 }
  } : [0]
  %3 = extract %2 index=0 shape=[2, 3] : [2, 3]
  %4 = extract %2 index=1 shape=[2, 1] : [2, 1]
  %5 = extract %2 index=3 shape=[2, 1] : [2, 1]
  output \"e\" = %3
  output \"s\" = %4
  output \"n\" = %5
}
";
    let g = ir::text::parse(text).unwrap();
    ir::verify::verify(&g).unwrap();
    assert_eq!(ir::text::print(&g), text);
}

#[test]
fn printed_form_is_readable_and_stable() {
    let mut g = Graph::new();
    let x = g.input("x", [2, 3]);
    let w = g.param("w", [4, 3]);
    let c = g.scalar(0.5);
    let m = g.matmul(x, w, false, true).unwrap();
    let s = g.binary(ir::BinaryOp::Add, m, c).unwrap();
    let r = g.reduce(ir::ReduceOp::Sum, s, &[1], true).unwrap();
    let program = Program {
        instrs: vec![
            Instr::Input(0),
            Instr::Const(1.5),
            Instr::Unary(ir::UnaryOp::Relu, 0),
            Instr::Binary(ir::BinaryOp::Add, 1, 2),
        ],
    };
    g.add(Op::Fused(FusedOp::Elementwise(program)), &[s])
        .unwrap();
    g.add_output("loss", r).unwrap();
    let expected = r#"graph {
  %0 = input "x" [2, 3]
  %1 = param "w" [4, 3]
  %2 = const [] 0.5
  %3 = matmul %0, %1 transpose_b : [2, 4]
  %4 = add %3, %2 : [2, 4]
  %5 = reduce.sum %4 axes=[1] keep_dims : [2, 1]
  %6 = fused.elementwise %4 { r0 = in 0, r1 = const 1.5, r2 = relu r0, r3 = add r1 r2 } : [2, 4]
  output "loss" = %5
}
"#;
    assert_eq!(print(&g), expected);
    assert_round_trips(&g);
}

#[test]
fn float_edge_cases_round_trip_bit_exactly() {
    let odd_nans = [
        f32::from_bits(0x7fc0_0001),
        f32::from_bits(0xffc0_0000),
        f32::from_bits(0x7f80_0001),
    ];
    let mut values = vec![
        0.0,
        -0.0,
        0.1,
        -1.0 / 3.0,
        1e-45,
        -1e-45,
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        f32::EPSILON,
    ];
    values.extend([f32::INFINITY, f32::NEG_INFINITY, f32::NAN]);
    values.extend(odd_nans);
    let mut g = Graph::new();
    let all = g.constant(Tensor::new([values.len()], values.clone()).unwrap());
    for &v in &values {
        g.scalar(v);
        g.constant(Tensor::full([2, 2], v));
        g.add(
            Op::Pad {
                before: vec![1],
                after: vec![0],
                value: v,
            },
            &[all],
        )
        .unwrap();
        let program = Program {
            instrs: vec![
                Instr::Input(0),
                Instr::Const(v),
                Instr::Binary(ir::BinaryOp::Max, 0, 1),
            ],
        };
        g.add(Op::Fused(FusedOp::Elementwise(program)), &[all])
            .unwrap();
    }
    let text = assert_round_trips(&g);
    assert!(
        text.contains("0x7fc00001") && text.contains("0xffc00000") && text.contains("0x7f800001"),
        "{text}"
    );
    assert!(
        text.contains("const [] NaN")
            && text.contains("const [] -inf")
            && text.contains("const [2, 2] splat 1e-45"),
        "{text}"
    );
    // The bits survive, not just the printed text.
    let parsed = parse(&text).unwrap();
    let Op::Const(t) = parsed.op(all) else {
        panic!("node 0 is the constant")
    };
    assert_eq!(
        t.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn names_comments_and_multi_line_programs_are_accepted_and_renumbered() {
    let text = r#"
; a hand-written graph
graph {
  %x = input "x" [2, 3]   ; the batch
  %bias = const [3] [1, 2, 3.5]

  %h = fused.elementwise %x, %bias {
    r0 = in 0,
    r1 = in 1,
    r2 = add r0 r1,   ; the sum
  }
  %out = reduce.max %h axes=[0, 1]
  output "y" = %out
}
"#;
    let g = parse(text).unwrap();
    let expected = r#"graph {
  %0 = input "x" [2, 3]
  %1 = const [3] [1.0, 2.0, 3.5]
  %2 = fused.elementwise %0, %1 { r0 = in 0, r1 = in 1, r2 = add r0 r1 } : [2, 3]
  %3 = reduce.max %2 axes=[0, 1] : []
  output "y" = %3
}
"#;
    assert_eq!(print(&g), expected);
}

#[test]
fn empty_graph_and_strings_with_escapes_round_trip() {
    assert_eq!(print(&Graph::new()), "graph {\n}\n");
    assert_round_trips(&Graph::new());
    let mut g = Graph::new();
    let x = g.input("tab\there \"quoted\" back\\slash\nnewline \u{7} é", [1]);
    g.add_output("", x).unwrap();
    assert_round_trips(&g);
}

//! Every kind of parse error is reported as `IrError::Parse` with the right line and a
//! message saying what is wrong.

mod common;

use ir::IrError;
use ir::text::parse;

/// Two leaves every case can use: `%0` is an input `[2, 3]`, `%1` a param `[3, 4]`.
const PRELUDE: &str = "graph {\n  %0 = input \"x\" [2, 3]\n  %1 = param \"w\" [3, 4]\n";

/// Parses `PRELUDE + body + "}"` and checks the error's line and message. The body's first
/// line is line 4.
fn assert_error(body: &str, line: usize, needle: &str) {
    let text = format!("{PRELUDE}{body}\n}}\n");
    assert_error_in(&text, line, needle);
}

fn assert_error_in(text: &str, line: usize, needle: &str) {
    match parse(text) {
        Err(IrError::Parse { line: got, msg }) => {
            assert!(
                msg.contains(needle),
                "message {msg:?} lacks {needle:?} for\n{text}"
            );
            assert_eq!(got, line, "line of {msg:?} for\n{text}");
        }
        other => panic!("expected a parse error containing {needle:?}, got {other:?} for\n{text}"),
    }
}

#[test]
fn statement_errors_name_their_line() {
    let cases: &[(&str, usize, &str)] = &[
        ("  %2 = frobnicate %0", 4, "`frobnicate`: unknown op"),
        (
            "  %2 = reduce.median %0 axes=[0]",
            4,
            "unknown reduction `median`",
        ),
        ("  %2 = relu %7", 4, "unknown operand `%7`"),
        ("  %2 = relu %0\n  %2 = relu %0", 5, "`%2` is defined twice"),
        (
            "  %2 = relu %0 : [3, 2]",
            4,
            "written with shape [3, 2] but inference gives [2, 3]",
        ),
        (
            "  %2 = matmul %1, %0 : [3, 3]",
            4,
            "contraction sizes differ",
        ),
        ("  %2 = add %0", 4, "expects 2 operands"),
        ("  %2 = relu %0 %1", 4, "expected end of line, found `%1`"),
        ("  %2 = %0", 4, "expected an op name, found `%0`"),
        ("  relu %0", 4, "expected a node `%n = ...`"),
        ("  %2 = input x [2]", 4, "needs a quoted name"),
        ("  %2 = input \"y\" 2", 4, "expected a shape like `[2, 3]`"),
        (
            "  %2 = input \"y\" [2, -1]",
            4,
            "`-1` is not a non-negative integer",
        ),
        (
            "  %2 = input \"y\" [4294967296, 4294967296, 4294967296]",
            4,
            "too many elements",
        ),
        ("  output loss = %0", 4, "`output` needs a quoted name"),
        (
            "  output\n",
            4,
            "`output` needs a quoted name, found end of line",
        ),
        ("  output \"y\" = %9", 4, "unknown operand `%9`"),
        ("  update %0 = %0", 4, "only a param can be updated"),
        (
            "  %2 = relu %1\n  update %1 = %2\n  update %1 = %2",
            6,
            "param updated twice",
        ),
        // Degenerate geometry is an error, not an arithmetic overflow.
        (
            "  %2 = input \"i\" [1, 4, 4, 2]\n  %3 = param \"f\" [0, 3, 2, 2]\n  %4 = conv2d %2, %3 strides=[1, 1] dilation=[1, 1] padding=valid",
            6,
            "the 0x3 filter does not fit",
        ),
        (
            "  %2 = input \"i\" [1, 0, 4, 2]\n  %3 = pool2d %2 kind=max window=[2, 2] strides=[0, 1] padding=same",
            5,
            "window does not fit the 0x4 input",
        ),
        (
            "  %2 = pad %0 before=[18446744073709551615, 0] after=[1, 0] value=0",
            4,
            "padded size overflows",
        ),
    ];
    for &(body, line, needle) in cases {
        assert_error(body, line, needle);
    }
}

#[test]
fn attribute_errors_name_op_and_attribute() {
    let cases: &[(&str, &str)] = &[
        (
            "%2 = reduce.sum %0",
            "`reduce.sum`: missing attribute `axes`",
        ),
        (
            "%2 = reduce.sum %0 axes=[x]",
            "attribute `axes`: `x` is not a non-negative integer",
        ),
        ("%2 = reduce.sum %0 axes=1", "attribute `axes` needs a list"),
        (
            "%2 = reduce.sum %0 axes=[1] axes=[1]",
            "attribute `axes` given twice",
        ),
        ("%2 = relu %0 fast", "`relu`: unknown attribute `fast`"),
        (
            "%2 = matmul %0, %1 transpose_a=1",
            "attribute `transpose_a` is a flag and takes no value",
        ),
        (
            "%2 = concat %0 axis",
            "attribute `axis` needs a single value",
        ),
        (
            "%2 = pad %0 before=[0, 0] after=[0, 0] value=big",
            "attribute `value`: `big` is not a float",
        ),
        (
            "%2 = reshape %0 shape=[6",
            "expected `,`, found end of line",
        ),
        ("%2 = reshape %0 shape=", "expected a value after `shape=`"),
        (
            "%2 = conv2d %0, %1 strides=[1] dilation=[1, 1] padding=valid",
            "attribute `strides` needs 2 entries, got 1",
        ),
        (
            "%2 = conv2d %0, %1 strides=[1, 1] dilation=[1, 1] padding=round",
            "`round` is not `valid`, `same` or",
        ),
        (
            "%2 = conv2d %0, %1 strides=[1, 1] dilation=[1, 1] padding=[1, 1]",
            "attribute `padding` needs 4 entries",
        ),
        (
            "%2 = pool2d %0 kind=min window=[2, 2] strides=[1, 1] padding=valid",
            "`min` is not `max` or `avg`",
        ),
        (
            "%2 = fused.reduce %0 op=median axes=[0] input_shape=[2, 3] { r0 = in 0 }",
            "attribute `op`: unknown reduction `median`",
        ),
    ];
    for &(stmt, needle) in cases {
        assert_error(&format!("  {stmt}"), 4, needle);
    }
}

#[test]
fn program_errors_are_caught() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "%2 = fused.elementwise %0",
            4,
            "`fused.elementwise`: needs a `{ ... }` program",
        ),
        (
            "%2 = relu %0 { r0 = in 0 }",
            4,
            "`relu` takes no `{ ... }` program",
        ),
        (
            "%2 = fused.elementwise %0 { }",
            4,
            "a program needs at least one instruction",
        ),
        (
            "%2 = fused.elementwise %0 { r0 = relu r1 }",
            4,
            "`r0` reads `r1`, which is not defined before it",
        ),
        (
            "%2 = fused.elementwise %0 { r0 = in 0, r2 = relu r0 }",
            4,
            "expected register `r1` here, found `r2`",
        ),
        (
            "%2 = fused.elementwise %0 { r0 = in 0, r1 = cosh r0 }",
            4,
            "unknown instruction `cosh`",
        ),
        (
            "%2 = fused.elementwise %0 { r0 = in 0, r1 = add r0 x }",
            4,
            "expected a register like `r0`, found `x`",
        ),
        (
            "%2 = fused.elementwise %0 { r0 = in 0 r1 = in 0 }",
            4,
            "expected `,`, found `r1`",
        ),
        (
            "%2 = fused.elementwise %0 {\n    r0 = in 0,\n    r1 = const 1.2.3\n  }",
            6,
            "`1.2.3` is not a float",
        ),
        (
            "%2 = fused.elementwise %0 { r0 = in 1 }",
            4,
            "program reads more inputs than the kernel has",
        ),
        (
            "%2 = fused.matmul %0, %1 { r0 = in 1 }",
            4,
            "program reads input 1 but the kernel has 1",
        ),
    ];
    for &(stmt, line, needle) in cases {
        assert_error(&format!("  {stmt}"), line, needle);
    }
}

#[test]
fn constant_errors_are_caught() {
    let cases: &[(&str, &str)] = &[
        (
            "%2 = const [2] [1.0]",
            "a constant of shape [2] needs 2 values, got 1",
        ),
        (
            "%2 = const [2] 1.0",
            "a constant of shape [2] needs 2 values, got 1",
        ),
        ("%2 = const [] 1.2.3", "`1.2.3` is not a float"),
        ("%2 = const [] 0xnope", "`0xnope` is not a float"),
        (
            "%2 = const []",
            "expected the constant's value, found end of line",
        ),
        ("%2 = const [65536, 65536] splat 0.0", "over the limit"),
    ];
    for &(stmt, needle) in cases {
        assert_error(&format!("  {stmt}"), 4, needle);
    }
}

#[test]
fn structure_and_lexical_errors_are_caught() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 1, "expected `graph`, found end of input"),
        ("grph {\n}", 1, "must start with `graph {`"),
        ("graph\n{\n}", 1, "expected `{`, found end of line"),
        (
            "graph {\n  %0 = input \"x\" [1]\n",
            3,
            "missing `}` closing the graph",
        ),
        (
            "graph {\n}\n%0 = input \"x\" [1]",
            3,
            "nothing after the graph's closing `}`",
        ),
        ("graph {\n  %0 = input \"x [1]\n}", 2, "unterminated string"),
        ("graph {\n  %0 = input \"x\\q\" [1]\n}", 2, "unknown escape"),
        (
            "graph {\n  %0 = input \"x\" [1] @\n}",
            2,
            "unexpected character '@'",
        ),
        (
            "graph {\n  % = input \"x\" [1]\n}",
            2,
            "`%` must be followed by a node name",
        ),
    ];
    for &(text, line, needle) in cases {
        assert_error_in(text, line, needle);
    }
}

#[test]
fn no_prefix_of_a_valid_text_panics() {
    // Every truncation of a printed graph (at each line and at several points inside each
    // line) parses or fails with a parse error; none panics.
    let text = ir::text::print(&common::every_op_graph());
    let mut cut_points: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .filter(|i| i % 5 == 0)
        .collect();
    cut_points.extend(text.match_indices('\n').map(|(i, _)| i));
    for cut in cut_points.into_iter().filter(|&i| text.is_char_boundary(i)) {
        match parse(&text[..cut]) {
            Ok(_) | Err(IrError::Parse { .. }) => {}
            Err(other) => panic!("cut at {cut}: non-parse error {other:?}"),
        }
    }
}

#[test]
fn multi_result_kernel_errors_name_their_line() {
    let body = |loops: &str| format!("  %2 = fused.multi %0 {{\n{loops}\n  }} : [0]");
    let cases: &[(String, usize, &str)] = &[
        (
            body("    lope domain=[2, 3] results=[r0] { r0 = in 0 }"),
            5,
            "expected `loop` or `}`",
        ),
        (
            body("    loop results=[r0] { r0 = in 0 }"),
            5,
            "`loop`: missing attribute `domain`",
        ),
        (
            body("    loop domain=[2, 3] results=[median.r0] { r0 = in 0 }"),
            5,
            "unknown reduction `median`",
        ),
        (
            body("    loop domain=[2, 3] results=[x0] { r0 = in 0 }"),
            5,
            "`x0` is not a result like `r3`",
        ),
        (
            body("    loop domain=[2, 3] results=[sum.r0.keep] { r0 = in 0 }"),
            5,
            "`sum.r0.keep` is not a result",
        ),
        (
            body("    loop domain=[2, 3] results=[r0] color=red { r0 = in 0 }"),
            5,
            "unknown attribute `color`",
        ),
        (
            body("    loop domain=[2, 3] results=[sum.r0] { r0 = in 0 }"),
            4,
            "a loop reduces axes exactly when it has a reduction",
        ),
        ("  %2 = fused.multi %0 : [0]".to_string(), 4, "expected `{`"),
        (
            "  %2 = extract %0 index=0 shape=[2, 3]".to_string(),
            4,
            "not a multi-result kernel's [0]",
        ),
    ];
    for (body, line, needle) in cases {
        assert_error(body, *line, needle);
    }
}

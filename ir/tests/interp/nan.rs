//! NaN propagation in the interpreter: every case of `nan_cases` (each op that takes a
//! maximum or a minimum or selects on a comparison, an MLP, a CNN with max pooling; all-NaN
//! and single-NaN inputs) gives NaN exactly where numpy's semantics say, and the scalar
//! semantics themselves (`nan_max`, `nan_min`, ReLU, the pooling gradient's winner).

#[path = "../nan_cases/mod.rs"]
mod nan_cases;

use ir::interp;
use ir::op::{beats_max, nan_max, nan_min};
use ir::{BinaryOp, UnaryOp};

#[test]
fn every_case_is_nan_exactly_where_a_nan_input_reaches() {
    for case in nan_cases::cases() {
        let out = interp::run(&case.graph, &case.bindings).unwrap();
        let y = &out.outputs[0].1.data;
        assert!(
            case.must_be_nan.iter().any(|&m| m),
            "{}: some output must be NaN",
            case.name
        );
        nan_cases::check(&case, y, y, 0.0);
    }
}

#[test]
fn scalar_max_min_and_relu_propagate_nan_like_numpy() {
    let nan = f32::NAN;
    for (a, b) in [(nan, 1.0), (1.0, nan), (nan, nan), (nan, f32::NEG_INFINITY)] {
        assert!(nan_max(a, b).is_nan() && nan_min(a, b).is_nan(), "{a} {b}");
        assert!(BinaryOp::Max.eval(a, b).is_nan() && BinaryOp::Min.eval(a, b).is_nan());
    }
    assert_eq!((nan_max(-1.0, 2.0), nan_min(-1.0, 2.0)), (2.0, -1.0));
    assert!(UnaryOp::Relu.eval(nan).is_nan());
    assert_eq!(
        (UnaryOp::Relu.eval(-3.0), UnaryOp::Relu.eval(3.0)),
        (0.0, 3.0)
    );
    // Comparisons stay numpy's: false with a NaN operand (but `ne`).
    assert_eq!(BinaryOp::Gt.eval(nan, 0.0), 0.0);
    assert_eq!(BinaryOp::Ne.eval(nan, nan), 1.0);
    // The pooling gradient's winner: the first greater value, or the first NaN.
    assert!(beats_max(nan, 5.0) && beats_max(6.0, 5.0));
    assert!(!beats_max(5.0, 5.0) && !beats_max(9.0, nan) && !beats_max(nan, nan));
}

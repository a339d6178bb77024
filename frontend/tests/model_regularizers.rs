//! Regularizer penalties through the reference interpreter against `l1·Σ|w| + l2·Σw²`.

use std::collections::HashMap;

use ir::{Graph, Shape, Tensor};
use kiln::regularizers::Regularizer;

#[test]
fn penalties_match_their_formula() {
    let w: Vec<f32> = vec![0.5, -1.5, 2.0, 0.0, -0.25, 3.0];
    let l1_sum: f32 = w.iter().map(|v| v.abs()).sum();
    let l2_sum: f32 = w.iter().map(|v| v * v).sum();
    for (regularizer, want) in [
        (Regularizer::L1(0.01), 0.01 * l1_sum),
        (Regularizer::L2(0.1), 0.1 * l2_sum),
        (
            Regularizer::L1L2 { l1: 0.2, l2: 0.3 },
            0.2 * l1_sum + 0.3 * l2_sum,
        ),
        (Regularizer::L1L2 { l1: 0.0, l2: 0.0 }, 0.0),
    ] {
        let mut g = Graph::new();
        let p = g.param("w", Shape::from([2, 3]));
        let penalty = regularizer.build_penalty(&mut g, p).unwrap();
        assert_eq!(
            g.shape(penalty),
            &Shape::scalar(),
            "{regularizer:?} gives a scalar"
        );
        g.add_output("penalty", penalty).unwrap();
        let bindings = HashMap::from([("w".to_string(), Tensor::new([2, 3], w.clone()).unwrap())]);
        let got = ir::interp::run(&g, &bindings).unwrap().outputs[0].1.data[0];
        assert!(
            (got - want).abs() < 1e-6 * (1.0 + want),
            "{regularizer:?}: {got} vs {want}"
        );
    }
}

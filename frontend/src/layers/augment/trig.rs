//! Sine and cosine of per-example angles from existing IR ops (the IR has no trigonometric
//! op): the angle reduced to `[-π, π)`, then Taylor polynomials to degree 17 (sine) and 18
//! (cosine), whose truncation error on `[-π, π]` is below 3·10⁻⁸, in Horner form. Used by
//! `RandomRotation` on `[n, 1, 1]` angles: a few dozen scalar ops per example. It does NOT
//! serve as a general elementwise sine (no gradient is needed here: angles are drawn).

use std::f64::consts::PI;

use ir::{BinaryOp, Graph, NodeId, UnaryOp};

use crate::error::Result;
use crate::layers::augment::resample::{bin, bin_k};

/// `Σ c_k · x2^k` in Horner form, `coefficients` from the constant term up.
fn horner(g: &mut Graph, x2: NodeId, coefficients: &[f64]) -> Result<NodeId> {
    let (last, rest) = coefficients.split_last().expect("at least one coefficient");
    let mut p = g.scalar(*last as f32);
    for &c in rest.iter().rev() {
        let scaled = bin(g, BinaryOp::Mul, p, x2)?;
        p = bin_k(g, BinaryOp::Add, scaled, c as f32)?;
    }
    Ok(p)
}

/// The Taylor coefficients `±1 / k!` of sine (odd `k`, divided by x) or cosine (even `k`).
fn taylor(first: u32, count: u32) -> Vec<f64> {
    (0..count)
        .map(|i| {
            let k = first + 2 * i;
            let factorial: f64 = (1..=k).map(f64::from).product();
            if i % 2 == 0 {
                1.0 / factorial
            } else {
                -1.0 / factorial
            }
        })
        .collect()
}

/// `(sin a, cos a)` of the angles `a` (radians).
pub(super) fn sin_cos(g: &mut Graph, a: NodeId) -> Result<(NodeId, NodeId)> {
    let turns = bin_k(g, BinaryOp::Mul, a, (0.5 / PI) as f32)?;
    let turns = bin_k(g, BinaryOp::Add, turns, 0.5)?;
    let whole = g.unary(UnaryOp::Floor, turns)?;
    let whole = bin_k(g, BinaryOp::Mul, whole, (2.0 * PI) as f32)?;
    let r = bin(g, BinaryOp::Sub, a, whole)?;
    let r2 = bin(g, BinaryOp::Mul, r, r)?;
    let sin_over_r = horner(g, r2, &taylor(1, 9))?;
    let sin = bin(g, BinaryOp::Mul, sin_over_r, r)?;
    let cos = horner(g, r2, &taylor(0, 10))?;
    Ok((sin, cos))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use ir::{Graph, Tensor};

    use super::sin_cos;

    #[test]
    fn sine_and_cosine_match_std_over_two_turns() {
        let angles: Vec<f32> = (-64..=64).map(|i| i as f32 * 0.1).collect();
        let mut g = Graph::new();
        let a = g.input("a", [angles.len()]);
        let (sin, cos) = sin_cos(&mut g, a).unwrap();
        g.add_output("sin", sin).unwrap();
        g.add_output("cos", cos).unwrap();
        let bound = HashMap::from([(
            "a".to_string(),
            Tensor::new([angles.len()].as_slice(), angles.clone()).unwrap(),
        )]);
        let outputs = ir::interp::run(&g, &bound).unwrap().outputs;
        for (i, &a) in angles.iter().enumerate() {
            assert!((outputs[0].1.data[i] - a.sin()).abs() < 1e-6, "sin {a}");
            assert!((outputs[1].1.data[i] - a.cos()).abs() < 1e-6, "cos {a}");
        }
    }
}

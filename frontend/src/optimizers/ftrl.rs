//! FTRL-proximal, as tf.keras 2.21 (`keras.optimizers.Ftrl`), per param with slots
//! `accumulator` (starting at `initial_accumulator_value`) and `linear` (starting at 0):
//! `n' = n + g²`, `z += g + 2·λ_shrink·p - (n'^(-c) - n^(-c))/lr · p`,
//! `q = n'^(-c)/lr + 2(λ₂ + β/(2·lr))`, `p = (clip(z, -λ₁, λ₁) - z)/q`, where `c` is
//! `learning_rate_power`.

use ir::{BinaryOp, Graph, NodeId};

use super::{StateBuilder, StepScalars, UpdateRule, optimizer};
use crate::error::Error;
use crate::error::training_graph_error;

optimizer! {
    /// FTRL (Keras `Ftrl`): learning rate 0.001, learning_rate_power -0.5, initial
    /// accumulator 0.1, no regularization, β 0.
    Ftrl, keras_name = "Ftrl", learning_rate = 0.001, {
        /// The power `c` of the per-coordinate rate `n^c` (<= 0; -0.5 is AdaGrad-like).
        learning_rate_power: f32 = -0.5,
        /// Starting value of every accumulator element (>= 0).
        initial_accumulator_value: f32 = 0.1,
        /// L1 strength λ₁ (>= 0): weights whose `|z| <= λ₁` become exactly 0.
        l1_regularization_strength: f32 = 0.0,
        /// L2 strength λ₂ (>= 0).
        l2_regularization_strength: f32 = 0.0,
        /// L2 shrinkage strength (>= 0), added to the gradient as `2·λ·p`.
        l2_shrinkage_regularization_strength: f32 = 0.0,
        /// The β of FTRL's per-coordinate rate (>= 0).
        beta: f32 = 0.0,
    }
}

impl UpdateRule for Ftrl {
    fn validate(&self) -> Result<(), Error> {
        let non_negative = [
            ("initial_accumulator_value", self.initial_accumulator_value),
            (
                "l1_regularization_strength",
                self.l1_regularization_strength,
            ),
            (
                "l2_regularization_strength",
                self.l2_regularization_strength,
            ),
            (
                "l2_shrinkage_regularization_strength",
                self.l2_shrinkage_regularization_strength,
            ),
            ("beta", self.beta),
            ("-learning_rate_power", -self.learning_rate_power),
        ];
        for (what, value) in non_negative {
            if !(value.is_finite() && value >= 0.0) {
                return Err(training_graph_error(
                    "Ftrl",
                    format!("{what} must be finite and >= 0, got {value}"),
                ));
            }
        }
        Ok(())
    }

    fn emit(
        &self,
        g: &mut Graph,
        state: &mut StateBuilder,
        step: StepScalars,
        params: &[NodeId],
        grads: &[NodeId],
    ) -> Result<(), Error> {
        let lr = step.learning_rate;
        let power = g.scalar(-self.learning_rate_power);
        let (two, l1) = (g.scalar(2.0), g.scalar(self.l1_regularization_strength));
        let minus_l1 = g.scalar(-self.l1_regularization_strength);
        // 2·(λ₂ + β/(2·lr)).
        let twice_lr = g.binary(BinaryOp::Mul, two, lr)?;
        let beta = g.scalar(self.beta);
        let beta_term = g.binary(BinaryOp::Div, beta, twice_lr)?;
        let l2 = g.scalar(self.l2_regularization_strength);
        let l2_reg = g.binary(BinaryOp::Add, l2, beta_term)?;
        let twice_l2_reg = g.binary(BinaryOp::Mul, two, l2_reg)?;
        let shrinkage = g.scalar(2.0 * self.l2_shrinkage_regularization_strength);
        for (&p, &grad) in params.iter().zip(grads) {
            let accum = state.slot(g, p, "accumulator", self.initial_accumulator_value)?;
            let linear = state.slot(g, p, "linear", 0.0)?;
            let shrunk = g.binary(BinaryOp::Mul, shrinkage, p)?;
            let grad_to_use = g.binary(BinaryOp::Add, grad, shrunk)?;
            let grad_sq = g.binary(BinaryOp::Mul, grad, grad)?;
            let accum_new = g.binary(BinaryOp::Add, accum, grad_sq)?;
            let rate_new = g.binary(BinaryOp::Pow, accum_new, power)?;
            let rate_old = g.binary(BinaryOp::Pow, accum, power)?;
            let rate_change = g.binary(BinaryOp::Sub, rate_new, rate_old)?;
            let sigma = g.binary(BinaryOp::Div, rate_change, lr)?;
            let correction = g.binary(BinaryOp::Mul, sigma, p)?;
            let increment = g.binary(BinaryOp::Sub, grad_to_use, correction)?;
            let linear_new = g.binary(BinaryOp::Add, linear, increment)?;
            let scaled_rate = g.binary(BinaryOp::Div, rate_new, lr)?;
            let quadratic = g.binary(BinaryOp::Add, scaled_rate, twice_l2_reg)?;
            let floor = g.binary(BinaryOp::Max, linear_new, minus_l1)?;
            let clipped = g.binary(BinaryOp::Min, floor, l1)?;
            let numerator = g.binary(BinaryOp::Sub, clipped, linear_new)?;
            let p_new = g.binary(BinaryOp::Div, numerator, quadratic)?;
            g.add_update(accum, accum_new)?;
            g.add_update(linear, linear_new)?;
            g.add_update(p, p_new)?;
        }
        Ok(())
    }
}

//! Adamax, as tf.keras 2.x: `m = β₁m + (1-β₁)g`, `u = max(β₂u, |g|)`,
//! `p -= lr/(1-β₁ᵗ) · m/(u + ε)`.

use ir::{BinaryOp, Graph, NodeId, UnaryOp};

use super::{
    StateBuilder, StepScalars, UpdateRule, check_epsilon, check_unit, moving_average,
    one_minus_power, optimizer,
};
use crate::error::Error;

optimizer! {
    /// Adamax (Keras `Adamax`): learning rate 0.001, β₁ 0.9, β₂ 0.999, ε 1e-7.
    Adamax, keras_name = "Adamax", learning_rate = 0.001, {
        /// Decay of the first-moment estimate.
        beta_1: f32 = 0.9,
        /// Decay of the exponentially weighted infinity norm.
        beta_2: f32 = 0.999,
        /// Added to the denominator for stability.
        epsilon: f32 = 1e-7,
    }
}

impl UpdateRule for Adamax {
    fn validate(&self) -> Result<(), Error> {
        check_unit("Adamax", "beta_1", self.beta_1)?;
        check_unit("Adamax", "beta_2", self.beta_2)?;
        check_epsilon("Adamax", self.epsilon)
    }

    fn emit(
        &self,
        g: &mut Graph,
        state: &mut StateBuilder,
        step: StepScalars,
        params: &[NodeId],
        grads: &[NodeId],
    ) -> Result<(), Error> {
        let one = g.scalar(1.0);
        let correction = one_minus_power(g, one, self.beta_1, step.step)?;
        let lr_t = g.binary(BinaryOp::Div, step.learning_rate, correction)?;
        let (beta_1, one_minus_beta_1) = (g.scalar(self.beta_1), g.scalar(1.0 - self.beta_1));
        let (beta_2, epsilon) = (g.scalar(self.beta_2), g.scalar(self.epsilon));
        for (&p, &grad) in params.iter().zip(grads) {
            let m = state.slot(g, p, "m", 0.0)?;
            let u = state.slot(g, p, "v", 0.0)?;
            let m_new = moving_average(g, beta_1, one_minus_beta_1, m, grad)?;
            let u_decayed = g.binary(BinaryOp::Mul, beta_2, u)?;
            let grad_abs = g.unary(UnaryOp::Abs, grad)?;
            let u_new = g.binary(BinaryOp::Max, u_decayed, grad_abs)?;
            let denominator = g.binary(BinaryOp::Add, u_new, epsilon)?;
            let ratio = g.binary(BinaryOp::Div, m_new, denominator)?;
            let delta = g.binary(BinaryOp::Mul, lr_t, ratio)?;
            let p_new = g.binary(BinaryOp::Sub, p, delta)?;
            g.add_update(m, m_new)?;
            g.add_update(u, u_new)?;
            g.add_update(p, p_new)?;
        }
        Ok(())
    }
}

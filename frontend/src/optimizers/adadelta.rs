//! Adadelta, as tf.keras 2.x: `a = ρa + (1-ρ)g²`, `u = √(d + ε)/√(a + ε) · g`,
//! `d = ρd + (1-ρ)u²`, `p -= lr·u` (`a` = slot `accum_grad`, `d` = slot `accum_var`).

use ir::{BinaryOp, Graph, NodeId, UnaryOp};

use super::{
    StateBuilder, StepScalars, UpdateRule, check_epsilon, check_unit, moving_average, optimizer,
};
use crate::error::Error;

optimizer! {
    /// Adadelta (Keras `Adadelta`): learning rate 0.001, ρ 0.95, ε 1e-7.
    AdaDelta, keras_name = "Adadelta", learning_rate = 0.001, {
        /// Decay of both running averages.
        rho: f32 = 0.95,
        /// Stability term inside both square roots.
        epsilon: f32 = 1e-7,
    }
}

impl UpdateRule for AdaDelta {
    fn validate(&self) -> Result<(), Error> {
        check_unit("Adadelta", "rho", self.rho)?;
        check_epsilon("Adadelta", self.epsilon)
    }

    fn emit(
        &self,
        g: &mut Graph,
        state: &mut StateBuilder,
        step: StepScalars,
        params: &[NodeId],
        grads: &[NodeId],
    ) -> Result<(), Error> {
        let (rho, one_minus_rho, epsilon) = (
            g.scalar(self.rho),
            g.scalar(1.0 - self.rho),
            g.scalar(self.epsilon),
        );
        for (&p, &grad) in params.iter().zip(grads) {
            let accum_grad = state.slot(g, p, "accum_grad", 0.0)?;
            let accum_var = state.slot(g, p, "accum_var", 0.0)?;
            let grad_sq = g.unary(UnaryOp::Square, grad)?;
            let accum_grad_new = moving_average(g, rho, one_minus_rho, accum_grad, grad_sq)?;
            let var_shifted = g.binary(BinaryOp::Add, accum_var, epsilon)?;
            let grad_shifted = g.binary(BinaryOp::Add, accum_grad_new, epsilon)?;
            let numerator = g.unary(UnaryOp::Sqrt, var_shifted)?;
            let inverse_denominator = g.unary(UnaryOp::Rsqrt, grad_shifted)?;
            let scale = g.binary(BinaryOp::Mul, numerator, inverse_denominator)?;
            let update = g.binary(BinaryOp::Mul, scale, grad)?;
            let update_sq = g.unary(UnaryOp::Square, update)?;
            let accum_var_new = moving_average(g, rho, one_minus_rho, accum_var, update_sq)?;
            let delta = g.binary(BinaryOp::Mul, step.learning_rate, update)?;
            let p_new = g.binary(BinaryOp::Sub, p, delta)?;
            g.add_update(accum_grad, accum_grad_new)?;
            g.add_update(accum_var, accum_var_new)?;
            g.add_update(p, p_new)?;
        }
        Ok(())
    }
}

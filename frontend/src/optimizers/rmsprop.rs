//! RMSprop, as tf.keras 2.x: `s = ρs + (1-ρ)g²` (centered: also `a = ρa + (1-ρ)g` and the
//! denominator uses `s - a²`). Without momentum `p -= lr·g/(√s + ε)`; with momentum (TF's
//! fused kernel) `mom = momentum·mom + lr·g/√(s + ε)`, `p -= mom`. The two placements of ε
//! differ on purpose: that is what Keras computes.

use ir::{BinaryOp, Graph, NodeId, UnaryOp};

use super::{
    StateBuilder, StepScalars, UpdateRule, check_epsilon, check_unit, moving_average, optimizer,
};
use crate::error::Error;

optimizer! {
    /// RMSprop (Keras `RMSprop`): learning rate 0.001, ρ 0.9, no momentum, ε 1e-7, not centered.
    RMSProp, keras_name = "RMSprop", learning_rate = 0.001, {
        /// Decay of the mean square of the gradients.
        rho: f32 = 0.9,
        /// Momentum factor in `[0, 1]` (0 = no momentum state).
        momentum: f32 = 0.0,
        /// Stability term of the denominator.
        epsilon: f32 = 1e-7,
        /// Normalise by the estimated variance instead of the uncentered second moment.
        centered: bool = false,
    }
}

impl UpdateRule for RMSProp {
    fn validate(&self) -> Result<(), Error> {
        check_unit("RMSprop", "rho", self.rho)?;
        check_unit("RMSprop", "momentum", self.momentum)?;
        check_epsilon("RMSprop", self.epsilon)
    }

    fn emit(
        &self,
        g: &mut Graph,
        state: &mut StateBuilder,
        step: StepScalars,
        params: &[NodeId],
        grads: &[NodeId],
    ) -> Result<(), Error> {
        let (rho, one_minus_rho) = (g.scalar(self.rho), g.scalar(1.0 - self.rho));
        let (momentum, epsilon) = (g.scalar(self.momentum), g.scalar(self.epsilon));
        for (&p, &grad) in params.iter().zip(grads) {
            let rms = state.slot(g, p, "rms", 0.0)?;
            let grad_sq = g.unary(UnaryOp::Square, grad)?;
            let rms_new = moving_average(g, rho, one_minus_rho, rms, grad_sq)?;
            g.add_update(rms, rms_new)?;
            let mut denominator = rms_new;
            if self.centered {
                let mean_grad = state.slot(g, p, "mg", 0.0)?;
                let mean_grad_new = moving_average(g, rho, one_minus_rho, mean_grad, grad)?;
                g.add_update(mean_grad, mean_grad_new)?;
                let mean_sq = g.unary(UnaryOp::Square, mean_grad_new)?;
                denominator = g.binary(BinaryOp::Sub, rms_new, mean_sq)?;
            }
            let lr_grad = g.binary(BinaryOp::Mul, step.learning_rate, grad)?;
            let delta = if self.momentum > 0.0 {
                let velocity = state.slot(g, p, "momentum", 0.0)?;
                let shifted = g.binary(BinaryOp::Add, denominator, epsilon)?;
                let root = g.unary(UnaryOp::Sqrt, shifted)?;
                let scaled = g.binary(BinaryOp::Div, lr_grad, root)?;
                let decayed = g.binary(BinaryOp::Mul, momentum, velocity)?;
                let velocity_new = g.binary(BinaryOp::Add, decayed, scaled)?;
                g.add_update(velocity, velocity_new)?;
                velocity_new
            } else {
                let root = g.unary(UnaryOp::Sqrt, denominator)?;
                let shifted = g.binary(BinaryOp::Add, root, epsilon)?;
                g.binary(BinaryOp::Div, lr_grad, shifted)?
            };
            let p_new = g.binary(BinaryOp::Sub, p, delta)?;
            g.add_update(p, p_new)?;
        }
        Ok(())
    }
}

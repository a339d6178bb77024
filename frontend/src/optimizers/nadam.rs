//! Nadam, as tf.keras 2.x (Dozat's schedule with a momentum cache):
//! `μₜ = β₁(1 - ½·0.96^(0.004t))`, `μₜ₊₁` likewise at `t+1`, the cache `Πₜ = Πₜ₋₁·μₜ`
//! (global param `optimizer/momentum_cache`, starting at 1).
//! Per param: `m = β₁m + (1-β₁)g`, `v = β₂v + (1-β₂)g²`,
//! `m̄ = (1-μₜ)·g/(1-Πₜ) + μₜ₊₁·m/(1-Πₜμₜ₊₁)`, `p -= lr·m̄/(√(v/(1-β₂ᵗ)) + ε)`.

use ir::{BinaryOp, Graph, NodeId, UnaryOp};

use super::{
    StateBuilder, StepScalars, UpdateRule, check_epsilon, check_unit, moving_average,
    one_minus_power, optimizer,
};
use crate::error::Error;

/// Base of the momentum schedule's decay.
const SCHEDULE_BASE: f32 = 0.96;
/// Keras' `_m_cache_decay`: the schedule's exponent per step.
const SCHEDULE_DECAY: f32 = 0.004;

optimizer! {
    /// Nadam (Keras `Nadam`): learning rate 0.001, β₁ 0.9, β₂ 0.999, ε 1e-7.
    Nadam, keras_name = "Nadam", learning_rate = 0.001, {
        /// Decay of the first-moment estimate.
        beta_1: f32 = 0.9,
        /// Decay of the second-moment estimate.
        beta_2: f32 = 0.999,
        /// Added to the denominator for stability.
        epsilon: f32 = 1e-7,
    }
}

impl UpdateRule for Nadam {
    fn validate(&self) -> Result<(), Error> {
        check_unit("Nadam", "beta_1", self.beta_1)?;
        check_unit("Nadam", "beta_2", self.beta_2)?;
        check_epsilon("Nadam", self.epsilon)
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
        let mu_t = self.momentum_at(g, step.step)?;
        let next_step = g.binary(BinaryOp::Add, step.step, one)?;
        let mu_next = self.momentum_at(g, next_step)?;
        let cache = state.global(g, "momentum_cache", 1.0)?;
        let schedule = g.binary(BinaryOp::Mul, cache, mu_t)?;
        g.add_update(cache, schedule)?;
        let schedule_next = g.binary(BinaryOp::Mul, schedule, mu_next)?;
        let grad_scale = g.binary(BinaryOp::Sub, one, schedule)?;
        let m_scale = g.binary(BinaryOp::Sub, one, schedule_next)?;
        let one_minus_mu_t = g.binary(BinaryOp::Sub, one, mu_t)?;
        let v_scale = one_minus_power(g, one, self.beta_2, step.step)?;
        let (beta_1, one_minus_beta_1) = (g.scalar(self.beta_1), g.scalar(1.0 - self.beta_1));
        let (beta_2, one_minus_beta_2) = (g.scalar(self.beta_2), g.scalar(1.0 - self.beta_2));
        let epsilon = g.scalar(self.epsilon);
        for (&p, &grad) in params.iter().zip(grads) {
            let m = state.slot(g, p, "m", 0.0)?;
            let v = state.slot(g, p, "v", 0.0)?;
            let grad_prime = g.binary(BinaryOp::Div, grad, grad_scale)?;
            let m_new = moving_average(g, beta_1, one_minus_beta_1, m, grad)?;
            let m_prime = g.binary(BinaryOp::Div, m_new, m_scale)?;
            let grad_sq = g.unary(UnaryOp::Square, grad)?;
            let v_new = moving_average(g, beta_2, one_minus_beta_2, v, grad_sq)?;
            let v_prime = g.binary(BinaryOp::Div, v_new, v_scale)?;
            let m_bar = moving_average(g, one_minus_mu_t, mu_next, grad_prime, m_prime)?;
            let root = g.unary(UnaryOp::Sqrt, v_prime)?;
            let denominator = g.binary(BinaryOp::Add, root, epsilon)?;
            let ratio = g.binary(BinaryOp::Div, m_bar, denominator)?;
            let delta = g.binary(BinaryOp::Mul, step.learning_rate, ratio)?;
            let p_new = g.binary(BinaryOp::Sub, p, delta)?;
            g.add_update(m, m_new)?;
            g.add_update(v, v_new)?;
            g.add_update(p, p_new)?;
        }
        Ok(())
    }
}

impl Nadam {
    /// `β₁(1 - ½·0.96^(0.004·t))`.
    fn momentum_at(&self, g: &mut Graph, t: NodeId) -> Result<NodeId, Error> {
        let (base, decay, half, beta_1) = (
            g.scalar(SCHEDULE_BASE),
            g.scalar(SCHEDULE_DECAY),
            g.scalar(0.5),
            g.scalar(self.beta_1),
        );
        let one = g.scalar(1.0);
        let exponent = g.binary(BinaryOp::Mul, decay, t)?;
        let power = g.binary(BinaryOp::Pow, base, exponent)?;
        let halved = g.binary(BinaryOp::Mul, half, power)?;
        let factor = g.binary(BinaryOp::Sub, one, halved)?;
        Ok(g.binary(BinaryOp::Mul, beta_1, factor)?)
    }
}

//! Adam, as tf.keras 2.x: `m = β₁m + (1-β₁)g`, `v = β₂v + (1-β₂)g²`,
//! `p -= lr·√(1-β₂ᵗ)/(1-β₁ᵗ) · m/(√v + ε)`; with AMSGrad `v̂ = max(v̂, v)` replaces `v`
//! in the denominator. The rule also serves `AdamW` (decoupled weight decay first).

use ir::{BinaryOp, Graph, NodeId, UnaryOp};

use super::{
    StateBuilder, StepScalars, UpdateRule, check_epsilon, check_unit, moving_average,
    one_minus_power, optimizer,
};
use crate::error::{Error, training_graph_error};

optimizer! {
    /// Adam (Keras `Adam`): learning rate 0.001, β₁ 0.9, β₂ 0.999, ε 1e-7.
    Adam, keras_name = "Adam", learning_rate = 0.001, {
        /// Decay of the first-moment estimate.
        beta_1: f32 = 0.9,
        /// Decay of the second-moment estimate.
        beta_2: f32 = 0.999,
        /// Added to the denominator for stability.
        epsilon: f32 = 1e-7,
        /// Use the AMSGrad variant (keeps the running maximum of `v`).
        amsgrad: bool = false,
    }
}

/// Gives an optimizer with `beta_1`, `beta_2`, `epsilon` and `amsgrad` fields its
/// [`AdamRule`] (`weight_decay` computed by `|s| expr` from the optimizer `s`) and the
/// [`UpdateRule`] that delegates to it, errors naming the optimizer's type. The call site
/// imports `Graph`, `NodeId`, `StateBuilder`, `StepScalars`, `UpdateRule` and `Error`.
macro_rules! adam_update_rule {
    ($ty:ident, |$s:ident| $weight_decay:expr) => {
        impl $ty {
            fn rule(&self) -> AdamRule {
                let $s = self;
                AdamRule {
                    beta_1: $s.beta_1,
                    beta_2: $s.beta_2,
                    epsilon: $s.epsilon,
                    amsgrad: $s.amsgrad,
                    weight_decay: $weight_decay,
                }
            }
        }

        impl UpdateRule for $ty {
            fn validate(&self) -> Result<(), Error> {
                self.rule().validate(stringify!($ty))
            }

            fn emit(
                &self,
                g: &mut Graph,
                state: &mut StateBuilder,
                step: StepScalars,
                params: &[NodeId],
                grads: &[NodeId],
            ) -> Result<(), Error> {
                self.rule().emit(g, state, step, params, grads)
            }
        }
    };
}
pub(super) use adam_update_rule;

adam_update_rule!(Adam, |_adam| 0.0);

/// Adam's rule with optional decoupled weight decay, shared by [`Adam`] and `AdamW`.
#[derive(Debug, Clone, Copy)]
pub(super) struct AdamRule {
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    pub amsgrad: bool,
    /// `p -= lr·weight_decay·p` before the Adam step (Keras' `_apply_weight_decay`); 0: none.
    pub weight_decay: f32,
}

impl AdamRule {
    pub fn validate(&self, owner: &str) -> Result<(), Error> {
        check_unit(owner, "beta_1", self.beta_1)?;
        check_unit(owner, "beta_2", self.beta_2)?;
        check_epsilon(owner, self.epsilon)?;
        if !self.weight_decay.is_finite() {
            return Err(training_graph_error(
                owner,
                format!("weight_decay must be finite, got {}", self.weight_decay),
            ));
        }
        Ok(())
    }

    pub fn emit(
        &self,
        g: &mut Graph,
        state: &mut StateBuilder,
        step: StepScalars,
        params: &[NodeId],
        grads: &[NodeId],
    ) -> Result<(), Error> {
        let lr_t = bias_corrected_rate(g, step, self.beta_1, self.beta_2)?;
        let (beta_1, beta_2) = (g.scalar(self.beta_1), g.scalar(self.beta_2));
        let (one_minus_beta_1, one_minus_beta_2) =
            (g.scalar(1.0 - self.beta_1), g.scalar(1.0 - self.beta_2));
        let epsilon = g.scalar(self.epsilon);
        for (&p, &grad) in params.iter().zip(grads) {
            let m = state.slot(g, p, "m", 0.0)?;
            let v = state.slot(g, p, "v", 0.0)?;
            let m_new = moving_average(g, beta_1, one_minus_beta_1, m, grad)?;
            let grad_sq = g.unary(UnaryOp::Square, grad)?;
            let v_new = moving_average(g, beta_2, one_minus_beta_2, v, grad_sq)?;
            let v_used = if self.amsgrad {
                let v_hat = state.slot(g, p, "vhat", 0.0)?;
                let v_hat_new = g.binary(BinaryOp::Max, v_hat, v_new)?;
                g.add_update(v_hat, v_hat_new)?;
                v_hat_new
            } else {
                v_new
            };
            let root = g.unary(UnaryOp::Sqrt, v_used)?;
            let denominator = g.binary(BinaryOp::Add, root, epsilon)?;
            let ratio = g.binary(BinaryOp::Div, m_new, denominator)?;
            let delta = g.binary(BinaryOp::Mul, lr_t, ratio)?;
            let decayed = self.decayed(g, step, p)?;
            let p_new = g.binary(BinaryOp::Sub, decayed, delta)?;
            g.add_update(m, m_new)?;
            g.add_update(v, v_new)?;
            g.add_update(p, p_new)?;
        }
        Ok(())
    }

    /// `p - (p·weight_decay)·lr`, or `p` without weight decay.
    fn decayed(&self, g: &mut Graph, step: StepScalars, p: NodeId) -> Result<NodeId, Error> {
        if self.weight_decay == 0.0 {
            return Ok(p);
        }
        let decay = g.scalar(self.weight_decay);
        let scaled = g.binary(BinaryOp::Mul, p, decay)?;
        let shrink = g.binary(BinaryOp::Mul, scaled, step.learning_rate)?;
        Ok(g.binary(BinaryOp::Sub, p, shrink)?)
    }
}

/// `lr · √(1-β₂ᵗ) / (1-β₁ᵗ)`, Adam's bias-corrected step size.
fn bias_corrected_rate(
    g: &mut Graph,
    step: StepScalars,
    beta_1: f32,
    beta_2: f32,
) -> Result<NodeId, Error> {
    let one = g.scalar(1.0);
    let correction_1 = one_minus_power(g, one, beta_1, step.step)?;
    let correction_2 = one_minus_power(g, one, beta_2, step.step)?;
    let root = g.unary(UnaryOp::Sqrt, correction_2)?;
    let scaled = g.binary(BinaryOp::Mul, step.learning_rate, root)?;
    Ok(g.binary(BinaryOp::Div, scaled, correction_1)?)
}

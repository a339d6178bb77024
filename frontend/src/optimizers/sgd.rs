//! Stochastic gradient descent with optional (Nesterov) momentum, as tf.keras 2.x:
//! without momentum `p -= lr·g`; with it `v = momentum·v - lr·g`, then `p += v`
//! (Nesterov: `p += momentum·v - lr·g`).

use ir::{BinaryOp, Graph, NodeId};

use super::{StateBuilder, StepScalars, UpdateRule, check_unit, optimizer};
use crate::error::Error;

optimizer! {
    /// Stochastic gradient descent (Keras `SGD`): learning rate 0.01, no momentum.
    #[allow(clippy::upper_case_acronyms)] // the Keras class name
    SGD, keras_name = "SGD", learning_rate = 0.01, {
        /// Momentum factor in `[0, 1]` (0 = plain gradient descent, no state).
        momentum: f32 = 0.0,
        /// Use Nesterov momentum.
        nesterov: bool = false,
    }
}

impl UpdateRule for SGD {
    fn validate(&self) -> Result<(), Error> {
        check_unit("SGD", "momentum", self.momentum)
    }

    fn emit(
        &self,
        g: &mut Graph,
        state: &mut StateBuilder,
        step: StepScalars,
        params: &[NodeId],
        grads: &[NodeId],
    ) -> Result<(), Error> {
        let momentum = g.scalar(self.momentum);
        for (&p, &grad) in params.iter().zip(grads) {
            let lr_grad = g.binary(BinaryOp::Mul, step.learning_rate, grad)?;
            if self.momentum == 0.0 {
                let p_new = g.binary(BinaryOp::Sub, p, lr_grad)?;
                g.add_update(p, p_new)?;
                continue;
            }
            let velocity = state.slot(g, p, "momentum", 0.0)?;
            let decayed = g.binary(BinaryOp::Mul, momentum, velocity)?;
            let velocity_new = g.binary(BinaryOp::Sub, decayed, lr_grad)?;
            let delta = if self.nesterov {
                let ahead = g.binary(BinaryOp::Mul, momentum, velocity_new)?;
                g.binary(BinaryOp::Sub, ahead, lr_grad)?
            } else {
                velocity_new
            };
            let p_new = g.binary(BinaryOp::Add, p, delta)?;
            g.add_update(velocity, velocity_new)?;
            g.add_update(p, p_new)?;
        }
        Ok(())
    }
}

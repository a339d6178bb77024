//! Adagrad, as tf.keras 2.x: `acc += g²`, `p -= lr·g/(√acc + ε)`, with the accumulator
//! starting at `initial_accumulator_value`.

use ir::{BinaryOp, Graph, NodeId, UnaryOp};

use super::{StateBuilder, StepScalars, UpdateRule, check_epsilon, optimizer};
use crate::error::Error;
use crate::error::training_graph_error;

optimizer! {
    /// Adagrad (Keras `Adagrad`): learning rate 0.001, initial accumulator 0.1, ε 1e-7.
    AdaGrad, keras_name = "Adagrad", learning_rate = 0.001, {
        /// Starting value of every accumulator element (>= 0).
        initial_accumulator_value: f32 = 0.1,
        /// Stability term of the denominator.
        epsilon: f32 = 1e-7,
    }
}

impl UpdateRule for AdaGrad {
    fn validate(&self) -> Result<(), Error> {
        let initial = self.initial_accumulator_value;
        if !(initial.is_finite() && initial >= 0.0) {
            return Err(training_graph_error(
                "Adagrad",
                format!("initial_accumulator_value must be finite and >= 0, got {initial}"),
            ));
        }
        check_epsilon("Adagrad", self.epsilon)
    }

    fn emit(
        &self,
        g: &mut Graph,
        state: &mut StateBuilder,
        step: StepScalars,
        params: &[NodeId],
        grads: &[NodeId],
    ) -> Result<(), Error> {
        let epsilon = g.scalar(self.epsilon);
        for (&p, &grad) in params.iter().zip(grads) {
            let accumulator = state.slot(g, p, "accumulator", self.initial_accumulator_value)?;
            let grad_sq = g.unary(UnaryOp::Square, grad)?;
            let accumulator_new = g.binary(BinaryOp::Add, accumulator, grad_sq)?;
            let root = g.unary(UnaryOp::Sqrt, accumulator_new)?;
            let denominator = g.binary(BinaryOp::Add, root, epsilon)?;
            let lr_grad = g.binary(BinaryOp::Mul, step.learning_rate, grad)?;
            let delta = g.binary(BinaryOp::Div, lr_grad, denominator)?;
            let p_new = g.binary(BinaryOp::Sub, p, delta)?;
            g.add_update(accumulator, accumulator_new)?;
            g.add_update(p, p_new)?;
        }
        Ok(())
    }
}

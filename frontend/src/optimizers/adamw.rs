//! AdamW, as tf.keras 2.21 (`keras.optimizers.AdamW`): Adam with decoupled weight decay,
//! `p -= lr·weight_decay·p` before each Adam step (on every trainable param), `lr` being the
//! step's learning rate (scheduled or not). The Adam step itself is [`super::adam`]'s rule.

use ir::{Graph, NodeId};

use super::adam::{AdamRule, adam_update_rule};
use super::{StateBuilder, StepScalars, UpdateRule, optimizer};
use crate::error::Error;

optimizer! {
    /// AdamW (Keras `AdamW`): learning rate 0.001, weight decay 0.004, β₁ 0.9, β₂ 0.999,
    /// ε 1e-7.
    ///
    /// ```
    /// use kiln::optimizers::{AdamW, CosineDecay};
    /// let opt = AdamW::new().learning_rate(CosineDecay::new(1e-3, 1000.0)).weight_decay(0.01);
    /// # let _ = opt;
    /// ```
    AdamW, keras_name = "AdamW", learning_rate = 0.001, {
        /// Fraction of each weight removed per step, times the learning rate.
        weight_decay: f32 = 0.004,
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

adam_update_rule!(AdamW, |adamw| adamw.weight_decay);

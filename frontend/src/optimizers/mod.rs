//! Optimizers as IR builders: each one emits its parameter update into the training-step
//! graph as ops plus graph `updates`; nothing is computed here.
//!
//! The update formulas are those of tf.keras 2.x (`tf.keras.optimizers.legacy.*`, the
//! optimizer_v2 family), including their quirks (e.g. RMSprop without momentum adds epsilon
//! after the square root, with momentum inside it). Every optimizer shares:
//! - the scalar params `optimizer/learning_rate` (so a callback may change it between steps
//!   without recompiling) and `optimizer/iterations` (steps taken so far; the update of a
//!   step uses `t = iterations + 1`); with a learning-rate schedule ([`schedules`]) there is
//!   no `optimizer/learning_rate` param: the rate is the schedule's ops of `iterations`;
//! - per-parameter state params named `<param>/<slot>` (e.g. `w0/m`);
//! - gradient clipping ([`GradientClipping`], Keras `clipvalue`/`clipnorm`/`global_clipnorm`),
//!   applied to the gradients before the rule sees them.
//!
//! One driver (`build_with_rule`) does all of that; each optimizer file only states its rule.

mod adadelta;
mod adagrad;
mod adam;
mod adamax;
mod adamw;
mod clip;
mod ftrl;
mod nadam;
mod rmsprop;
pub mod schedules;
mod sgd;

pub use adadelta::AdaDelta;
pub use adagrad::AdaGrad;
pub use adam::Adam;
pub use adamax::Adamax;
pub use adamw::AdamW;
pub use clip::GradientClipping;
pub use ftrl::Ftrl;
pub use nadam::Nadam;
pub use rmsprop::RMSProp;
pub use schedules::{
    CosineDecay, ExponentialDecay, InverseTimeDecay, LearningRate, LearningRateSchedule,
    PiecewiseConstantDecay,
};
pub use sgd::SGD;

use ir::{BinaryOp, Graph, NodeId, Op, Shape, Tensor};

use crate::error::Error;
use crate::error::training_graph_error;

/// Name of the scalar learning-rate param every optimizer creates.
pub const LEARNING_RATE: &str = "optimizer/learning_rate";
/// Name of the scalar step-count param every optimizer creates.
pub const ITERATIONS: &str = "optimizer/iterations";

/// A learning rule that emits its update into the training graph.
pub trait Optimizer: Send + Sync + std::fmt::Debug {
    /// Keras class name, e.g. `"Adam"`.
    fn name(&self) -> &str;

    /// Adds optimizer-state params (named `"<param name>/<slot>"`, e.g. `"w0/m"`, plus globals
    /// like [`ITERATIONS`] and [`LEARNING_RATE`]) and one graph update per param and state.
    /// Returns the initial value of every state param it created.
    fn build_update(
        &self,
        g: &mut Graph,
        params: &[NodeId],
        grads: &[NodeId],
    ) -> Result<Vec<(String, Tensor)>, Error>;

    /// Keras' inner optimizer config: `name`, `learning_rate` (the initial one, or the
    /// schedule's `{"class_name", "config"}`), every hyper-parameter and the clipping options,
    /// enough to rebuild the optimizer.
    fn config(&self) -> serde_json::Value;

    /// The learning-rate schedule, when the rate is one (then the rate cannot be set, as in
    /// Keras); `None` for a constant rate.
    fn learning_rate_schedule(&self) -> Option<&LearningRateSchedule> {
        None
    }
}

/// The per-step scalars every rule may use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepScalars {
    /// The learning-rate param.
    pub learning_rate: NodeId,
    /// `iterations + 1`: the 1-based index of the step being taken.
    pub step: NodeId,
}

/// Creates optimizer-state params and records their initial values.
#[derive(Debug, Default)]
pub(crate) struct StateBuilder {
    initial: Vec<(String, Tensor)>,
}

impl StateBuilder {
    /// A new state param `name` of `shape` starting at `fill`; fails if the name is taken.
    fn create(
        &mut self,
        g: &mut Graph,
        name: String,
        shape: Shape,
        fill: f32,
    ) -> Result<NodeId, Error> {
        if g.find_leaf(&name).is_some() {
            return Err(training_graph_error(
                "optimizer",
                format!("the graph already has a leaf named `{name}`"),
            ));
        }
        let node = g.param(name.clone(), shape.clone());
        self.initial.push((name, Tensor::full(shape, fill)));
        Ok(node)
    }

    /// The scalar global `optimizer/<name>` starting at `fill`. A layer that reads the step
    /// counter in the forward pass (Dropout seeds its mask with it) may have added the scalar
    /// [`ITERATIONS`] param already; while nothing updates it yet, it is reused.
    pub fn global(&mut self, g: &mut Graph, name: &str, fill: f32) -> Result<NodeId, Error> {
        let name = format!("optimizer/{name}");
        let existing = (name == ITERATIONS)
            .then(|| g.find_leaf(&name))
            .flatten()
            .filter(|&n| {
                matches!(g.op(n), Op::Param { .. })
                    && g.shape(n).rank() == 0
                    && !g.updates.iter().any(|&(p, _)| p == n)
            });
        if let Some(node) = existing {
            self.initial
                .push((name, Tensor::full(Shape::scalar(), fill)));
            return Ok(node);
        }
        self.create(g, name, Shape::scalar(), fill)
    }

    /// The slot `<param name>/<slot>` of `param`'s shape, starting at `fill`.
    pub fn slot(
        &mut self,
        g: &mut Graph,
        param: NodeId,
        slot: &str,
        fill: f32,
    ) -> Result<NodeId, Error> {
        let name = param_name(g, param)?;
        let shape = g.shape(param).clone();
        self.create(g, format!("{name}/{slot}"), shape, fill)
    }
}

/// The part that differs between optimizers: given clipped gradients and the step scalars,
/// add the rule's slots and one update per param and slot.
pub(crate) trait UpdateRule {
    /// Rejects bad hyper-parameters before anything is added to the graph.
    fn validate(&self) -> Result<(), Error>;

    /// Emit the updates of all `params` (each with its gradient in `grads`).
    fn emit(
        &self,
        g: &mut Graph,
        state: &mut StateBuilder,
        step: StepScalars,
        params: &[NodeId],
        grads: &[NodeId],
    ) -> Result<(), Error>;
}

/// The shared driver: validates the inputs, creates the learning-rate and iteration params,
/// clips the gradients, lets `rule` emit its updates, and returns all initial state values.
pub(crate) fn build_with_rule(
    rule: &impl UpdateRule,
    optimizer: &str,
    learning_rate: &LearningRate,
    clipping: &GradientClipping,
    g: &mut Graph,
    params: &[NodeId],
    grads: &[NodeId],
) -> Result<Vec<(String, Tensor)>, Error> {
    if params.len() != grads.len() {
        return Err(training_graph_error(
            optimizer,
            format!("{} params but {} gradients", params.len(), grads.len()),
        ));
    }
    match learning_rate {
        LearningRate::Constant(rate) if !rate.is_finite() || *rate < 0.0 => {
            return Err(training_graph_error(
                optimizer,
                format!("learning_rate must be finite and >= 0, got {rate}"),
            ));
        }
        LearningRate::Constant(_) => {}
        LearningRate::Schedule(schedule) => schedule.validate()?,
    }
    rule.validate()?;
    clipping.validate(optimizer)?;
    check_gradients(g, optimizer, params, grads)?;
    let grads = clipping.apply(g, grads)?;
    let mut state = StateBuilder::default();
    let (lr, iterations) = match learning_rate {
        LearningRate::Constant(rate) => {
            let lr = state.global(g, "learning_rate", *rate)?;
            (lr, state.global(g, "iterations", 0.0)?)
        }
        LearningRate::Schedule(schedule) => {
            let iterations = state.global(g, "iterations", 0.0)?;
            (schedule.build(g, iterations)?, iterations)
        }
    };
    let one = g.scalar(1.0);
    let step = g.binary(BinaryOp::Add, iterations, one)?;
    g.add_update(iterations, step)?;
    rule.emit(
        g,
        &mut state,
        StepScalars {
            learning_rate: lr,
            step,
        },
        params,
        &grads,
    )?;
    Ok(state.initial)
}

/// Fails unless every param is a `Param` node and its gradient a node of the same shape.
fn check_gradients(
    g: &Graph,
    optimizer: &str,
    params: &[NodeId],
    grads: &[NodeId],
) -> Result<(), Error> {
    for (&p, &grad) in params.iter().zip(grads) {
        param_name(g, p)?;
        if grad.index() >= g.len() || g.shape(grad) != g.shape(p) {
            let got = if grad.index() < g.len() {
                g.shape(grad).to_string()
            } else {
                "no node".into()
            };
            return Err(training_graph_error(
                optimizer,
                format!(
                    "gradient {grad} of param {p} has shape {got}, the param {}",
                    g.shape(p)
                ),
            ));
        }
    }
    Ok(())
}

/// The name of `param`, which must be a `Param` node.
pub(crate) fn param_name(g: &Graph, param: NodeId) -> Result<String, Error> {
    match (param.index() < g.len()).then(|| g.op(param)) {
        Some(Op::Param { name, .. }) => Ok(name.clone()),
        Some(other) => Err(training_graph_error(
            "optimizer",
            format!("node {param} is a {other:?}, not a param"),
        )),
        None => Err(training_graph_error(
            "optimizer",
            format!("node {param} is not in the graph"),
        )),
    }
}

/// Defines an optimizer struct with Keras-default hyper-parameters, `Default`, `new`, one
/// builder setter per hyper-parameter (plus `learning_rate` and the clipping options), and its
/// [`Optimizer`] impl through [`build_with_rule`]. The file then implements [`UpdateRule`].
macro_rules! optimizer {
    (
        $(#[$meta:meta])*
        $ty:ident, keras_name = $keras:literal, learning_rate = $lr:expr,
        { $( $(#[$field_meta:meta])* $field:ident : $field_ty:ty = $default:expr ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $ty {
            /// The learning rate: the initial value of the `optimizer/learning_rate` param,
            /// or a schedule.
            pub learning_rate: $crate::optimizers::LearningRate,
            $( $(#[$field_meta])* pub $field: $field_ty, )*
            /// Gradient clipping applied before the update.
            pub clipping: $crate::optimizers::GradientClipping,
        }

        impl Default for $ty {
            fn default() -> Self {
                Self {
                    learning_rate: $crate::optimizers::LearningRate::Constant($lr),
                    $( $field: $default, )*
                    clipping: Default::default(),
                }
            }
        }

        impl $ty {
            /// The optimizer with Keras' default hyper-parameters.
            pub fn new() -> Self {
                Self::default()
            }

            /// Sets the learning rate: a number (the initial value of a rate callbacks may
            /// change) or a schedule such as [`ExponentialDecay`](crate::optimizers::ExponentialDecay).
            pub fn learning_rate(mut self, value: impl Into<$crate::optimizers::LearningRate>) -> Self {
                self.learning_rate = value.into();
                self
            }

            $(
                $(#[$field_meta])*
                pub fn $field(mut self, value: $field_ty) -> Self {
                    self.$field = value;
                    self
                }
            )*

            /// Clips every gradient element to `[-value, value]` (Keras `clipvalue`).
            pub fn clipvalue(mut self, value: f32) -> Self {
                self.clipping.clipvalue = Some(value);
                self
            }

            /// Rescales each gradient tensor whose L2 norm exceeds `value` (Keras `clipnorm`).
            pub fn clipnorm(mut self, value: f32) -> Self {
                self.clipping.clipnorm = Some(value);
                self
            }

            /// Rescales all gradients when their joint L2 norm exceeds `value` (Keras `global_clipnorm`).
            pub fn global_clipnorm(mut self, value: f32) -> Self {
                self.clipping.global_clipnorm = Some(value);
                self
            }

            /// The optimizer a Keras optimizer config describes; missing fields take Keras'
            /// defaults, keys Kiln does not use are ignored.
            pub fn from_config(config: &serde_json::Value) -> Result<Self, $crate::error::Error> {
                use $crate::config_json::read_config_field as field;
                let d = Self::default();
                Ok(Self {
                    learning_rate: field(config, $keras, "learning_rate", d.learning_rate.clone())?,
                    $( $field: field(config, $keras, stringify!($field), d.$field)?, )*
                    clipping: $crate::optimizers::GradientClipping {
                        clipvalue: field(config, $keras, "clipvalue", d.clipping.clipvalue)?,
                        clipnorm: field(config, $keras, "clipnorm", d.clipping.clipnorm)?,
                        global_clipnorm: field(config, $keras, "global_clipnorm", d.clipping.global_clipnorm)?,
                    },
                })
            }
        }

        impl $crate::optimizers::Optimizer for $ty {
            fn name(&self) -> &str {
                $keras
            }

            fn build_update(
                &self,
                g: &mut ir::Graph,
                params: &[ir::NodeId],
                grads: &[ir::NodeId],
            ) -> Result<Vec<(String, ir::Tensor)>, $crate::error::Error> {
                $crate::optimizers::build_with_rule(self, $keras, &self.learning_rate, &self.clipping, g, params, grads)
            }

            fn learning_rate_schedule(&self) -> Option<&$crate::optimizers::LearningRateSchedule> {
                self.learning_rate.schedule()
            }

            fn config(&self) -> serde_json::Value {
                use $crate::config_json::ConfigField;
                serde_json::json!({
                    "name": $keras,
                    "learning_rate": self.learning_rate.to_json(),
                    $( stringify!($field): self.$field.to_json(), )*
                    "clipvalue": self.clipping.clipvalue.to_json(),
                    "clipnorm": self.clipping.clipnorm.to_json(),
                    "global_clipnorm": self.clipping.global_clipnorm.to_json(),
                })
            }
        }
    };
}
pub(crate) use optimizer;

/// Checks that a decay-like hyper-parameter lies in `[0, 1]`.
pub(crate) fn check_unit(owner: &str, what: &str, value: f32) -> Result<(), Error> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(training_graph_error(
            owner,
            format!("{what} must lie in [0, 1], got {value}"),
        ))
    }
}

/// Checks that epsilon is finite and non-negative.
pub(crate) fn check_epsilon(owner: &str, value: f32) -> Result<(), Error> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(training_graph_error(
            owner,
            format!("epsilon must be finite and >= 0, got {value}"),
        ))
    }
}

/// `1 - base^t`.
pub(crate) fn one_minus_power(
    g: &mut Graph,
    one: NodeId,
    base: f32,
    t: NodeId,
) -> Result<NodeId, Error> {
    let base = g.scalar(base);
    let power = g.binary(BinaryOp::Pow, base, t)?;
    Ok(g.binary(BinaryOp::Sub, one, power)?)
}

/// `decay·old + keep·new` (an exponential moving average with `keep = 1 - decay`).
pub(crate) fn moving_average(
    g: &mut Graph,
    decay: NodeId,
    keep: NodeId,
    old: NodeId,
    new: NodeId,
) -> Result<NodeId, Error> {
    let kept = g.binary(BinaryOp::Mul, decay, old)?;
    let added = g.binary(BinaryOp::Mul, keep, new)?;
    Ok(g.binary(BinaryOp::Add, kept, added)?)
}

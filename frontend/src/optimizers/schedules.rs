//! Learning-rate schedules (Keras `keras.optimizers.schedules`): `ExponentialDecay`,
//! `PiecewiseConstantDecay`, `CosineDecay` (with Keras 2.21's linear warm-up) and
//! `InverseTimeDecay`, each emitted into the training-step graph as ops of the optimizer's
//! step counter, so the rate changes every step inside the compiled step. [`LearningRate`]
//! is what every optimizer's `learning_rate(...)` takes: a number or a schedule.
//!
//! As in Keras, a schedule is evaluated at `iterations`, the number of steps taken before
//! the current one (0 on the first step). This file owns the formulas and each schedule's
//! Keras config fields. It does not hold any state:
//! the step counter is the optimizer's `optimizer/iterations` param. The class-name table
//! that reads a schedule from an optimizer's `learning_rate` config is here too (not in
//! `keras_config`, a level above the optimizers whose `from_config` needs it).

use ir::{BinaryOp, Graph, NodeId, Op, UnaryOp};
use serde_json::{Value, json};

use crate::config_json::{ConfigField, class_and_config, f32_json, read_config_field};
use crate::error::{Error, training_graph_error};

/// An optimizer's learning rate: a constant (the `optimizer/learning_rate` param, which
/// callbacks may change between steps) or a schedule of the step counter.
#[derive(Debug, Clone, PartialEq)]
pub enum LearningRate {
    /// A fixed rate, the initial value of the `optimizer/learning_rate` param.
    Constant(f32),
    /// A rate computed from the step counter in every step.
    Schedule(LearningRateSchedule),
}

/// One of Keras' learning-rate schedules.
#[derive(Debug, Clone, PartialEq)]
pub enum LearningRateSchedule {
    /// Keras `ExponentialDecay`.
    ExponentialDecay(ExponentialDecay),
    /// Keras `PiecewiseConstantDecay`.
    PiecewiseConstantDecay(PiecewiseConstantDecay),
    /// Keras `CosineDecay`.
    CosineDecay(CosineDecay),
    /// Keras `InverseTimeDecay`.
    InverseTimeDecay(InverseTimeDecay),
}

impl From<f32> for LearningRate {
    fn from(rate: f32) -> Self {
        LearningRate::Constant(rate)
    }
}

impl From<f64> for LearningRate {
    fn from(rate: f64) -> Self {
        LearningRate::Constant(rate as f32)
    }
}

impl From<LearningRateSchedule> for LearningRate {
    fn from(schedule: LearningRateSchedule) -> Self {
        LearningRate::Schedule(schedule)
    }
}

impl PartialEq<f32> for LearningRate {
    fn eq(&self, other: &f32) -> bool {
        *self == LearningRate::Constant(*other)
    }
}

impl LearningRate {
    /// The constant rate; `None` for a schedule.
    pub fn constant(&self) -> Option<f32> {
        match self {
            LearningRate::Constant(rate) => Some(*rate),
            LearningRate::Schedule(_) => None,
        }
    }

    /// The schedule; `None` for a constant rate.
    pub fn schedule(&self) -> Option<&LearningRateSchedule> {
        match self {
            LearningRate::Constant(_) => None,
            LearningRate::Schedule(schedule) => Some(schedule),
        }
    }
}

impl ConfigField for LearningRate {
    fn to_json(&self) -> Value {
        match self {
            LearningRate::Constant(rate) => f32_json(*rate),
            LearningRate::Schedule(schedule) => schedule.to_json(),
        }
    }

    fn from_json(value: &Value) -> Result<Self, String> {
        if value.is_object() {
            LearningRateSchedule::from_json(value)
                .map(LearningRate::Schedule)
                .map_err(|e| e.to_string())
        } else {
            f32::from_json(value).map(LearningRate::Constant)
        }
    }
}

/// Builds a schedule from its Keras config.
type FromConfig = fn(&Value) -> Result<LearningRateSchedule, Error>;

/// Every schedule, by Keras class name.
const SCHEDULES: &[(&str, FromConfig)] = &[
    ("ExponentialDecay", |c| {
        Ok(ExponentialDecay::from_config(c)?.into())
    }),
    ("PiecewiseConstantDecay", |c| {
        Ok(PiecewiseConstantDecay::from_config(c)?.into())
    }),
    ("CosineDecay", |c| Ok(CosineDecay::from_config(c)?.into())),
    ("InverseTimeDecay", |c| {
        Ok(InverseTimeDecay::from_config(c)?.into())
    }),
];

impl LearningRateSchedule {
    /// The schedule as Keras serializes it inside an optimizer's `learning_rate`:
    /// `{"module", "class_name", "config", "registered_name"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "module": "keras.optimizers.schedules",
            "class_name": self.name(),
            "config": self.config(),
            "registered_name": null,
        })
    }

    /// The schedule a `{"class_name", "config"}` object describes; an unknown class is an
    /// [`Error::Config`] listing the known ones.
    pub fn from_json(value: &Value) -> Result<Self, Error> {
        let (class, config) =
            class_and_config(value).map_err(|msg| config_error("?", "class_name", &msg))?;
        let (_, build) = SCHEDULES.iter().find(|row| row.0 == class).ok_or_else(|| {
            let known: Vec<&str> = SCHEDULES.iter().map(|row| row.0).collect();
            config_error(
                class,
                "class_name",
                &format!("unknown schedule (known: {})", known.join(", ")),
            )
        })?;
        build(&Value::Object(config))
    }

    /// Keras' class name, e.g. `"ExponentialDecay"`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ExponentialDecay(_) => "ExponentialDecay",
            Self::PiecewiseConstantDecay(_) => "PiecewiseConstantDecay",
            Self::CosineDecay(_) => "CosineDecay",
            Self::InverseTimeDecay(_) => "InverseTimeDecay",
        }
    }

    /// Keras' config of the schedule (the `config` of its `{"class_name", "config"}`).
    pub fn config(&self) -> Value {
        match self {
            Self::ExponentialDecay(s) => s.config(),
            Self::PiecewiseConstantDecay(s) => s.config(),
            Self::CosineDecay(s) => s.config(),
            Self::InverseTimeDecay(s) => s.config(),
        }
    }

    /// Rejects hyper-parameters the formula cannot use (a zero `decay_steps`, values and
    /// boundaries that do not pair up).
    pub fn validate(&self) -> Result<(), Error> {
        let check = |ok: bool, msg: String| {
            if ok {
                Ok(())
            } else {
                Err(training_graph_error(self.name(), msg))
            }
        };
        match self {
            Self::ExponentialDecay(ExponentialDecay { decay_steps, .. })
            | Self::InverseTimeDecay(InverseTimeDecay { decay_steps, .. })
            | Self::CosineDecay(CosineDecay { decay_steps, .. }) => check(
                decay_steps.is_finite() && *decay_steps > 0.0,
                format!("decay_steps must be finite and > 0, got {decay_steps}"),
            ),
            Self::PiecewiseConstantDecay(s) => check(
                s.values.len() == s.boundaries.len() + 1,
                format!(
                    "needs one more value than boundaries, got {} boundaries and {} values",
                    s.boundaries.len(),
                    s.values.len()
                ),
            ),
        }
    }

    /// Adds the rate at `step` (a scalar node, the steps taken so far) to `g`.
    pub fn build(&self, g: &mut Graph, step: NodeId) -> Result<NodeId, Error> {
        self.validate()?;
        match self {
            Self::ExponentialDecay(s) => s.build(g, step),
            Self::PiecewiseConstantDecay(s) => s.build(g, step),
            Self::CosineDecay(s) => s.build(g, step),
            Self::InverseTimeDecay(s) => s.build(g, step),
        }
    }
}

/// `p = step / decay_steps`, floored when `staircase`.
fn decay_progress(
    g: &mut Graph,
    step: NodeId,
    decay_steps: f32,
    staircase: bool,
) -> Result<NodeId, Error> {
    let steps = g.scalar(decay_steps);
    let p = g.binary(BinaryOp::Div, step, steps)?;
    Ok(if staircase {
        g.unary(UnaryOp::Floor, p)?
    } else {
        p
    })
}

/// Defines `into_schedule` and the `From` conversions of a schedule struct.
macro_rules! schedule_conversions {
    ($($ty:ident),*) => {$(
        impl $ty {
            /// This schedule as a [`LearningRateSchedule`].
            pub fn into_schedule(self) -> LearningRateSchedule {
                LearningRateSchedule::$ty(self)
            }
        }

        impl From<$ty> for LearningRateSchedule {
            fn from(schedule: $ty) -> Self {
                LearningRateSchedule::$ty(schedule)
            }
        }

        impl From<$ty> for LearningRate {
            fn from(schedule: $ty) -> Self {
                LearningRate::Schedule(schedule.into())
            }
        }
    )*};
}

schedule_conversions!(
    ExponentialDecay,
    PiecewiseConstantDecay,
    CosineDecay,
    InverseTimeDecay
);

/// Defines a schedule of `initial_learning_rate`, `decay_steps`, `decay_rate` and
/// `staircase` (Keras' shared fields of `ExponentialDecay` and `InverseTimeDecay`): the
/// struct, `new`, `staircase`, the Keras config and `from_config`. Each type writes its own
/// `build` (the formula).
macro_rules! rate_decay_schedule {
    ($(#[$doc:meta])* $ty:ident, $steps_doc:literal, $rate_doc:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $ty {
            /// The rate at step 0.
            pub initial_learning_rate: f32,
            #[doc = $steps_doc]
            pub decay_steps: f32,
            #[doc = $rate_doc]
            pub decay_rate: f32,
            /// Decay in whole periods of `decay_steps`.
            pub staircase: bool,
        }

        impl $ty {
            /// The schedule without staircase.
            pub fn new(initial_learning_rate: f32, decay_steps: f32, decay_rate: f32) -> Self {
                $ty {
                    initial_learning_rate,
                    decay_steps,
                    decay_rate,
                    staircase: false,
                }
            }

            /// Sets `staircase`.
            pub fn staircase(mut self, staircase: bool) -> Self {
                self.staircase = staircase;
                self
            }

            fn config(&self) -> Value {
                json!({
                    "initial_learning_rate": f32_json(self.initial_learning_rate),
                    "decay_steps": f32_json(self.decay_steps),
                    "decay_rate": f32_json(self.decay_rate),
                    "staircase": self.staircase,
                    "name": null,
                })
            }

            /// The schedule a Keras config describes (`staircase` defaults to false).
            pub fn from_config(config: &Value) -> Result<Self, Error> {
                let class = stringify!($ty);
                Ok($ty {
                    initial_learning_rate: required(config, class, "initial_learning_rate")?,
                    decay_steps: required(config, class, "decay_steps")?,
                    decay_rate: required(config, class, "decay_rate")?,
                    staircase: read_config_field(config, class, "staircase", false)?,
                })
            }
        }
    };
}

rate_decay_schedule!(
    /// Keras `ExponentialDecay`: `initial_learning_rate · decay_rate^(step / decay_steps)`, the
    /// exponent floored when `staircase`.
    ExponentialDecay,
    "Steps per decay by `decay_rate` (> 0).",
    "The factor per `decay_steps` steps."
);

impl ExponentialDecay {
    fn build(&self, g: &mut Graph, step: NodeId) -> Result<NodeId, Error> {
        let p = decay_progress(g, step, self.decay_steps, self.staircase)?;
        let rate = g.scalar(self.decay_rate);
        let factor = g.binary(BinaryOp::Pow, rate, p)?;
        let initial = g.scalar(self.initial_learning_rate);
        Ok(g.binary(BinaryOp::Mul, initial, factor)?)
    }
}

rate_decay_schedule!(
    /// Keras `InverseTimeDecay`: `initial_learning_rate / (1 + decay_rate · step / decay_steps)`,
    /// the ratio floored when `staircase`.
    InverseTimeDecay,
    "Steps per unit of decay (> 0).",
    "How fast the rate falls."
);

impl InverseTimeDecay {
    fn build(&self, g: &mut Graph, step: NodeId) -> Result<NodeId, Error> {
        let p = decay_progress(g, step, self.decay_steps, self.staircase)?;
        let (one, rate) = (g.scalar(1.0), g.scalar(self.decay_rate));
        let scaled = g.binary(BinaryOp::Mul, rate, p)?;
        let denominator = g.binary(BinaryOp::Add, one, scaled)?;
        let initial = g.scalar(self.initial_learning_rate);
        Ok(g.binary(BinaryOp::Div, initial, denominator)?)
    }
}

/// Keras `PiecewiseConstantDecay`: `values[0]` while `step <= boundaries[0]`, `values[i]`
/// while `boundaries[i-1] < step <= boundaries[i]`, the last value after the last boundary.
#[derive(Debug, Clone, PartialEq)]
pub struct PiecewiseConstantDecay {
    /// Increasing step boundaries.
    pub boundaries: Vec<f32>,
    /// One more value than boundaries.
    pub values: Vec<f32>,
}

impl PiecewiseConstantDecay {
    /// The schedule of `values` between `boundaries`.
    pub fn new(boundaries: impl Into<Vec<f32>>, values: impl Into<Vec<f32>>) -> Self {
        PiecewiseConstantDecay {
            boundaries: boundaries.into(),
            values: values.into(),
        }
    }

    fn build(&self, g: &mut Graph, step: NodeId) -> Result<NodeId, Error> {
        let last = *self.values.last().expect("validated: at least one value");
        let mut rate = g.scalar(last);
        for (&boundary, &value) in self.boundaries.iter().zip(&self.values).rev() {
            let (boundary, value) = (g.scalar(boundary), g.scalar(value));
            let before = g.binary(BinaryOp::Le, step, boundary)?;
            rate = g.add(Op::Select, &[before, value, rate])?;
        }
        Ok(rate)
    }

    fn config(&self) -> Value {
        let list = |xs: &[f32]| Value::Array(xs.iter().map(|&x| f32_json(x)).collect());
        json!({
            "boundaries": list(&self.boundaries),
            "values": list(&self.values),
            "name": null,
        })
    }

    /// The schedule a Keras config describes.
    pub fn from_config(config: &Value) -> Result<Self, Error> {
        let list = |key: &str| -> Result<Vec<f32>, Error> {
            let items = config.get(key).and_then(Value::as_array).ok_or_else(|| {
                config_error("PiecewiseConstantDecay", key, "must be a list of numbers")
            })?;
            items
                .iter()
                .map(|x| {
                    f32::from_json(x)
                        .map_err(|msg| config_error("PiecewiseConstantDecay", key, &msg))
                })
                .collect()
        };
        Ok(PiecewiseConstantDecay {
            boundaries: list("boundaries")?,
            values: list("values")?,
        })
    }
}

/// Keras `CosineDecay` (2.21): with `s = min(step, decay_steps)`,
/// `initial_learning_rate · ((1-α)·½(1 + cos(π·s/decay_steps)) + α)`. With a
/// `warmup_target`, the rate first rises linearly from `initial_learning_rate` to
/// `warmup_target` over `warmup_steps`, then decays from `warmup_target` over
/// `decay_steps`.
#[derive(Debug, Clone, PartialEq)]
pub struct CosineDecay {
    /// The rate at step 0.
    pub initial_learning_rate: f32,
    /// Steps of the decay (> 0).
    pub decay_steps: f32,
    /// The final rate as a fraction of the rate decayed from.
    pub alpha: f32,
    /// The rate the warm-up reaches; `None`: no warm-up.
    pub warmup_target: Option<f32>,
    /// Steps of the warm-up.
    pub warmup_steps: f32,
}

impl CosineDecay {
    /// The schedule with `alpha` 0 and no warm-up.
    pub fn new(initial_learning_rate: f32, decay_steps: f32) -> Self {
        CosineDecay {
            initial_learning_rate,
            decay_steps,
            alpha: 0.0,
            warmup_target: None,
            warmup_steps: 0.0,
        }
    }

    /// Sets `alpha`.
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.alpha = alpha;
        self
    }

    /// A linear warm-up to `target` over `steps` before the decay.
    pub fn warmup(mut self, target: f32, steps: f32) -> Self {
        self.warmup_target = Some(target);
        self.warmup_steps = steps;
        self
    }

    fn build(&self, g: &mut Graph, step: NodeId) -> Result<NodeId, Error> {
        let Some(target) = self.warmup_target else {
            let limit = g.scalar(self.decay_steps);
            let s = g.binary(BinaryOp::Min, step, limit)?;
            return self.decay(g, s, self.initial_learning_rate);
        };
        let limit = g.scalar(self.decay_steps + self.warmup_steps);
        let s = g.binary(BinaryOp::Min, step, limit)?;
        let warmup_steps = g.scalar(self.warmup_steps);
        let fraction = g.binary(BinaryOp::Div, s, warmup_steps)?;
        let delta = g.scalar(target - self.initial_learning_rate);
        let rise = g.binary(BinaryOp::Mul, delta, fraction)?;
        let initial = g.scalar(self.initial_learning_rate);
        let warming = g.binary(BinaryOp::Add, rise, initial)?;
        let after = g.binary(BinaryOp::Sub, s, warmup_steps)?;
        let decaying = self.decay(g, after, target)?;
        let in_warmup = g.binary(BinaryOp::Lt, s, warmup_steps)?;
        Ok(g.add(Op::Select, &[in_warmup, warming, decaying])?)
    }

    /// `from · ((1-α)·½(1 + cos(π·s/decay_steps)) + α)`.
    fn decay(&self, g: &mut Graph, s: NodeId, from: f32) -> Result<NodeId, Error> {
        let steps = g.scalar(self.decay_steps);
        let fraction = g.binary(BinaryOp::Div, s, steps)?;
        let cosine = cos_pi(g, fraction)?;
        let (one, half) = (g.scalar(1.0), g.scalar(0.5));
        let shifted = g.binary(BinaryOp::Add, one, cosine)?;
        let cosine_decayed = g.binary(BinaryOp::Mul, half, shifted)?;
        let (keep, alpha) = (g.scalar(1.0 - self.alpha), g.scalar(self.alpha));
        let scaled = g.binary(BinaryOp::Mul, keep, cosine_decayed)?;
        let decayed = g.binary(BinaryOp::Add, scaled, alpha)?;
        let from = g.scalar(from);
        Ok(g.binary(BinaryOp::Mul, from, decayed)?)
    }

    fn config(&self) -> Value {
        json!({
            "initial_learning_rate": f32_json(self.initial_learning_rate),
            "decay_steps": f32_json(self.decay_steps),
            "alpha": f32_json(self.alpha),
            "name": null,
            "warmup_target": self.warmup_target.to_json(),
            "warmup_steps": f32_json(self.warmup_steps),
        })
    }

    /// The schedule a Keras config describes (`alpha` 0, no warm-up by default).
    pub fn from_config(config: &Value) -> Result<Self, Error> {
        let class = "CosineDecay";
        Ok(CosineDecay {
            initial_learning_rate: required(config, class, "initial_learning_rate")?,
            decay_steps: required(config, class, "decay_steps")?,
            alpha: read_config_field(config, class, "alpha", 0.0)?,
            warmup_target: read_config_field(config, class, "warmup_target", None)?,
            warmup_steps: read_config_field(config, class, "warmup_steps", 0.0)?,
        })
    }
}

/// `cos(π·f)` for `f` in `[0, 1]` (accurate to f32 rounding there; the IR has no cosine):
/// with `y = π(f - ½)` in `[-π/2, π/2]`, `cos(πf) = -sin(y)`, and `sin(y)` is its Taylor
/// polynomial through `y¹⁵` (truncation error below 1e-11 on that interval), in Horner form.
fn cos_pi(g: &mut Graph, f: NodeId) -> Result<NodeId, Error> {
    let half = g.scalar(0.5);
    let centred = g.binary(BinaryOp::Sub, f, half)?;
    let pi = g.scalar(std::f32::consts::PI);
    let y = g.binary(BinaryOp::Mul, pi, centred)?;
    let y2 = g.unary(UnaryOp::Square, y)?;
    // sin(y) = y·Σ (-1)^k y^(2k) / (2k+1)!, k = 0..7.
    let mut factorial = 1.0f64;
    let coefficients: Vec<f32> = (0..8)
        .map(|k: i32| {
            if k > 0 {
                factorial *= f64::from((2 * k) * (2 * k + 1));
            }
            (if k % 2 == 0 { 1.0 } else { -1.0 } / factorial) as f32
        })
        .collect();
    let mut poly = g.scalar(coefficients[7]);
    for &c in coefficients[..7].iter().rev() {
        let product = g.binary(BinaryOp::Mul, poly, y2)?;
        let c = g.scalar(c);
        poly = g.binary(BinaryOp::Add, product, c)?;
    }
    let sine = g.binary(BinaryOp::Mul, y, poly)?;
    Ok(g.unary(UnaryOp::Neg, sine)?)
}

/// A config error about `field` of the schedule `class`.
fn config_error(class: &str, field: &str, msg: &str) -> Error {
    Error::Config {
        owner: "learning-rate schedule".into(),
        class: class.into(),
        field: field.into(),
        msg: msg.into(),
    }
}

/// The number `key` of a schedule config, which Keras always writes.
fn required(config: &Value, class: &str, key: &str) -> Result<f32, Error> {
    match config.get(key) {
        None | Some(Value::Null) => Err(config_error(class, key, "is missing")),
        Some(_) => read_config_field(config, class, key, 0.0),
    }
}

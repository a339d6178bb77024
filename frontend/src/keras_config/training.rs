//! The compile configuration in Keras' `training_config` form: `optimizer_config`
//! (`{"class_name": "Adam", "config": {...}}`), `loss` and `metrics`, written from a compiled
//! model and read back into the optimizer, loss and metrics to recompile with.
//!
//! Three tables map Keras names to constructors; an unknown name is an [`Error::Config`].
//! Reading accepts Keras 2's forms too: `Custom>SGD` optimizer classes, a loss given as a
//! name (or Keras' short `mse` / `mae`), and metrics nested in lists or wrapped in `MeanMetricWrapper` objects.

use ir::{Graph, NodeId, Tensor};
use serde_json::{Value, json};

use crate::config_json::{class_and_config, read_config_field};
use crate::error::{Error, Result};
use crate::losses::{self, Loss};
use crate::metrics::{self, Metric};
use crate::optimizers::{self, LearningRateSchedule, Optimizer};

/// Builds a component from its inner config object.
type FromConfig<T> = fn(&Value) -> Result<T>;

/// A loss or metric table row: Keras function name, Keras class name, constructor.
type NamedRow<T> = (&'static str, &'static str, FromConfig<T>);

/// Every optimizer, by Keras class name.
const OPTIMIZERS: &[(&str, FromConfig<Box<dyn Optimizer>>)] = &[
    ("SGD", |c| Ok(Box::new(optimizers::SGD::from_config(c)?))),
    ("Adam", |c| Ok(Box::new(optimizers::Adam::from_config(c)?))),
    ("Adamax", |c| {
        Ok(Box::new(optimizers::Adamax::from_config(c)?))
    }),
    ("Nadam", |c| {
        Ok(Box::new(optimizers::Nadam::from_config(c)?))
    }),
    ("RMSprop", |c| {
        Ok(Box::new(optimizers::RMSProp::from_config(c)?))
    }),
    ("Adagrad", |c| {
        Ok(Box::new(optimizers::AdaGrad::from_config(c)?))
    }),
    ("Adadelta", |c| {
        Ok(Box::new(optimizers::AdaDelta::from_config(c)?))
    }),
    ("AdamW", |c| {
        Ok(Box::new(optimizers::AdamW::from_config(c)?))
    }),
    ("Ftrl", |c| Ok(Box::new(optimizers::Ftrl::from_config(c)?))),
];

/// Every loss: Keras function name (what `Loss::name` returns), class name, constructor.
const LOSSES: &[NamedRow<Box<dyn Loss>>] = &[
    (
        "softmax_cross_entropy_with_logits",
        "SoftmaxCrossEntropyWithLogits",
        |_| Ok(Box::new(losses::SoftmaxCrossEntropyWithLogits)),
    ),
    ("categorical_crossentropy", "CategoricalCrossentropy", |c| {
        let class = "CategoricalCrossentropy";
        Ok(Box::new(losses::CategoricalCrossentropy {
            from_logits: read_config_field(c, class, "from_logits", false)?,
            label_smoothing: read_config_field(c, class, "label_smoothing", 0.0)?,
        }))
    }),
    ("binary_crossentropy", "BinaryCrossentropy", |c| {
        let class = "BinaryCrossentropy";
        Ok(Box::new(losses::BinaryCrossentropy {
            from_logits: read_config_field(c, class, "from_logits", false)?,
            label_smoothing: read_config_field(c, class, "label_smoothing", 0.0)?,
        }))
    }),
    (
        "sparse_categorical_crossentropy",
        "SparseCategoricalCrossentropy",
        |c| {
            Ok(Box::new(losses::SparseCategoricalCrossentropy {
                from_logits: read_config_field(
                    c,
                    "SparseCategoricalCrossentropy",
                    "from_logits",
                    false,
                )?,
            }))
        },
    ),
    ("mean_squared_error", "MeanSquaredError", |_| {
        Ok(Box::new(losses::MeanSquaredError))
    }),
    ("mean_absolute_error", "MeanAbsoluteError", |_| {
        Ok(Box::new(losses::MeanAbsoluteError))
    }),
    ("huber_loss", "Huber", |c| {
        Ok(Box::new(losses::Huber {
            delta: read_config_field(c, "Huber", "delta", 1.0)?,
        }))
    }),
    (
        "mean_squared_logarithmic_error",
        "MeanSquaredLogarithmicError",
        |_| Ok(Box::new(losses::MeanSquaredLogarithmicError)),
    ),
    (
        "mean_absolute_percentage_error",
        "MeanAbsolutePercentageError",
        |_| Ok(Box::new(losses::MeanAbsolutePercentageError)),
    ),
    ("hinge", "Hinge", |_| Ok(Box::new(losses::Hinge))),
    ("squared_hinge", "SquaredHinge", |_| {
        Ok(Box::new(losses::SquaredHinge))
    }),
    ("kl_divergence", "KLDivergence", |_| {
        Ok(Box::new(losses::KLDivergence))
    }),
    ("poisson", "Poisson", |_| Ok(Box::new(losses::Poisson))),
    ("log_cosh", "LogCosh", |_| Ok(Box::new(losses::LogCosh))),
    ("cosine_similarity", "CosineSimilarity", |c| {
        let axis: f32 = read_config_field(c, "CosineSimilarity", "axis", -1.0)?;
        if axis != -1.0 {
            return Err(config_error(
                "loss",
                "CosineSimilarity",
                "axis",
                format!("only axis -1 is supported, got {axis}"),
            ));
        }
        Ok(Box::new(losses::CosineSimilarity))
    }),
];

/// Short loss names Keras accepts in `compile(loss=...)` and stores as given (Keras 3 keeps
/// `"mse"` in its `training_config`), with the function name each stands for.
const LOSS_ALIASES: &[(&str, &str)] = &[
    ("mse", "mean_squared_error"),
    ("mae", "mean_absolute_error"),
    ("msle", "mean_squared_logarithmic_error"),
    ("mape", "mean_absolute_percentage_error"),
    ("kld", "kl_divergence"),
    ("kullback_leibler_divergence", "kl_divergence"),
    ("logcosh", "log_cosh"),
    ("huber", "huber_loss"),
];

/// Every metric: Keras name (what `Metric::name` returns), class name, constructor.
const METRICS: &[NamedRow<Box<dyn Metric>>] = &[
    ("accuracy", "Accuracy", |_| Ok(Box::new(metrics::Accuracy))),
    ("categorical_accuracy", "CategoricalAccuracy", |_| {
        Ok(Box::new(metrics::CategoricalAccuracy))
    }),
    (
        "sparse_categorical_accuracy",
        "SparseCategoricalAccuracy",
        |_| Ok(Box::new(metrics::SparseCategoricalAccuracy)),
    ),
    ("binary_accuracy", "BinaryAccuracy", |c| {
        Ok(Box::new(metrics::BinaryAccuracy {
            threshold: read_config_field(c, "BinaryAccuracy", "threshold", 0.5)?,
        }))
    }),
    ("mae", "MeanAbsoluteError", |_| {
        Ok(Box::new(metrics::MeanAbsoluteError))
    }),
    ("mse", "MeanSquaredError", |_| {
        Ok(Box::new(metrics::MeanSquaredError))
    }),
    ("msle", "MeanSquaredLogarithmicError", |_| {
        Ok(Box::new(metrics::MeanSquaredLogarithmicError))
    }),
    ("mape", "MeanAbsolutePercentageError", |_| {
        Ok(Box::new(metrics::MeanAbsolutePercentageError))
    }),
    (
        "top_k_categorical_accuracy",
        "TopKCategoricalAccuracy",
        |c| {
            let k: f32 = read_config_field(c, "TopKCategoricalAccuracy", "k", 5.0)?;
            Ok(Box::new(metrics::TopKCategoricalAccuracy {
                k: whole_number("TopKCategoricalAccuracy", "k", k)?,
            }))
        },
    ),
    ("precision", "Precision", |c| {
        Ok(Box::new(metrics::Precision {
            threshold: single_threshold("Precision", c)?,
        }))
    }),
    ("recall", "Recall", |c| {
        Ok(Box::new(metrics::Recall {
            threshold: single_threshold("Recall", c)?,
        }))
    }),
    ("auc", "AUC", auc_from_config),
];

/// Keras metric function names that stand for a table name (`"AUC"` as a string, the
/// long names `MeanMetricWrapper` configs carry in `fn`).
const METRIC_ALIASES: &[(&str, &str)] = &[
    ("mean_squared_logarithmic_error", "msle"),
    ("mean_absolute_percentage_error", "mape"),
    ("mean_squared_error", "mse"),
    ("mean_absolute_error", "mae"),
    ("top_k_accuracy", "top_k_categorical_accuracy"),
];

/// `value` as a whole number >= 1 (Keras writes counts such as `k` as integers).
fn whole_number(class: &str, field: &str, value: f32) -> Result<usize> {
    if value >= 1.0 && value.fract() == 0.0 {
        Ok(value as usize)
    } else {
        Err(config_error(
            "metric",
            class,
            field,
            format!("must be a whole number >= 1, got {value}"),
        ))
    }
}

/// Precision's or Recall's `thresholds` (null: 0.5, a number, or a list of one); `top_k`
/// and `class_id` must be null (Kiln offers neither).
fn single_threshold(class: &str, config: &Value) -> Result<f32> {
    for unsupported in ["top_k", "class_id"] {
        if config.get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(config_error(
                "metric",
                class,
                unsupported,
                "is not supported (only null)",
            ));
        }
    }
    let thresholds = match config.get("thresholds") {
        Some(Value::Array(items)) if items.len() == 1 => json!({"t": items[0]}),
        Some(Value::Array(items)) => {
            return Err(config_error(
                "metric",
                class,
                "thresholds",
                format!("only one threshold is supported, got {}", items.len()),
            ));
        }
        Some(value) => json!({ "t": value }),
        None => json!({}),
    };
    read_config_field(&thresholds, class, "t", 0.5)
}

/// An `AUC` config: `num_thresholds` (200 by default); the curve must be ROC, the summation
/// "interpolation", and neither `multi_label` nor `from_logits` set.
fn auc_from_config(config: &Value) -> Result<Box<dyn Metric>> {
    let fixed = [
        ("curve", json!("ROC")),
        ("summation_method", json!("interpolation")),
        ("multi_label", json!(false)),
        ("from_logits", json!(false)),
    ];
    for (field, supported) in fixed {
        match config.get(field) {
            Some(value) if !value.is_null() && *value != supported => {
                return Err(config_error(
                    "metric",
                    "AUC",
                    field,
                    format!("only {supported} is supported, got {value}"),
                ));
            }
            _ => {}
        }
    }
    let n: f32 = read_config_field(config, "AUC", "num_thresholds", 200.0)?;
    Ok(Box::new(metrics::AUC {
        num_thresholds: whole_number("AUC", "num_thresholds", n)?,
    }))
}

/// What a model was compiled with, rebuilt from a `training_config`.
#[derive(Debug)]
pub struct TrainingConfig {
    /// The optimizer, with its initial hyper-parameters.
    pub optimizer: Box<dyn Optimizer>,
    /// The loss.
    pub loss: Box<dyn Loss>,
    /// The metrics, in order.
    pub metrics: Vec<Box<dyn Metric>>,
}

/// An error about `field` of the training config's `owner` (`optimizer`, `loss`, `metric`).
fn config_error(owner: &str, class: &str, field: &str, msg: impl Into<String>) -> Error {
    Error::Config {
        owner: owner.into(),
        class: class.into(),
        field: field.into(),
        msg: msg.into(),
    }
}

/// `{"class_name": class, "config": {"name": name, ...config}}`.
fn component_json(class: &str, name: &str, config: Value) -> Value {
    let mut inner = serde_json::Map::new();
    inner.insert("name".into(), json!(name));
    if let Value::Object(fields) = config {
        inner.extend(fields);
    }
    json!({"class_name": class, "config": inner})
}

/// The class name `name` has in a `(name, class, constructor)` table.
fn class_of<T>(table: &[NamedRow<T>], name: &str) -> Option<&'static str> {
    table.iter().find(|row| row.0 == name).map(|row| row.1)
}

/// The `training_config` of a model compiled with these components. A loss or metric that
/// no table knows is an error: it could not be rebuilt on load.
pub fn training_config_json(
    optimizer: &dyn Optimizer,
    loss: &dyn Loss,
    metrics: &[impl AsRef<dyn Metric>],
) -> Result<Value> {
    let metrics = metrics
        .iter()
        .map(|m| metric_json(m.as_ref()))
        .collect::<Result<Vec<Value>>>()?;
    Ok(json!({
        "loss": loss_json(loss)?,
        "metrics": metrics,
        "weighted_metrics": null,
        "loss_weights": null,
        "optimizer_config": optimizer_json(optimizer),
    }))
}

/// The `optimizer_config` entry of `optimizer`.
pub(crate) fn optimizer_json(optimizer: &dyn Optimizer) -> Value {
    json!({"class_name": optimizer.name(), "config": optimizer.config()})
}

/// `loss` as a `{"class_name", "config"}` object; an error if the loss table lacks it.
pub(crate) fn loss_json(loss: &dyn Loss) -> Result<Value> {
    let class = class_of(LOSSES, loss.name()).ok_or_else(|| {
        config_error(
            "loss",
            loss.name(),
            "class_name",
            "this loss cannot be saved: it has no entry in the loss table",
        )
    })?;
    Ok(component_json(class, loss.name(), loss.config()))
}

/// `metric` as a `{"class_name", "config"}` object; an error if the metric table lacks it.
pub(crate) fn metric_json(metric: &dyn Metric) -> Result<Value> {
    let class = class_of(METRICS, metric.name()).ok_or_else(|| {
        config_error(
            "metric",
            metric.name(),
            "class_name",
            "this metric cannot be saved: it has no entry in the metric table",
        )
    })?;
    Ok(component_json(class, metric.name(), metric.config()))
}

/// Splits a component given as a name or a `{"class_name", "config"}` object.
fn name_or_object(owner: &str, value: &Value) -> Result<(String, Value)> {
    match value {
        Value::String(name) => Ok((name.clone(), json!({}))),
        other => {
            let (class, config) = class_and_config(other)
                .map_err(|msg| config_error(owner, "?", "class_name", msg))?;
            Ok((class.to_string(), Value::Object(config)))
        }
    }
}

/// Finds a loss or metric by function name, class name, or (for wrappers such as
/// `MeanMetricWrapper`) the `fn`/`name` inside the config.
fn find_component<T>(owner: &str, table: &[NamedRow<T>], value: &Value) -> Result<T> {
    let (class, config) = name_or_object(owner, value)?;
    let candidates = [
        Some(class.as_str()),
        config.get("name").and_then(Value::as_str),
        config.get("fn").and_then(Value::as_str),
    ];
    let row = candidates
        .into_iter()
        .flatten()
        .find_map(|key| table.iter().find(|row| row.0 == key || row.1 == key))
        .ok_or_else(|| {
            let known: Vec<&str> = table.iter().map(|row| row.0).collect();
            config_error(
                owner,
                &class,
                "class_name",
                format!("unknown {owner} (known: {})", known.join(", ")),
            )
        })?;
    (row.2)(&config)
}

/// A metric given by name (Keras' long names too) or as an object.
fn find_metric(value: &Value) -> Result<Box<dyn Metric>> {
    let alias = |name: &str| {
        METRIC_ALIASES
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
            .map(|(_, name)| Value::from(*name))
    };
    if let Some(name) = value.as_str() {
        return find_component("metric", METRICS, &alias(name).unwrap_or(json!(name)));
    }
    // A `MeanMetricWrapper` names its function in `fn` (`mean_squared_logarithmic_error`).
    if let Some(name) = value
        .pointer("/config/fn")
        .and_then(Value::as_str)
        .and_then(alias)
    {
        return find_component("metric", METRICS, &name);
    }
    find_component("metric", METRICS, value)
}

/// Keras 2.11+ optimizers all take `weight_decay` and `use_ema`; Kiln's follow the legacy
/// formulas, so a config that turns either on (other than AdamW's `weight_decay`) is an
/// error rather than a silently different optimizer.
fn check_base_optimizer_options(class: &str, config: &Value) -> Result<()> {
    let decays = config
        .get("weight_decay")
        .and_then(Value::as_f64)
        .is_some_and(|w| w != 0.0);
    if decays && !class.eq_ignore_ascii_case("AdamW") {
        return Err(config_error(
            "optimizer",
            class,
            "weight_decay",
            "is only supported by AdamW (use AdamW, or weight_decay null)",
        ));
    }
    if config.get("use_ema").and_then(Value::as_bool) == Some(true) {
        return Err(config_error(
            "optimizer",
            class,
            "use_ema",
            "is not supported (only false)",
        ));
    }
    Ok(())
}

/// Rebuilds the optimizer, loss and metrics from a `training_config` object.
pub fn training_config_from_json(config: &Value) -> Result<TrainingConfig> {
    Ok(TrainingConfig {
        optimizer: optimizer_from_json(config)?,
        loss: loss_from_json(config.get("loss").unwrap_or(&Value::Null))?,
        metrics: metrics_from_json(config.get("metrics").unwrap_or(&Value::Null))?,
    })
}

/// The optimizer of a `training_config` object (its `optimizer_config`).
pub(crate) fn optimizer_from_json(config: &Value) -> Result<Box<dyn Optimizer>> {
    let optimizer_entry = config
        .get("optimizer_config")
        .ok_or_else(|| config_error("optimizer", "?", "optimizer_config", "is missing"))?;
    let (class, optimizer_config) = name_or_object("optimizer", optimizer_entry)?;
    let class = class.strip_prefix("Custom>").unwrap_or(&class);
    let (_, build) = OPTIMIZERS
        .iter()
        .find(|row| row.0.eq_ignore_ascii_case(class))
        .ok_or_else(|| {
            let known: Vec<&str> = OPTIMIZERS.iter().map(|row| row.0).collect();
            config_error(
                "optimizer",
                class,
                "class_name",
                format!("unknown optimizer (known: {})", known.join(", ")),
            )
        })?;
    check_base_optimizer_options(class, &optimizer_config)?;
    build(&optimizer_config)
}

/// One loss, given by name (Keras' short names too) or as a `{"class_name", "config"}`
/// object.
pub(crate) fn loss_from_json(entry: &Value) -> Result<Box<dyn Loss>> {
    let entry = match entry.as_str().and_then(|name| {
        LOSS_ALIASES
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
    }) {
        Some((_, name)) => &Value::from(*name),
        None => entry,
    };
    find_component("loss", LOSSES, entry)
}

/// The metrics of a `metrics` entry (null or a list), in order; lists nested
/// in the list (Keras 2's metrics of each output) are flattened.
pub(crate) fn metrics_from_json(entry: &Value) -> Result<Vec<Box<dyn Metric>>> {
    let mut metrics = Vec::new();
    let mut pending: Vec<&Value> = match entry {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().rev().collect(),
        other => {
            return Err(config_error(
                "metric",
                "?",
                "metrics",
                format!("must be a list, got {other}"),
            ));
        }
    };
    while let Some(item) = pending.pop() {
        match item {
            Value::Array(inner) => pending.extend(inner.iter().rev()),
            single => metrics.push(find_metric(single)?),
        }
    }
    Ok(metrics)
}

/// Lets a rebuilt `Box<dyn Optimizer>` be passed to `compile`.
impl Optimizer for Box<dyn Optimizer> {
    fn name(&self) -> &str {
        self.as_ref().name()
    }
    fn build_update(
        &self,
        g: &mut Graph,
        params: &[NodeId],
        grads: &[NodeId],
    ) -> Result<Vec<(String, Tensor)>> {
        self.as_ref().build_update(g, params, grads)
    }
    fn config(&self) -> Value {
        self.as_ref().config()
    }
    fn learning_rate_schedule(&self) -> Option<&LearningRateSchedule> {
        self.as_ref().learning_rate_schedule()
    }
}

/// Lets a rebuilt `Box<dyn Loss>` be passed to `compile`.
impl Loss for Box<dyn Loss> {
    fn name(&self) -> &str {
        self.as_ref().name()
    }
    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId> {
        self.as_ref().build(g, predictions, labels)
    }
    fn config(&self) -> Value {
        self.as_ref().config()
    }
}

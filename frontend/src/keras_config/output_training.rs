//! A compiled model's whole `training_config` — for a model with several outputs, the loss,
//! loss weight and metrics of each — written from the model and compiled back into it, in
//! the form tf-keras 2 writes (`model.save("m.h5")` after `compile(loss={...},
//! loss_weights={...}, metrics={...})`):
//!
//! ```json
//! {"loss": {"class": {"class_name": ..., "config": ...}, "score": ...},
//!  "loss_weights": {"class": 1.0, "score": 0.5},
//!  "metrics": [[<metrics of output 0>], [<metrics of output 1>]],
//!  "weighted_metrics": null, "optimizer_config": {...}}
//! ```
//!
//! A model with one output of weight 1 keeps the one-loss form of
//! [`training_config_json`]. Reading also takes a `loss` list in output order, a
//! `loss_weights` list, `metrics` by output name, and one loss or a flat metric list for
//! every output. `weighted_metrics` is not read (Kiln does not weight examples).
//!
//! This file does not know the component tables (see [`super::training`]) nor save files.

use serde_json::{Map, Value, json};

use super::training::{
    loss_from_json, loss_json, metric_json, metrics_from_json, optimizer_from_json, optimizer_json,
    training_config_json,
};
use crate::error::{Error, Result};
use crate::model::{Model, OutputLosses};

/// The `training_config` of `model`: `None` when it is not compiled; an error when a loss
/// or metric cannot be written (see [`training_config_json`]).
pub fn model_training_config(model: &Model) -> Result<Option<Value>> {
    let Some((optimizer, outputs)) = model.compiled_outputs() else {
        return Ok(None);
    };
    if let [one] = outputs.as_slice()
        && one.weight == 1.0
    {
        return training_config_json(optimizer, one.loss, one.metrics).map(Some);
    }
    let mut losses = Map::new();
    let mut weights = Map::new();
    let mut metrics = Vec::with_capacity(outputs.len());
    for output in &outputs {
        losses.insert(output.name.to_string(), loss_json(output.loss)?);
        weights.insert(output.name.to_string(), json!(output.weight));
        let each = output.metrics.iter().map(|m| metric_json(m.as_ref()));
        metrics.push(Value::Array(each.collect::<Result<_>>()?));
    }
    Ok(Some(json!({
        "loss": losses,
        "metrics": metrics,
        "weighted_metrics": null,
        "loss_weights": weights,
        "optimizer_config": optimizer_json(optimizer),
    })))
}

/// Compiles `model` (on the CPU) as the `training_config` `config` says; an error names
/// the part Kiln cannot rebuild or that does not fit the model's outputs.
pub fn compile_from_training_config(model: &mut Model, config: &Value) -> Result<()> {
    let optimizer = optimizer_from_json(config)?;
    let outputs: Vec<String> = model.output_names().iter().map(|s| s.to_string()).collect();
    let mut losses = output_losses(config.get("loss").unwrap_or(&Value::Null))?;
    losses = with_loss_weights(losses, config.get("loss_weights"))?;
    losses = with_metrics(losses, config.get("metrics"), &outputs)?;
    model.compile_outputs(optimizer, losses)
}

/// An error about the `training_config` entry `field`.
fn entry_error(field: &str, msg: String) -> Error {
    Error::Config {
        owner: "training_config".into(),
        class: "?".into(),
        field: field.into(),
        msg,
    }
}

/// The losses of a `loss` entry: a list in output order, a map by output name, or one
/// loss (a name or a `{"class_name", "config"}` object) for every output.
fn output_losses(entry: &Value) -> Result<OutputLosses> {
    match entry {
        Value::Array(items) => {
            let losses = items
                .iter()
                .map(loss_from_json)
                .collect::<Result<Vec<_>>>()?;
            Ok(OutputLosses::list(losses))
        }
        Value::Object(map) if !map.contains_key("class_name") => {
            let losses = map
                .iter()
                .map(|(name, loss)| Ok((name.clone(), loss_from_json(loss)?)))
                .collect::<Result<Vec<_>>>()?;
            Ok(OutputLosses::by_name(losses))
        }
        one => Ok(OutputLosses::same(loss_from_json(one)?)),
    }
}

/// `losses` with the `loss_weights` entry (null, a list in output order, or a map by
/// output name).
fn with_loss_weights(losses: OutputLosses, entry: Option<&Value>) -> Result<OutputLosses> {
    let number = |v: &Value| {
        v.as_f64()
            .map(|w| w as f32)
            .ok_or_else(|| entry_error("loss_weights", format!("{v} is not a number")))
    };
    match entry {
        None | Some(Value::Null) => Ok(losses),
        Some(Value::Array(items)) => {
            let weights = items.iter().map(number).collect::<Result<Vec<_>>>()?;
            Ok(losses.loss_weights(weights))
        }
        Some(Value::Object(map)) => {
            let weights = map
                .iter()
                .map(|(name, w)| Ok((name.clone(), number(w)?)))
                .collect::<Result<Vec<_>>>()?;
            Ok(losses.loss_weights_by_name(weights))
        }
        Some(other) => Err(entry_error(
            "loss_weights",
            format!("must be a list or a map by output name, got {other}"),
        )),
    }
}

/// `losses` with the `metrics` entry: a map by output name, a list of one list per output
/// (for a model with several outputs), or a list for every output.
fn with_metrics(
    losses: OutputLosses,
    entry: Option<&Value>,
    outputs: &[String],
) -> Result<OutputLosses> {
    let per_output = |value: &Value| match value {
        Value::Array(_) => metrics_from_json(value),
        single => metrics_from_json(&json!([single])),
    };
    match entry {
        Some(Value::Object(map)) => map.iter().try_fold(losses, |losses, (name, metrics)| {
            Ok(losses.output_metrics(name, per_output(metrics)?))
        }),
        Some(Value::Array(items))
            if outputs.len() > 1
                && items.len() == outputs.len()
                && items.iter().all(Value::is_array) =>
        {
            outputs
                .iter()
                .zip(items)
                .try_fold(losses, |losses, (name, metrics)| {
                    Ok(losses.output_metrics(name, per_output(metrics)?))
                })
        }
        other => Ok(losses.metrics_for_all(metrics_from_json(other.unwrap_or(&Value::Null))?)),
    }
}

//! A [`Sequential`] model as Keras' model config JSON and back:
//! `{"class_name": "Sequential", "config": {"name": ..., "layers": [{"class_name": ...,
//! "config": {...}}, ...]}}`. Kiln adds `"seed"` (ignored by Keras) so a reloaded model
//! shuffles and initialises as the saved one did.

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::layers::{Layer, layer_from_config, layer_from_json, layer_to_json};
use crate::model::{DEFAULT_SEED, Sequential};

/// An error about the model config as a whole.
fn model_config_error(field: &str, msg: impl Into<String>) -> Error {
    Error::Config {
        owner: "model".into(),
        class: "Sequential".into(),
        field: field.into(),
        msg: msg.into(),
    }
}

impl Sequential {
    /// The model's Keras config, every layer (the `InputLayer` first) by its class and config.
    pub fn to_config(&self) -> Value {
        let layers: Vec<Value> = self
            .layers
            .iter()
            .map(|l| layer_to_json(l.as_ref()))
            .collect();
        json!({
            "class_name": "Sequential",
            "config": {"name": self.name, "layers": layers, "seed": self.seed},
        })
    }

    /// A model from a Keras `Sequential` config (layers rebuilt through the layer registry).
    /// As in Keras 2, the input may be given as `batch_input_shape` on the first layer instead
    /// of an `InputLayer`. Errors name the layer, its class and the field at fault.
    pub fn from_config(config: &Value) -> Result<Sequential> {
        let class = config
            .get("class_name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if class != "Sequential" {
            return Err(model_config_error(
                "class_name",
                format!(
                    "only Sequential models are supported, got {:?}",
                    config.get("class_name").unwrap_or(&Value::Null)
                ),
            ));
        }
        let inner = config
            .get("config")
            .ok_or_else(|| model_config_error("config", "is missing"))?;
        let name = match inner.get("name") {
            None | Some(Value::Null) => "sequential".to_string(),
            Some(Value::String(name)) => name.clone(),
            Some(other) => {
                return Err(model_config_error(
                    "name",
                    format!("must be a string, got {other}"),
                ));
            }
        };
        let seed = match inner.get("seed") {
            None | Some(Value::Null) => DEFAULT_SEED,
            Some(value) => value.as_u64().ok_or_else(|| {
                model_config_error(
                    "seed",
                    format!("must be a non-negative integer, got {value}"),
                )
            })?,
        };
        let entries = inner
            .get("layers")
            .and_then(Value::as_array)
            .ok_or_else(|| model_config_error("layers", "must be a list of layer entries"))?;
        let mut layers: Vec<Box<dyn Layer>> = Vec::with_capacity(entries.len() + 1);
        if let Some(first) = entries.first()
            && first.get("class_name").and_then(Value::as_str) != Some("InputLayer")
            && let Some(shape) = first.pointer("/config/batch_input_shape")
        {
            layers.push(layer_from_config(
                "InputLayer",
                &json!({"name": "input_1", "batch_input_shape": shape}),
            )?);
        }
        for entry in entries {
            layers.push(layer_from_json(entry)?);
        }
        Ok(Sequential::of(layers).named(name).with_seed(seed))
    }
}

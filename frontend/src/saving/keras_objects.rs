//! Keras 2's JSON forms of the small objects inside layer configs: activations (a name, or a
//! `LeakyReLU` object for a non-default slope), initializers and regularizers
//! (`{"class_name": ..., "config": {...}}`), and exact f32 numbers.
//!
//! Readers return `Err(message)`; the caller ([`crate::layers::ConfigReader`]) adds the layer,
//! class and field. Extra keys Keras writes (`module`, `registered_name`, initializer `seed`)
//! are accepted and ignored: Kiln seeds every initializer from the model's seed.

use serde_json::{Map, Value, json};

use crate::activations::Activation;
use crate::initializers::{Distribution, FanMode, Initializer};
use crate::regularizers::Regularizer;

/// `x` as a JSON number printed in its shortest f32 form (`0.001`, not `0.0010000000474974513`);
/// reading it back with [`read_f32`] gives the same f32 bit for bit. Non-finite values have no
/// JSON form and become `null`.
pub fn f32_json(x: f32) -> Value {
    format!("{x}")
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// A JSON number as the nearest f32.
pub fn read_f32(value: &Value) -> Result<f32, String> {
    value
        .as_f64()
        .map(|x| x as f32)
        .ok_or_else(|| format!("expected a number, got {value}"))
}

/// Splits a `{"class_name": ..., "config": {...}}` object; a missing `config` reads as `{}`.
pub fn class_and_config(value: &Value) -> Result<(&str, Map<String, Value>), String> {
    let class = value
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            format!("expected a name or a {{\"class_name\", \"config\"}} object, got {value}")
        })?;
    let config = match value.get("config") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(other) => {
            return Err(format!(
                "`config` of {class} must be an object, got {other}"
            ));
        }
    };
    Ok((class, config))
}

/// Field `key` of an object config as an f32, `default` when absent or null.
fn f32_field(config: &Map<String, Value>, key: &str, default: f32) -> Result<f32, String> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => read_f32(v).map_err(|e| format!("`{key}`: {e}")),
    }
}

/// The Keras form of an activation: its name, or `{"class_name": "LeakyReLU", ...}` when the
/// slope differs from the one the name `leaky_relu` implies.
pub fn activation_json(activation: Activation) -> Value {
    match activation {
        Activation::LeakyRelu { alpha } if alpha != Activation::LEAKY_RELU_DEFAULT_ALPHA => json!({
            "class_name": "LeakyReLU",
            "config": {"alpha": f32_json(alpha)},
        }),
        other => Value::String(other.keras_name().to_string()),
    }
}

/// Reads an activation name or a `LeakyReLU` object (Keras' layer default slope 0.3).
pub fn read_activation(value: &Value) -> Result<Activation, String> {
    if let Some(name) = value.as_str() {
        return name.parse().map_err(|e: crate::Error| e.to_string());
    }
    let (class, config) = class_and_config(value)?;
    match class {
        "LeakyReLU" => Ok(Activation::LeakyRelu {
            alpha: f32_field(&config, "alpha", Activation::LEAKY_RELU_LAYER_ALPHA)?,
        }),
        other => Err(format!(
            "unknown activation class `{other}` (known: LeakyReLU, or a name)"
        )),
    }
}

/// The Keras class name of each parameter-free initializer kind.
const SEEDED_CLASSES: &[(&str, Initializer)] = &[
    ("Zeros", Initializer::Zeros),
    ("Ones", Initializer::Ones),
    ("GlorotNormal", Initializer::GlorotNormal),
    ("GlorotUniform", Initializer::GlorotUniform),
    ("HeNormal", Initializer::HeNormal),
    ("HeUniform", Initializer::HeUniform),
    ("LecunNormal", Initializer::LecunNormal),
    ("LecunUniform", Initializer::LecunUniform),
];

/// Keras' spelling of the fan modes and distributions.
const FAN_MODES: &[(&str, FanMode)] = &[
    ("fan_in", FanMode::FanIn),
    ("fan_out", FanMode::FanOut),
    ("fan_avg", FanMode::FanAvg),
];
const DISTRIBUTIONS: &[(&str, Distribution)] = &[
    ("truncated_normal", Distribution::TruncatedNormal),
    ("untruncated_normal", Distribution::UntruncatedNormal),
    ("uniform", Distribution::Uniform),
    // Keras 2 accepts "normal" as the truncated normal.
    ("normal", Distribution::TruncatedNormal),
];

/// Looks `key` up in a `(name, value)` table; the error lists the names.
fn lookup<T: Copy>(table: &[(&str, T)], key: &str, what: &str) -> Result<T, String> {
    table
        .iter()
        .find(|row| row.0 == key)
        .map(|row| row.1)
        .ok_or_else(|| {
            let known: Vec<&str> = table.iter().map(|row| row.0).collect();
            format!("unknown {what} `{key}` (known: {})", known.join(", "))
        })
}

/// The name of `value` in a `(name, value)` table (first match).
fn name_of<T: PartialEq>(table: &[(&'static str, T)], value: &T) -> &'static str {
    table
        .iter()
        .find(|row| row.1 == *value)
        .map_or("?", |row| row.0)
}

/// The Keras form of an initializer: `{"class_name": "GlorotUniform", "config": {"seed": null}}`.
pub fn initializer_json(initializer: Initializer) -> Value {
    let (class, config) = match initializer {
        Initializer::Constant(value) => ("Constant", json!({"value": f32_json(value)})),
        Initializer::RandomNormal { mean, stddev } => (
            "RandomNormal",
            json!({"mean": f32_json(mean), "stddev": f32_json(stddev), "seed": null}),
        ),
        Initializer::RandomUniform { minval, maxval } => (
            "RandomUniform",
            json!({"minval": f32_json(minval), "maxval": f32_json(maxval), "seed": null}),
        ),
        Initializer::TruncatedNormal { mean, stddev } => (
            "TruncatedNormal",
            json!({"mean": f32_json(mean), "stddev": f32_json(stddev), "seed": null}),
        ),
        Initializer::VarianceScaling {
            scale,
            mode,
            distribution,
        } => (
            "VarianceScaling",
            json!({"scale": f32_json(scale), "mode": name_of(FAN_MODES, &mode), "distribution": name_of(DISTRIBUTIONS, &distribution), "seed": null}),
        ),
        Initializer::Orthogonal { gain } => {
            ("Orthogonal", json!({"gain": f32_json(gain), "seed": null}))
        }
        Initializer::Identity { gain } => ("Identity", json!({"gain": f32_json(gain)})),
        Initializer::Zeros | Initializer::Ones => {
            (name_of(SEEDED_CLASSES, &initializer), json!({}))
        }
        seeded => (name_of(SEEDED_CLASSES, &seeded), json!({"seed": null})),
    };
    json!({"class_name": class, "config": config})
}

/// Reads an initializer object or name (`"glorot_uniform"`, Keras' defaults for its arguments).
pub fn read_initializer(value: &Value) -> Result<Initializer, String> {
    if let Some(name) = value.as_str() {
        return name.parse().map_err(|e: crate::Error| e.to_string());
    }
    let (class, c) = class_and_config(value)?;
    let text = |key: &str, default: &str| -> Result<String, String> {
        match c.get(key) {
            None | Some(Value::Null) => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(format!("`{key}` of {class} must be a string, got {other}")),
        }
    };
    Ok(match class {
        "Constant" => Initializer::Constant(f32_field(&c, "value", 0.0)?),
        "RandomNormal" => Initializer::RandomNormal {
            mean: f32_field(&c, "mean", 0.0)?,
            stddev: f32_field(&c, "stddev", 0.05)?,
        },
        "RandomUniform" => Initializer::RandomUniform {
            minval: f32_field(&c, "minval", -0.05)?,
            maxval: f32_field(&c, "maxval", 0.05)?,
        },
        "TruncatedNormal" => Initializer::TruncatedNormal {
            mean: f32_field(&c, "mean", 0.0)?,
            stddev: f32_field(&c, "stddev", 0.05)?,
        },
        "VarianceScaling" => Initializer::VarianceScaling {
            scale: f32_field(&c, "scale", 1.0)?,
            mode: lookup(FAN_MODES, &text("mode", "fan_in")?, "VarianceScaling mode")?,
            distribution: lookup(
                DISTRIBUTIONS,
                &text("distribution", "truncated_normal")?,
                "VarianceScaling distribution",
            )?,
        },
        "Orthogonal" => Initializer::Orthogonal {
            gain: f32_field(&c, "gain", 1.0)?,
        },
        "Identity" => Initializer::Identity {
            gain: f32_field(&c, "gain", 1.0)?,
        },
        other => {
            let mut known: Vec<&str> = SEEDED_CLASSES.iter().map(|row| row.0).collect();
            known.extend([
                "Constant",
                "RandomNormal",
                "RandomUniform",
                "TruncatedNormal",
                "VarianceScaling",
                "Orthogonal",
                "Identity",
            ]);
            lookup(SEEDED_CLASSES, other, "initializer class").map_err(|_| {
                format!(
                    "unknown initializer class `{other}` (known: {})",
                    known.join(", ")
                )
            })?
        }
    })
}

/// The Keras form of an optional regularizer: `null`, or `{"class_name": "L2", "config": {"l2": 0.01}}`.
pub fn regularizer_json(regularizer: Option<Regularizer>) -> Value {
    match regularizer {
        None => Value::Null,
        Some(Regularizer::L1(l1)) => json!({"class_name": "L1", "config": {"l1": f32_json(l1)}}),
        Some(Regularizer::L2(l2)) => json!({"class_name": "L2", "config": {"l2": f32_json(l2)}}),
        Some(Regularizer::L1L2 { l1, l2 }) => {
            json!({"class_name": "L1L2", "config": {"l1": f32_json(l1), "l2": f32_json(l2)}})
        }
    }
}

/// Reads `null`, a regularizer object, or a name (`"l1"`, `"l2"`, `"l1_l2"` with Keras' 0.01).
pub fn read_regularizer(value: &Value) -> Result<Option<Regularizer>, String> {
    const DEFAULT: f32 = Regularizer::DEFAULT;
    let (class, c) = match value {
        Value::Null => return Ok(None),
        Value::String(name) => (name.as_str(), Map::new()),
        other => class_and_config(other)?,
    };
    Ok(Some(match class {
        "L1" | "l1" => Regularizer::L1(f32_field(&c, "l1", DEFAULT)?),
        "L2" | "l2" => Regularizer::L2(f32_field(&c, "l2", DEFAULT)?),
        // The `L1L2` class defaults to 0 for both terms, the `l1_l2` function to 0.01.
        "L1L2" => Regularizer::L1L2 {
            l1: f32_field(&c, "l1", 0.0)?,
            l2: f32_field(&c, "l2", 0.0)?,
        },
        "l1_l2" => Regularizer::L1L2 {
            l1: DEFAULT,
            l2: DEFAULT,
        },
        other => {
            return Err(format!(
                "unknown regularizer `{other}` (known: L1, L2, L1L2)"
            ));
        }
    }))
}

/// A hyper-parameter type that a Keras config stores as one JSON value.
pub trait ConfigField: Sized {
    /// Its JSON form.
    fn to_json(&self) -> Value;
    /// Reads it back; `Err` says what was expected.
    fn from_json(value: &Value) -> Result<Self, String>;
}

impl ConfigField for f32 {
    fn to_json(&self) -> Value {
        f32_json(*self)
    }
    fn from_json(value: &Value) -> Result<Self, String> {
        read_f32(value)
    }
}

impl ConfigField for bool {
    fn to_json(&self) -> Value {
        Value::Bool(*self)
    }
    fn from_json(value: &Value) -> Result<Self, String> {
        value
            .as_bool()
            .ok_or_else(|| format!("expected true or false, got {value}"))
    }
}

impl ConfigField for Option<f32> {
    fn to_json(&self) -> Value {
        self.map_or(Value::Null, f32_json)
    }
    fn from_json(value: &Value) -> Result<Self, String> {
        if value.is_null() {
            Ok(None)
        } else {
            read_f32(value).map(Some)
        }
    }
}

/// Field `key` of the config object of the optimizer, loss or metric `class`, or `default`
/// when absent (a `null` reads as absent, except for optional fields where it means "off").
pub fn read_config_field<T: ConfigField>(
    config: &Value,
    class: &str,
    key: &str,
    default: T,
) -> crate::Result<T> {
    match config.get(key) {
        None => Ok(default),
        Some(Value::Null) => T::from_json(&Value::Null).or(Ok(default)),
        Some(value) => T::from_json(value).map_err(|msg| crate::Error::Config {
            owner: "training config".into(),
            class: class.to_string(),
            field: key.to_string(),
            msg,
        }),
    }
}

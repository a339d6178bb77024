//! The Keras form of an [`Initializer`]: `{"class_name": "GlorotUniform", "config": {...}}`
//! objects (and Keras' names such as `"glorot_uniform"` when reading).

use serde_json::{Value, json};

use crate::config_json::{class_and_config, f32_field, f32_json, lookup, name_of};
use crate::initializers::{Distribution, FanMode, Initializer};

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
        return name.parse().map_err(|e: crate::error::Error| e.to_string());
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

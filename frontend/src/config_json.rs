//! Keras-style JSON shared by every config reader and writer (layers, optimizers, losses,
//! metrics, whole models): exact f32 numbers, `{"class_name", "config"}` objects, name tables,
//! and [`ConfigField`] hyper-parameters. The Keras forms of activations, initializers and
//! regularizers live with those types.
//!
//! Readers return `Err(message)`; the caller (a layer's `ConfigReader`, a training config)
//! adds the owner, class and field. Extra keys Keras writes (`module`, `registered_name`,
//! initializer `seed`) are accepted and ignored: Kiln seeds every initializer from the model's
//! seed.

use serde_json::{Map, Value};

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
pub(crate) fn f32_field(
    config: &Map<String, Value>,
    key: &str,
    default: f32,
) -> Result<f32, String> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => read_f32(v).map_err(|e| format!("`{key}`: {e}")),
    }
}

/// Looks `key` up in a `(name, value)` table; the error lists the names.
pub(crate) fn lookup<T: Copy>(table: &[(&str, T)], key: &str, what: &str) -> Result<T, String> {
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
pub(crate) fn name_of<T: PartialEq>(table: &[(&'static str, T)], value: &T) -> &'static str {
    table
        .iter()
        .find(|row| row.1 == *value)
        .map_or("?", |row| row.0)
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
) -> crate::error::Result<T> {
    match config.get(key) {
        None => Ok(default),
        Some(Value::Null) => T::from_json(&Value::Null).or(Ok(default)),
        Some(value) => T::from_json(value).map_err(|msg| crate::error::Error::Config {
            owner: "training config".into(),
            class: class.to_string(),
            field: key.to_string(),
            msg,
        }),
    }
}

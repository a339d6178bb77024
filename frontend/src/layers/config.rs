//! Layer configs in Keras 2's JSON form: [`layer_config`] writes the inner `config` object
//! of a layer, [`ConfigReader`] reads one back field by field with errors that name the
//! layer, its class and the field.
//!
//! How a layer takes part (see also [`crate::layers::registry`]):
//! 1. `Layer::config` returns `layer_config(self, json!({ ...its own fields... }))`, with
//!    Keras' field names and the `*_json` writers of [`crate::config_json`] and the activation, initializer and regularizer modules for
//!    activations, initializers and regularizers;
//! 2. an inherent `fn from_config(c: &ConfigReader) -> Result<Self>` reads the same fields
//!    (defaults = Keras' defaults) and rejects options Kiln does not implement
//!    ([`ConfigReader::require_null`], [`ConfigReader::require_str`]);
//! 3. one row in the registry's table maps the class name to that constructor.

use serde_json::{Map, Value, json};

use crate::activations::Activation;
use crate::activations::read_activation;
use crate::config_json::read_f32;
use crate::error::{Error, Result};
use crate::initializers::Initializer;
use crate::initializers::read_initializer;
use crate::layers::Layer;
use crate::regularizers::Regularizer;
use crate::regularizers::read_regularizer;

/// The inner `config` object of `layer`: `name`, `trainable`, `dtype`, then `fields` (an
/// object) in order. `trainable` is written `true`; a model writes `false` for the layers
/// it froze.
pub fn layer_config(layer: &(impl Layer + ?Sized), fields: Value) -> Value {
    let mut config = Map::new();
    config.insert("name".into(), json!(layer.name().unwrap_or_default()));
    config.insert("trainable".into(), json!(true));
    config.insert("dtype".into(), json!("float32"));
    if let Value::Object(fields) = fields {
        config.extend(fields);
    }
    Value::Object(config)
}

/// Reads the fields of one layer's `config` object. A missing or `null` field takes the
/// default the caller gives; a present one must have the right type. Keys no reader asks
/// for are ignored (Keras writes some Kiln has no use for, such as `module`).
#[derive(Debug)]
pub struct ConfigReader<'a> {
    class: &'a str,
    name: String,
    config: &'a Map<String, Value>,
}

impl<'a> ConfigReader<'a> {
    /// A reader for the `config` of a layer of class `class`. It must be an object with a
    /// string `name`, its `dtype` (if given) must be float32 and `trainable` (if given) a
    /// boolean; the model reads `trainable: false` to freeze the layer.
    pub fn new(class: &'a str, config: &'a Value) -> Result<Self> {
        let unnamed = |field: &str, msg: String| Error::Config {
            owner: "layer".into(),
            class: class.into(),
            field: field.into(),
            msg,
        };
        let map = config
            .as_object()
            .ok_or_else(|| unnamed("config", format!("must be an object, got {config}")))?;
        let name = match map.get("name") {
            Some(Value::String(name)) if !name.is_empty() => name.clone(),
            other => {
                return Err(unnamed(
                    "name",
                    format!(
                        "must be a non-empty string, got {}",
                        other.unwrap_or(&Value::Null)
                    ),
                ));
            }
        };
        let reader = ConfigReader {
            class,
            name,
            config: map,
        };
        reader.bool_or("trainable", true)?;
        if let Some(dtype) = reader.get("dtype") {
            // Keras 2 writes "float32"; Keras 3 may write a DTypePolicy object.
            let name = dtype
                .as_str()
                .or_else(|| dtype.pointer("/config/name").and_then(Value::as_str));
            if name != Some("float32") {
                return Err(
                    reader.error("dtype", format!("only float32 is supported, got {dtype}"))
                );
            }
        }
        Ok(reader)
    }

    /// The layer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The layer's class name.
    pub fn class(&self) -> &str {
        self.class
    }

    /// Every field of the config, as given (for layers that rewrite a config into another
    /// layer's, such as the 1-D layers).
    pub fn fields(&self) -> &'a Map<String, Value> {
        self.config
    }

    /// An error about `field` of this layer.
    pub fn error(&self, field: &str, msg: impl Into<String>) -> Error {
        Error::Config {
            owner: self.name.clone(),
            class: self.class.to_string(),
            field: field.to_string(),
            msg: msg.into(),
        }
    }

    /// The raw value of `field`; `None` when missing or `null`.
    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.config.get(field).filter(|v| !v.is_null())
    }

    /// Reads `field` with `read`, or `default` when it is missing or null.
    fn read_or<T>(
        &self,
        field: &str,
        default: T,
        read: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Result<T> {
        match self.get(field) {
            None => Ok(default),
            Some(value) => read(value).map_err(|msg| self.error(field, msg)),
        }
    }

    /// A required non-negative integer.
    pub fn usize(&self, field: &str) -> Result<usize> {
        let value = self
            .get(field)
            .ok_or_else(|| self.error(field, "is required"))?;
        read_usize(value).map_err(|msg| self.error(field, msg))
    }

    /// A non-negative integer, `default` when absent.
    pub fn usize_or(&self, field: &str, default: usize) -> Result<usize> {
        self.read_or(field, default, read_usize)
    }

    /// A boolean, `default` when absent.
    pub fn bool_or(&self, field: &str, default: bool) -> Result<bool> {
        self.read_or(field, default, |v| {
            v.as_bool()
                .ok_or_else(|| format!("expected true or false, got {v}"))
        })
    }

    /// A number, `default` when absent.
    pub fn f32_or(&self, field: &str, default: f32) -> Result<f32> {
        self.read_or(field, default, read_f32)
    }

    /// A string, `default` when absent.
    pub fn str_or(&self, field: &str, default: &str) -> Result<String> {
        self.read_or(field, default.to_string(), |v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("expected a string, got {v}"))
        })
    }

    /// An integer or a list of two (`kernel_size: 3` or `[3, 3]`), `default` when absent.
    pub fn usize_pair_or(&self, field: &str, default: [usize; 2]) -> Result<[usize; 2]> {
        self.read_or(field, default, |v| match v {
            Value::Array(items) if items.len() == 2 => {
                Ok([read_usize(&items[0])?, read_usize(&items[1])?])
            }
            Value::Array(_) => Err(format!("expected two integers, got {v}")),
            single => read_usize(single).map(|n| [n, n]),
        })
    }

    /// An activation (name or object), `default` when absent.
    pub fn activation_or(&self, field: &str, default: Activation) -> Result<Activation> {
        self.read_or(field, default, read_activation)
    }

    /// An initializer (object or name), `default` when absent.
    pub fn initializer_or(&self, field: &str, default: Initializer) -> Result<Initializer> {
        self.read_or(field, default, read_initializer)
    }

    /// An optional regularizer.
    pub fn regularizer(&self, field: &str) -> Result<Option<Regularizer>> {
        self.read_or(field, None, read_regularizer)
    }

    /// Fails unless every field in `fields` is missing or null: options Kiln does not
    /// implement (`activity_regularizer`, constraints, ...).
    pub fn require_null(&self, fields: &[&str]) -> Result<()> {
        match fields.iter().find_map(|f| self.get(f).map(|v| (f, v))) {
            Some((field, value)) => {
                Err(self.error(field, format!("is not supported (got {value}, only null)")))
            }
            None => Ok(()),
        }
    }

    /// Fails unless `field` is missing or the string `only` (`data_format: "channels_last"`).
    pub fn require_str(&self, field: &str, only: &str) -> Result<()> {
        let value = self.str_or(field, only)?;
        if value == only {
            Ok(())
        } else {
            Err(self.error(
                field,
                format!("only \"{only}\" is supported, got \"{value}\""),
            ))
        }
    }
}

/// A JSON integer >= 0.
pub(crate) fn read_usize(value: &Value) -> Result<usize, String> {
    value
        .as_u64()
        .map(|n| n as usize)
        .ok_or_else(|| format!("expected a non-negative integer, got {value}"))
}

//! Keras 3 `model_config` JSON → the Keras 2 form the rest of Kiln reads.
//!
//! What Keras 3 writes differently (and what becomes of it):
//! - layer entries carry `module` and `registered_name` → dropped;
//! - a layer's (or model's) `dtype` is a `DTypePolicy` object
//!   `{"class_name": "DTypePolicy", "config": {"name": "float32"}, ...}` → `"float32"`;
//! - `InputLayer` has `batch_shape` → `batch_input_shape`;
//! - `Sequential` config adds `trainable`, `dtype`, `build_input_shape` → dropped (Keras 3
//!   always lists the `InputLayer`, so the input shape is not lost);
//! - `Functional` `inbound_nodes` are `[{"args": [...], "kwargs": {...}}]` with
//!   `__keras_tensor__` objects whose `keras_history` is `[layer, node, tensor]` → Keras 2
//!   `[[[layer, node, tensor, kwargs], ...], ...]`, one inner list per call, the tensors of
//!   `args` in order (nested lists, as an `Add` takes them, flattened);
//! - `input_layers` / `output_layers` may be one flat `[name, 0, 0]` → `[[name, 0, 0]]`.
//!
//! A config with none of these marks is Keras 2 and comes back unchanged. Models nested as
//! layers (a `Sequential` or `Functional` inside a `Functional`) are normalised too.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Keys of a Keras 3 `Sequential` config that Keras 2 does not write.
const SEQUENTIAL_KERAS3_KEYS: [&str; 3] = ["trainable", "dtype", "build_input_shape"];

/// Returns `config` (a `model_config` JSON: `{"class_name", "config"}`) in Keras 2 form:
/// a Keras 3 config converted as [the module docs](self) list, a Keras 2 config unchanged;
/// then models nested as layers inlined ([`super::nested`]).
///
/// Errors (naming the layer and field): a malformed Keras 3 `inbound_nodes` entry — a
/// node that is not an `{"args", "kwargs"}` object, or an argument that is neither a
/// tensor nor a list of tensors (Keras 2's form cannot express constant arguments).
pub fn normalize_model_config(config: &Value) -> Result<Value> {
    if !is_keras3(config) {
        return super::nested::inline_nested_models(config);
    }
    let mut out = config.clone();
    normalize_model(&mut out)?;
    super::nested::inline_nested_models(&out)
}

/// Whether `config` (or a model nested in it) shows any Keras 3 mark.
fn is_keras3(config: &Value) -> bool {
    let Some(inner) = config.get("config") else {
        return false;
    };
    let flat_io = ["input_layers", "output_layers"]
        .iter()
        .any(|k| inner.get(k).is_some_and(is_flat_triple));
    let model_dtype_policy = inner.get("dtype").is_some_and(is_dtype_policy);
    let layers = inner.get("layers").and_then(Value::as_array);
    flat_io || model_dtype_policy || layers.is_some_and(|layers| layers.iter().any(layer_is_keras3))
}

/// Whether one layer entry shows a Keras 3 mark.
fn layer_is_keras3(entry: &Value) -> bool {
    let config = entry.get("config");
    entry.get("module").is_some()
        || entry.get("registered_name").is_some()
        || config.and_then(|c| c.get("batch_shape")).is_some()
        || config
            .and_then(|c| c.get("dtype"))
            .is_some_and(is_dtype_policy)
        || entry
            .get("inbound_nodes")
            .and_then(Value::as_array)
            .is_some_and(|nodes| nodes.iter().any(Value::is_object))
        || (is_nested_model(entry) && is_keras3(entry))
}

/// Whether a layer entry is itself a model (has a `config.layers` list).
fn is_nested_model(entry: &Value) -> bool {
    entry
        .get("config")
        .and_then(|c| c.get("layers"))
        .is_some_and(Value::is_array)
}

/// `[name, node, tensor]` with a string first: Keras 3's flat single input/output.
fn is_flat_triple(v: &Value) -> bool {
    v.as_array()
        .and_then(|a| a.first())
        .is_some_and(Value::is_string)
}

/// A Keras 3 dtype policy object (`DTypePolicy`, or its older name `FloatDTypePolicy`).
fn is_dtype_policy(v: &Value) -> bool {
    matches!(
        v.get("class_name").and_then(Value::as_str),
        Some("DTypePolicy" | "FloatDTypePolicy")
    )
}

/// Normalises a model config (`{"class_name", "config": {"layers", ...}}`) in place.
fn normalize_model(model: &mut Value) -> Result<()> {
    let class = model
        .get("class_name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let Some(inner) = model.get_mut("config").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    if class == "Sequential" {
        for key in SEQUENTIAL_KERAS3_KEYS {
            inner.remove(key);
        }
    } else {
        simplify_dtype(inner);
    }
    for key in ["input_layers", "output_layers"] {
        if let Some(io) = inner.get_mut(key)
            && is_flat_triple(io)
        {
            *io = Value::Array(vec![io.take()]);
        }
    }
    if let Some(layers) = inner.get_mut("layers").and_then(Value::as_array_mut) {
        for layer in layers {
            normalize_layer(layer)?;
        }
    }
    Ok(())
}

/// Normalises one layer entry in place.
fn normalize_layer(entry: &mut Value) -> Result<()> {
    let Some(fields) = entry.as_object_mut() else {
        return Ok(());
    };
    fields.remove("module");
    fields.remove("registered_name");
    let class = fields
        .get("class_name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let name = fields
        .get("name")
        .or_else(|| fields.get("config").and_then(|c| c.get("name")))
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    if let Some(nodes) = fields.get_mut("inbound_nodes") {
        *nodes = keras2_inbound_nodes(nodes, &name, &class)?;
    }
    if let Some(config) = fields.get_mut("config").and_then(Value::as_object_mut) {
        simplify_dtype(config);
        if class == "InputLayer"
            && !config.contains_key("batch_input_shape")
            && let Some(shape) = config.remove("batch_shape")
        {
            config.insert("batch_input_shape".into(), shape);
        }
    }
    if is_nested_model(entry) {
        normalize_model(entry)?;
    }
    Ok(())
}

/// Replaces a `DTypePolicy` object under `dtype` by its name.
fn simplify_dtype(config: &mut Map<String, Value>) {
    if let Some(dtype) = config.get_mut("dtype")
        && is_dtype_policy(dtype)
        && let Some(name) = dtype.get("config").and_then(|c| c.get("name")).cloned()
    {
        *dtype = name;
    }
}

/// Keras 3 `inbound_nodes` → Keras 2's list of calls, each a list of
/// `[layer, node_index, tensor_index, kwargs]`. Keras 2 entries pass through.
fn keras2_inbound_nodes(nodes: &Value, layer: &str, class: &str) -> Result<Value> {
    let Some(list) = nodes.as_array() else {
        return Err(node_error(layer, class, "is not a list"));
    };
    let calls = list
        .iter()
        .map(|node| {
            if node.is_array() {
                return Ok(node.clone()); // Keras 2 already
            }
            let args = node
                .get("args")
                .and_then(Value::as_array)
                .ok_or_else(|| node_error(layer, class, "a node has no `args` list"))?;
            let kwargs = match node.get("kwargs") {
                None | Some(Value::Null) => Value::Object(Map::new()),
                Some(kwargs @ Value::Object(_)) => kwargs.clone(),
                Some(_) => return Err(node_error(layer, class, "`kwargs` is not an object")),
            };
            let mut inputs = Vec::new();
            for arg in args {
                collect_tensors(arg, &kwargs, &mut inputs)
                    .map_err(|msg| node_error(layer, class, &msg))?;
            }
            Ok(Value::Array(inputs))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Value::Array(calls))
}

/// Appends the Keras 2 entry of every `__keras_tensor__` in `arg` (a tensor or a nested
/// list of tensors) to `out`.
fn collect_tensors(arg: &Value, kwargs: &Value, out: &mut Vec<Value>) -> Result<(), String> {
    if let Some(items) = arg.as_array() {
        return items
            .iter()
            .try_for_each(|item| collect_tensors(item, kwargs, out));
    }
    if arg.get("class_name").and_then(Value::as_str) != Some("__keras_tensor__") {
        return Err(format!(
            "argument {arg} is not a Keras tensor (Keras 2 configs hold only tensor inputs)"
        ));
    }
    let history = arg
        .get("config")
        .and_then(|c| c.get("keras_history"))
        .and_then(Value::as_array)
        .filter(|h| h.len() == 3 && h[0].is_string() && h[1].is_u64() && h[2].is_u64())
        .ok_or_else(|| format!("tensor {arg} has no `keras_history` [layer, node, tensor]"))?;
    let mut entry = history.clone();
    entry.push(kwargs.clone());
    out.push(Value::Array(entry));
    Ok(())
}

/// An error about a layer's `inbound_nodes`.
fn node_error(layer: &str, class: &str, msg: &str) -> Error {
    Error::Config {
        owner: layer.to_string(),
        class: class.to_string(),
        field: "inbound_nodes".into(),
        msg: msg.to_string(),
    }
}

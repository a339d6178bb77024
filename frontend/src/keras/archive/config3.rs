//! Kiln's model config (Keras 2's form, [`crate::Model::to_config`]) in the form Keras 3
//! writes into a `.keras` archive's `config.json`, and Keras 3's `compile_config` to and
//! from the Keras 2 `training_config` Kiln's compile settings are read from.
//!
//! What changes (the reverse of [`super::super::normalize_model_config`]):
//! - the model and every layer entry get `module` and `registered_name`
//!   (`"keras"`/`null` for Sequential, `"keras.src.models.functional"`/`"Functional"` for
//!   Functional, `"keras.layers"`/`null` for layers, wrapped layers included);
//! - a layer's `dtype` string becomes a `DTypePolicy` object (an `InputLayer` keeps the
//!   string, as Keras writes it); `InputLayer` `batch_input_shape` becomes `batch_shape`;
//! - Functional `inbound_nodes` `[[[layer, node, tensor, kwargs], ...]]` become
//!   `[{"args": [...], "kwargs": {...}}]` with `__keras_tensor__` objects: one inbound
//!   tensor is the single argument, several (a merge layer) one list argument, and tensors
//!   in the kwargs (MultiHeadAttention's `value`, `key`) stay keyword arguments;
//! - a single model input or output is written as a flat `[name, 0, 0]`.
//!
//! - config keys Keras 2 writes and Keras 3's constructors refuse (`KERAS2_ONLY_KEYS`)
//!   are left out.
//!
//! Keras 3 rebuilds every layer by calling it on its inputs, so no `build_config` is
//! written. Kiln's `seed` stays in the model config (Keras ignores it).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

/// Per-example output shapes of each layer, by layer name (the `shape` Keras 3 writes into
/// every `__keras_tensor__`, after a `null` batch dimension).
pub type OutputShapes = HashMap<String, Vec<Vec<usize>>>;

/// Layer config keys of Keras 2's form that Keras 3 (3.15) refuses as unknown arguments,
/// by class: what they said is Keras 3's only behaviour (`time_major` false, one
/// `implementation`), or is rebuilt from the inputs (attention shapes).
const KERAS2_ONLY_KEYS: &[(&str, &[&str])] = &[
    ("SimpleRNN", &["time_major", "implementation"]),
    ("LSTM", &["time_major", "implementation"]),
    ("GRU", &["time_major", "implementation"]),
    ("Embedding", &["input_length"]),
    ("Conv2DTranspose", &["groups"]),
    ("Conv1DTranspose", &["groups"]),
    (
        "MultiHeadAttention",
        &[
            "query_shape",
            "key_shape",
            "value_shape",
            "softmax_robust_masking",
        ],
    ),
];

/// The `DTypePolicy` object Keras 3 writes for the dtype called `name`.
fn dtype_policy(name: &Value) -> Value {
    json!({"module": "keras", "class_name": "DTypePolicy", "config": {"name": name},
           "registered_name": null})
}

/// A `__keras_tensor__` for Keras 2's `[layer, node, tensor, ...]` reference.
fn keras_tensor(reference: &[Value], shapes: &OutputShapes) -> Value {
    let history: Vec<Value> = reference.iter().take(3).cloned().collect();
    let layer = reference
        .first()
        .and_then(Value::as_str)
        .unwrap_or_default();
    let index = reference.get(2).and_then(Value::as_u64).unwrap_or(0) as usize;
    let mut shape = vec![Value::Null];
    if let Some(dims) = shapes.get(layer).and_then(|outputs| outputs.get(index)) {
        shape.extend(dims.iter().map(|&d| json!(d)));
    }
    json!({"class_name": "__keras_tensor__",
           "config": {"shape": shape, "dtype": "float32", "keras_history": history}})
}

/// Whether `v` is Keras 2's `[layer, node, tensor]` reference.
fn is_reference(v: &Value) -> bool {
    v.as_array()
        .is_some_and(|a| a.len() >= 3 && a[0].is_string() && a[1].is_u64() && a[2].is_u64())
}

/// `config` (a Keras 2 form model config) in Keras 3's form, with `compile_config`;
/// `shapes` gives the layers' output shapes.
pub fn keras3_model_config(config: &Value, compile_config: Value, shapes: &OutputShapes) -> Value {
    let class = config
        .get("class_name")
        .and_then(Value::as_str)
        .unwrap_or("Sequential");
    let mut inner = config.get("config").cloned().unwrap_or_else(|| json!({}));
    let functional = class != "Sequential";
    if let Some(fields) = inner.as_object_mut() {
        fields.insert("trainable".into(), json!(true));
        if !functional {
            fields.insert("dtype".into(), dtype_policy(&json!("float32")));
        }
        if let Some(layers) = fields.get_mut("layers").and_then(Value::as_array_mut) {
            for layer in layers {
                *layer = keras3_layer(layer, functional.then_some(shapes));
            }
        }
        for key in ["input_layers", "output_layers"] {
            if let Some(Value::Array(io)) = fields.get_mut(key)
                && io.len() == 1
                && is_reference(&io[0])
            {
                let single = io[0].clone();
                fields.insert(key.into(), single);
            }
        }
    }
    let (module, registered) = if functional {
        ("keras.src.models.functional", json!("Functional"))
    } else {
        ("keras", Value::Null)
    };
    json!({"module": module, "class_name": class, "config": inner,
           "registered_name": registered, "compile_config": compile_config})
}

/// One layer entry in Keras 3's form; given `shapes` (a functional model's), the entry
/// carries `inbound_nodes`.
fn keras3_layer(entry: &Value, shapes: Option<&OutputShapes>) -> Value {
    let class = entry
        .get("class_name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut config = entry.get("config").cloned().unwrap_or_else(|| json!({}));
    if let Some(fields) = config.as_object_mut() {
        if class == "InputLayer" {
            if let Some(shape) = fields.remove("batch_input_shape") {
                fields.insert("batch_shape".into(), shape);
            }
        } else if let Some(dtype) = fields.get_mut("dtype")
            && dtype.is_string()
        {
            *dtype = dtype_policy(dtype);
        }
        let refused = KERAS2_ONLY_KEYS.iter().find(|row| row.0 == class);
        for key in refused.map(|row| row.1).unwrap_or_default() {
            fields.remove(*key);
        }
        if let Some(wrapped) = fields.get_mut("layer") {
            *wrapped = keras3_layer(wrapped, None);
        }
    }
    let mut out = Map::new();
    out.insert("module".into(), json!("keras.layers"));
    out.insert("class_name".into(), json!(class));
    out.insert("config".into(), config);
    out.insert("registered_name".into(), Value::Null);
    if let Some(shapes) = shapes {
        let name = entry.get("name").cloned().unwrap_or(Value::Null);
        out.insert("name".into(), name);
        let nodes = entry.get("inbound_nodes").cloned().unwrap_or(json!([]));
        out.insert("inbound_nodes".into(), keras3_nodes(&nodes, shapes));
    }
    Value::Object(out)
}

/// Keras 2 `inbound_nodes` → Keras 3's `[{"args", "kwargs"}]`.
fn keras3_nodes(nodes: &Value, shapes: &OutputShapes) -> Value {
    let calls = nodes.as_array().map(Vec::as_slice).unwrap_or_default();
    Value::Array(
        calls
            .iter()
            .map(|call| {
                let refs = call.as_array().map(Vec::as_slice).unwrap_or_default();
                let mut kwargs = Map::new();
                if let Some(Value::Object(extra)) = refs
                    .first()
                    .and_then(Value::as_array)
                    .and_then(|r| r.get(3))
                {
                    for (key, value) in extra {
                        let value = if is_reference(value) {
                            let reference = value.as_array().map(Vec::as_slice).unwrap_or_default();
                            keras_tensor(reference, shapes)
                        } else {
                            value.clone()
                        };
                        kwargs.insert(key.clone(), value);
                    }
                }
                let tensors: Vec<Value> = refs
                    .iter()
                    .filter_map(|r| r.as_array().map(|a| keras_tensor(a, shapes)))
                    .collect();
                let args = match tensors.len() {
                    1 => tensors,
                    _ => vec![Value::Array(tensors)],
                };
                json!({"args": args, "kwargs": kwargs})
            })
            .collect(),
    )
}

/// Keras 3's `compile_config` for Kiln's `training_config` (Keras 2 form: `loss`,
/// `loss_weights`, `metrics`, `optimizer_config`). Keras 3 takes the per-output forms as
/// they are (a `loss` and `loss_weights` map by output name, one metric list per output),
/// so only the component objects in them gain their module.
pub fn compile_config_from_training(training: &Value) -> Value {
    let mut optimizer = training
        .get("optimizer_config")
        .cloned()
        .unwrap_or(Value::Null);
    with_module(&mut optimizer, "keras.optimizers");
    let mut loss = training.get("loss").cloned().unwrap_or(Value::Null);
    match &mut loss {
        Value::Object(map) if !map.contains_key("class_name") => map
            .values_mut()
            .for_each(|l| with_module(l, "keras.losses")),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|l| with_module(l, "keras.losses")),
        one => with_module(one, "keras.losses"),
    }
    let mut metrics = training.get("metrics").cloned().unwrap_or(Value::Null);
    if let Some(items) = metrics.as_array_mut() {
        for item in items {
            match item.as_array_mut() {
                Some(inner) => inner
                    .iter_mut()
                    .for_each(|m| with_module(m, "keras.metrics")),
                None => with_module(item, "keras.metrics"),
            }
        }
    }
    json!({
        "optimizer": optimizer,
        "loss": loss,
        "loss_weights": training.get("loss_weights").cloned().unwrap_or(Value::Null),
        "metrics": metrics,
        "weighted_metrics": null,
        "run_eagerly": false,
        "steps_per_execution": 1,
        "jit_compile": false,
    })
}

/// Adds `module` and `registered_name` to a `{"class_name", "config"}` object (names stay).
fn with_module(value: &mut Value, module: &str) {
    if let Some(fields) = value.as_object_mut() {
        fields.insert("module".into(), json!(module));
        fields.insert("registered_name".into(), Value::Null);
    }
}

/// The Keras 2 `training_config` form of a Keras 3 `compile_config`; `None` for the empty
/// `{}` (or `null`) of an uncompiled model.
pub fn training_from_compile_config(compile: &Value) -> Option<Value> {
    let fields = compile.as_object().filter(|f| !f.is_empty())?;
    let optimizer = fields.get("optimizer").cloned().unwrap_or(Value::Null);
    Some(json!({
        "optimizer_config": optimizer,
        "loss": fields.get("loss").cloned().unwrap_or(Value::Null),
        "loss_weights": fields.get("loss_weights").cloned().unwrap_or(Value::Null),
        "metrics": fields.get("metrics").cloned().unwrap_or(Value::Null),
    }))
}

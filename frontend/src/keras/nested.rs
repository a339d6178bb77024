//! Models nested as layers: a `Sequential` or `Functional` model used as one layer of a
//! functional model (ConvNeXt's stem and downsampling blocks) is inlined — its layers become
//! layers of the outer model, wired to the tensors the outer model passed it — and its `.h5`
//! weight group (one group holding every inner layer's weights, named `inner/kernel:0`) is
//! split into one group per inner layer.
//!
//! Inlining keeps every computation and every layer name, so the model predicts (and trains)
//! as Keras' does; what it does NOT keep is the nesting itself: the loaded model's summary
//! lists the inner layers, and `save_keras` writes the flat model. A nested model called more
//! than once (shared), or an inner layer whose name is also an outer layer's, is an error.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::LayerWeights;
use crate::error::{Error, Result};

/// The model classes Keras writes for a model used as a layer.
const MODEL_CLASSES: [&str; 3] = ["Sequential", "Functional", "Model"];

fn nested_error(model: &str, msg: impl Into<String>) -> Error {
    Error::Config {
        owner: model.into(),
        class: "Functional".into(),
        field: "layers".into(),
        msg: msg.into(),
    }
}

/// Whether a layer entry is a model.
fn is_model(entry: &Value) -> bool {
    entry
        .get("class_name")
        .and_then(Value::as_str)
        .is_some_and(|c| MODEL_CLASSES.contains(&c))
        && entry.pointer("/config/layers").is_some_and(Value::is_array)
}

/// `config` (Keras 2 form) with every model nested as a layer inlined, recursively. A
/// config without nested models comes back unchanged.
pub fn inline_nested_models(config: &Value) -> Result<Value> {
    let Some(layers) = config.pointer("/config/layers").and_then(Value::as_array) else {
        return Ok(config.clone());
    };
    if !layers.iter().any(is_model) {
        return Ok(config.clone());
    }
    let mut names: BTreeSet<String> = layers.iter().filter_map(entry_name).collect();
    let mut out_layers = Vec::with_capacity(layers.len());
    // Outer reference (model name) → the nested model's outputs, as references.
    let mut outputs_of: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for entry in layers {
        let mut entry = entry.clone();
        if let Some(nodes) = entry.get_mut("inbound_nodes") {
            remap(nodes, &outputs_of);
        }
        if !is_model(&entry) {
            out_layers.push(entry);
            continue;
        }
        let name = entry_name(&entry).unwrap_or_default();
        let (inner, outputs) = inline_one(&entry, &name, &mut names)?;
        out_layers.extend(inner);
        outputs_of.insert(name, outputs);
    }
    let mut out = config.clone();
    out["config"]["layers"] = Value::Array(out_layers);
    if let Some(io) = out["config"].get_mut("output_layers") {
        remap(io, &outputs_of);
    }
    Ok(out)
}

/// An entry's layer name (`name`, or `config.name`).
fn entry_name(entry: &Value) -> Option<String> {
    entry
        .get("name")
        .or_else(|| entry.pointer("/config/name"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The layers of the nested model `entry` (called `name`) wired to its call's inputs, and
/// its outputs as references; `names` (every layer name so far) gains the inner names.
fn inline_one(
    entry: &Value,
    name: &str,
    names: &mut BTreeSet<String>,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let call_inputs = call_inputs(entry, name)?;
    let functional = as_functional(entry, name)?;
    let functional = inline_nested_models(&functional)?;
    let inner = functional["config"]["layers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let input_names: Vec<String> = io_refs(&functional["config"]["input_layers"])
        .iter()
        .filter_map(|r| r.get(0).and_then(Value::as_str).map(str::to_string))
        .collect();
    if input_names.len() != call_inputs.len() {
        return Err(nested_error(
            name,
            format!(
                "nested model takes {} inputs, the outer model passes {}",
                input_names.len(),
                call_inputs.len()
            ),
        ));
    }
    let inputs: BTreeMap<String, Vec<Value>> = input_names
        .iter()
        .zip(&call_inputs)
        .map(|(n, r)| (n.clone(), vec![r.clone()]))
        .collect();
    let mut layers = Vec::with_capacity(inner.len());
    for mut layer in inner {
        let inner_name = entry_name(&layer).unwrap_or_default();
        if inputs.contains_key(&inner_name) {
            continue;
        }
        if !names.insert(inner_name.clone()) {
            return Err(nested_error(
                name,
                format!("its layer `{inner_name}` has the name of another layer of the model"),
            ));
        }
        if let Some(nodes) = layer.get_mut("inbound_nodes") {
            remap(nodes, &inputs);
        }
        layers.push(layer);
    }
    let mut outputs = io_refs(&functional["config"]["output_layers"]);
    for output in &mut outputs {
        remap(output, &inputs);
    }
    Ok((layers, outputs))
}

/// The `[name, node, tensor]` references of the one call of a nested model.
fn call_inputs(entry: &Value, name: &str) -> Result<Vec<Value>> {
    let nodes = entry.get("inbound_nodes").and_then(Value::as_array);
    match nodes.map(Vec::as_slice) {
        Some([Value::Array(refs)]) => Ok(refs.iter().map(|r| json!([r[0], r[1], r[2]])).collect()),
        Some(nodes) => Err(nested_error(
            name,
            format!(
                "a nested model must be called once (in Keras 2 form); it is called {} times",
                nodes.len()
            ),
        )),
        None => Err(nested_error(name, "a nested model needs its inbound_nodes")),
    }
}

/// `input_layers` / `output_layers` as a list of references.
fn io_refs(value: &Value) -> Vec<Value> {
    match value.as_array() {
        Some(items) if items.first().is_some_and(Value::is_string) => vec![value.clone()],
        Some(items) => items.clone(),
        None => Vec::new(),
    }
}

/// A nested model entry as a Functional config: a Sequential's layers chained.
fn as_functional(entry: &Value, name: &str) -> Result<Value> {
    if entry["class_name"] != "Sequential" {
        return Ok(json!({"class_name": "Functional", "config": entry["config"]}));
    }
    let layers = entry["config"]["layers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let first_is_input = layers
        .first()
        .is_some_and(|l| l["class_name"] == "InputLayer");
    if !first_is_input {
        return Err(nested_error(
            name,
            "a nested Sequential must start with its InputLayer (Keras writes one once it is built)",
        ));
    }
    let mut chained = Vec::with_capacity(layers.len());
    let mut previous: Option<String> = None;
    for layer in layers {
        let layer_name = entry_name(&layer).unwrap_or_default();
        let inbound = match &previous {
            None => json!([]),
            Some(p) => json!([[[p, 0, 0, {}]]]),
        };
        chained.push(json!({
            "class_name": layer["class_name"],
            "config": layer["config"],
            "name": layer_name,
            "inbound_nodes": inbound,
        }));
        previous = Some(layer_name);
    }
    let first = chained[0]["name"].clone();
    Ok(json!({"class_name": "Functional", "config": {
        "name": name,
        "layers": chained,
        "input_layers": [[first, 0, 0]],
        "output_layers": [[previous, 0, 0]],
    }}))
}

/// Replaces, anywhere inside `value`, each `[name, node, tensor, ...]` reference whose
/// `name` is a key of `map` by the `tensor`-th reference of its value (keeping anything
/// after the third item, such as a call's kwargs).
fn remap(value: &mut Value, map: &BTreeMap<String, Vec<Value>>) {
    let Value::Array(items) = value else {
        if let Value::Object(fields) = value {
            fields.values_mut().for_each(|v| remap(v, map));
        }
        return;
    };
    let target = match items.as_slice() {
        [Value::String(n), node, tensor, ..] if node.is_u64() && tensor.is_u64() => map
            .get(n)
            .and_then(|outs| outs.get(tensor.as_u64().unwrap_or(0) as usize)),
        _ => None,
    };
    if let Some(target) = target {
        for k in 0..3 {
            items[k] = target[k].clone();
        }
    }
    items.iter_mut().for_each(|v| remap(v, map));
}

/// The stored layer groups with each group of a nested model (a name that is not a model
/// layer, whose weights each belong to one: `inner/kernel:0`) split into one group per
/// inner layer, in order.
pub fn split_nested_groups(
    stored: &[LayerWeights],
    model_layers: &BTreeSet<&str>,
) -> Vec<LayerWeights> {
    let mut out: Vec<LayerWeights> = Vec::with_capacity(stored.len());
    for group in stored {
        let owners: Option<Vec<&str>> = group.weights.iter().map(|(n, _)| owner(n)).collect();
        let nested = !model_layers.contains(group.layer.as_str())
            && !group.weights.is_empty()
            && owners
                .as_ref()
                .is_some_and(|o| o.iter().all(|n| model_layers.contains(n)));
        if !nested {
            out.push(group.clone());
            continue;
        }
        for ((weight, value), layer) in group.weights.iter().zip(owners.unwrap_or_default()) {
            match out.iter_mut().find(|g| g.layer == layer) {
                Some(g) => g.weights.push((weight.clone(), value.clone())),
                None => out.push(LayerWeights {
                    layer: layer.to_string(),
                    weights: vec![(weight.clone(), value.clone())],
                }),
            }
        }
    }
    out
}

/// The layer a stored weight name belongs to: the component before the last
/// (`stem_conv/kernel:0` → `stem_conv`).
fn owner(weight: &str) -> Option<&str> {
    let mut parts = weight.rsplit('/');
    parts.next();
    parts.next()
}

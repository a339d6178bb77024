//! A [`Model`] as Keras' model config JSON and back.
//!
//! - Sequential: `{"class_name": "Sequential", "config": {"name": ..., "layers":
//!   [{"class_name": ..., "config": {...}}, ...]}}`;
//! - Functional (Keras 2's form): `{"class_name": "Functional", "config": {"name": ...,
//!   "layers": [{"class_name", "config", "name", "inbound_nodes": [[[name, 0, 0, {}],
//!   ...]]}, ...], "input_layers": [[name, 0, 0], ...], "output_layers": [[name, 0, 0],
//!   ...]}}`. Reading also takes Keras 3's `inbound_nodes` (`[{"args": [...], "kwargs":
//!   {}}]`, tensors carrying `keras_history`) and a flat `[name, 0, 0]` input/output list.
//! - A layer's call kwargs (the `{}` of a Keras 2 reference): tensors passed by keyword to
//!   a layer that takes them ([`Layer::keyword_inputs`]: `mha(query, value=v, key=k)` is
//!   `[["query", 0, 0, {"value": ["v", 0, 0], "key": ["k", 0, 0]}]]`) are its inputs after
//!   the first, in that order; other kwargs go to [`Layer::set_call_kwargs`] (such as
//!   `use_causal_mask`) and are written back from [`Layer::call_kwargs`]. A tensor passed
//!   by any other keyword is an error.
//! - A shared layer (called more than once) is one entry with one inbound node per call;
//!   references to its outputs carry the call's node index (`["embed", 1, 0]`).
//!
//! A frozen layer's config says `"trainable": false` (a model config saying so freezes
//! every layer, as Keras' `model.trainable = False` does). Kiln adds `"seed"` (ignored by Keras)
//! so a reloaded model shuffles and initialises as the saved one did.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::layers::{Layer, layer_from_config, layer_from_json, layer_to_json};
use crate::model::graph::order::{reorder, topological_order};
use crate::model::graph::{GraphParts, LayerGraph, Port, layer_lists};
use crate::model::{DEFAULT_SEED, Model, ModelKind};

/// An error about the model config as a whole.
fn model_config_error(class: &str, field: &str, msg: impl Into<String>) -> Error {
    Error::Config {
        owner: "model".into(),
        class: class.into(),
        field: field.into(),
        msg: msg.into(),
    }
}

/// Keras' `[name, node_index, tensor_index]` reference to output `tensor` of call `node`
/// of a layer.
fn tensor_ref((name, node, tensor): (&str, usize, usize)) -> Value {
    json!([name, node, tensor])
}

impl Model {
    /// The model's Keras config: every layer by its class and config (the `InputLayer`
    /// first), and for a functional model each layer's inbound layers and the model's
    /// input and output layers.
    pub fn to_config(&self) -> Value {
        let entries = self
            .layers()
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.is_shared_call(*i));
        let entries = entries.map(|(i, layer)| {
            let mut entry = layer_to_json(layer.as_ref());
            let name = layer.name().unwrap_or_default();
            if self.frozen_layers().contains(name)
                && let Some(config) = entry.get_mut("config").and_then(Value::as_object_mut)
            {
                config.insert("trainable".into(), json!(false));
            }
            if self.kind() == ModelKind::Functional {
                // One node per call of the layer (several for a shared layer).
                let nodes: Vec<Value> = (self.calls_of(i).into_iter())
                    .flat_map(|call| {
                        let json = inbound_node_json(
                            self.layers()[call].as_ref(),
                            &self.inbound_refs(call),
                        );
                        json.as_array().cloned().unwrap_or_default()
                    })
                    .collect();
                let object = entry
                    .as_object_mut()
                    .expect("layer_to_json gives an object");
                object.insert("name".into(), json!(name));
                object.insert("inbound_nodes".into(), Value::Array(nodes));
            }
            entry
        });
        let layers: Vec<Value> = entries.collect();
        match self.kind() {
            ModelKind::Sequential => json!({
                "class_name": "Sequential",
                "config": {"name": self.name(), "layers": layers, "seed": self.seed()},
            }),
            ModelKind::Functional => {
                let refs = |ports: Vec<(&str, usize, usize)>| -> Vec<Value> {
                    ports.into_iter().map(tensor_ref).collect()
                };
                let inputs = self.input_names().into_iter().map(|n| (n, 0, 0)).collect();
                json!({
                    "class_name": "Functional",
                    "config": {
                        "name": self.name(),
                        "layers": layers,
                        "input_layers": refs(inputs),
                        "output_layers": refs(self.output_refs()),
                        "seed": self.seed(),
                    },
                })
            }
        }
    }

    /// A model from a Keras `Sequential` or `Functional` config (layers rebuilt through the
    /// layer registry). As in Keras 2, a sequential model's input may be given as
    /// `batch_input_shape` on the first layer instead of an `InputLayer`. Models nested as
    /// layers are inlined first ([`super::nested`]). Errors name the layer, its class and
    /// the field at fault.
    pub fn from_config(config: &Value) -> Result<Model> {
        let inlined = super::nested::inline_nested_models(config)?;
        let config = inlined.as_ref();
        let class = config
            .get("class_name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = match class {
            "Sequential" => ModelKind::Sequential,
            "Functional" | "Model" => ModelKind::Functional,
            _ => {
                return Err(model_config_error(
                    "Sequential",
                    "class_name",
                    format!(
                        "only Sequential and Functional models are supported, got {:?}",
                        config.get("class_name").unwrap_or(&Value::Null)
                    ),
                ));
            }
        };
        let inner = config
            .get("config")
            .ok_or_else(|| model_config_error(class, "config", "is missing"))?;
        let default_name = match kind {
            ModelKind::Sequential => "sequential",
            ModelKind::Functional => "model",
        };
        let name = match inner.get("name") {
            None | Some(Value::Null) => default_name.to_string(),
            Some(Value::String(name)) => name.clone(),
            Some(other) => {
                return Err(model_config_error(
                    class,
                    "name",
                    format!("must be a string, got {other}"),
                ));
            }
        };
        let seed = match inner.get("seed") {
            None | Some(Value::Null) => DEFAULT_SEED,
            Some(value) => value.as_u64().ok_or_else(|| {
                model_config_error(
                    class,
                    "seed",
                    format!("must be a non-negative integer, got {value}"),
                )
            })?,
        };
        let entries = inner
            .get("layers")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                model_config_error(class, "layers", "must be a list of layer entries")
            })?;
        let mut model = match kind {
            ModelKind::Sequential => sequential_from_entries(entries)?,
            ModelKind::Functional => functional_from_entries(inner, entries)?,
        };
        let frozen = if inner.get("trainable") == Some(&json!(false)) {
            // Keras' `model.trainable = False` freezes every layer.
            model
                .layers()
                .iter()
                .filter_map(|l| l.name().map(str::to_string))
                .collect()
        } else {
            frozen_layers(entries)
        };
        model.set_frozen_layers(frozen);
        Ok(model.named(name).with_seed(seed))
    }
}

/// The names of the layers whose config says `"trainable": false`.
fn frozen_layers(entries: &[Value]) -> BTreeSet<String> {
    entries
        .iter()
        .filter(|e| e.pointer("/config/trainable") == Some(&json!(false)))
        .filter_map(|e| e.pointer("/config/name").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// The layers of a `Sequential` config.
fn sequential_from_entries(entries: &[Value]) -> Result<Model> {
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
    Ok(Model::of(layers))
}

/// Keras 2's `inbound_nodes` value of `layer` called on the layer outputs `inbound` (in
/// input order): `[[[name, 0, tensor_index, kwargs], ...]]`, the inputs a layer takes by keyword (its
/// [`Layer::keyword_inputs`]) written into the first input's kwargs as Keras 2 does (a
/// one-input call of such a layer passes its input as the first keyword input too: Kiln's
/// self-attention is Keras' `mha(x, value=x)`), with the layer's non-tensor call kwargs.
fn inbound_node_json(layer: &dyn Layer, inbound: &[(&str, usize, usize)]) -> Value {
    let Some((&first, rest)) = inbound.split_first() else {
        return json!([]);
    };
    let mut kwargs = layer.call_kwargs();
    let keyword = layer.keyword_inputs();
    if keyword.is_empty() {
        let refs: Vec<Value> = inbound
            .iter()
            .map(|&(from, node, tensor)| json!([from, node, tensor, kwargs]))
            .collect();
        return json!([refs]);
    }
    let itself = [first];
    let by_keyword: &[(&str, usize, usize)] = if rest.is_empty() { &itself } else { rest };
    for (name, &from) in keyword.iter().zip(by_keyword) {
        kwargs.insert((*name).to_string(), tensor_ref(from));
    }
    json!([[[first.0, first.1, first.2, kwargs]]])
}

/// A layer output a config refers to: (layer name, node index, tensor index).
type Ref = (String, usize, usize);

/// The calls (nodes) of an `inbound_nodes` value: a list with one entry per call; an
/// input layer has none.
fn nodes_of<'v>(name: &str, nodes: &'v Value) -> Result<&'v [Value]> {
    match nodes {
        Value::Null => Ok(&[]),
        Value::Array(nodes) => Ok(nodes),
        other => Err(model_config_error(
            "Functional",
            "inbound_nodes",
            format!("layer `{name}`: must be a list, got {other}"),
        )),
    }
}

/// The layer outputs (name, node index, tensor index) one call (`node`, an entry of a
/// Keras 2 or Keras 3 `inbound_nodes` value) of `layer` refers to, in input order: the call's first argument, then the inputs the layer takes by keyword
/// ([`Layer::keyword_inputs`], e.g. `mha(query, value=v)`). The call's other keyword
/// arguments go to [`Layer::set_call_kwargs`]; a tensor passed by any other keyword is an
/// error. Each reference is `[name, node_index, tensor_index]`.
fn call_refs(layer: &mut dyn Layer, node: &Value) -> Result<Vec<Ref>> {
    let name = layer.name().unwrap_or_default().to_string();
    let error = |msg: String| {
        model_config_error(
            "Functional",
            "inbound_nodes",
            format!("layer `{name}`: {msg}"),
        )
    };
    let mut refs = Vec::new();
    let kwargs = match node {
        // Keras 2, a TF op's one tensor (`TFOpLambda` keeps its input's structure):
        // [name, node_index, tensor_index, kwargs]
        Value::Array(items) if items.first().is_some_and(Value::is_string) => {
            refs.push(node.clone());
            items.get(3)
        }
        // Keras 2: [[name, node_index, tensor_index, kwargs], ...]
        Value::Array(items) => {
            refs.extend(items.iter().cloned());
            items.first().and_then(|first| first.get(3))
        }
        // Keras 3: {"args": [...], "kwargs": {...}}, tensors carry `keras_history`.
        Value::Object(call) => {
            collect_histories(call.get("args").unwrap_or(&Value::Null), &mut refs);
            call.get("kwargs")
        }
        other => return Err(error(format!("unexpected node {other}"))),
    };
    let mut kwargs = kwargs
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut missing = None;
    for keyword in layer.keyword_inputs() {
        // A keyword input given as a number (a TF op's `y=3.0`) stays a call kwarg.
        let history = kwargs.get(*keyword).and_then(tensor_history);
        if history.is_some() {
            kwargs.remove(*keyword);
        }
        match history {
            Some(_) if missing.is_some() => {
                return Err(error(format!(
                    "passes `{keyword}` without `{}`",
                    missing.unwrap_or_default()
                )));
            }
            Some(history) => refs.push(history),
            None => missing = missing.or(Some(*keyword)),
        }
    }
    if let Some((keyword, _)) = kwargs.iter().find(|(_, v)| tensor_history(v).is_some()) {
        return Err(error(format!(
            "passes a tensor as keyword argument `{keyword}`, which Kiln does not support for {}",
            layer.class_name()
        )));
    }
    layer.set_call_kwargs(&kwargs)?;
    refs.iter().map(|r| port_of(r).map_err(error)).collect()
}

/// The (layer name, node index, tensor index) of a `[name, node_index, tensor_index, ...]`
/// reference.
fn port_of(r: &Value) -> std::result::Result<Ref, String> {
    let parts = r.as_array().filter(|p| p.len() >= 3);
    let name = parts.and_then(|p| p[0].as_str());
    let node = parts.and_then(|p| p[1].as_u64());
    let tensor = parts.and_then(|p| p[2].as_u64());
    match (name, node, tensor) {
        (Some(name), Some(node), Some(tensor)) => {
            Ok((name.to_string(), node as usize, tensor as usize))
        }
        _ => Err(format!(
            "expected [layer_name, node_index, tensor_index, ...], got {r}"
        )),
    }
}

/// The `[name, node_index, tensor_index]` of a tensor passed as a keyword argument: Keras
/// 2's triple itself, or a Keras 3 tensor's `keras_history`; `None` for any other value.
fn tensor_history(value: &Value) -> Option<Value> {
    if let Some(history) = value.pointer("/config/keras_history") {
        return Some(history.clone());
    }
    let items = value.as_array()?;
    let is_triple =
        items.len() == 3 && items[0].is_string() && items[1].is_u64() && items[2].is_u64();
    is_triple.then(|| value.clone())
}

/// Every `keras_history` triple inside a Keras 3 call's `args`, in order.
fn collect_histories(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_histories(v, out)),
        Value::Object(map) => match map.get("config").and_then(|c| c.get("keras_history")) {
            Some(history) => out.push(history.clone()),
            None => map.values().for_each(|v| collect_histories(v, out)),
        },
        _ => {}
    }
}

/// The layer outputs (name, node index, tensor index) of `input_layers` / `output_layers`:
/// a list of `[name, node_index, tensor_index]`, or one such triple (Keras 3).
fn io_names(inner: &Value, field: &str) -> Result<Vec<Ref>> {
    let error = |msg: String| model_config_error("Functional", field, msg);
    let value = inner
        .get(field)
        .and_then(Value::as_array)
        .ok_or_else(|| error("must be a list of [layer_name, 0, 0]".into()))?;
    let triples: Vec<&Value> = if value.first().is_some_and(Value::is_string) {
        vec![inner.get(field).expect("read above")]
    } else {
        value.iter().collect()
    };
    triples
        .into_iter()
        .map(|t| port_of(t).map_err(error))
        .collect()
}

/// The graph entries of a `Functional` config: one per call of each layer (a shared
/// layer's later calls are copies of it, marked in `shared` as calls of its first), each
/// with the layer outputs it takes, and the entry of each (layer name, node index).
struct Entries {
    layers: Vec<Box<dyn Layer>>,
    refs: Vec<Vec<Ref>>,
    shared: BTreeMap<usize, usize>,
    index: HashMap<(String, usize), usize>,
}

/// The entries of `entries` (see [`Entries`]); an error if two layers share a name.
fn read_entries(entries: &[Value]) -> Result<Entries> {
    let mut out = Entries {
        layers: Vec::with_capacity(entries.len()),
        refs: Vec::with_capacity(entries.len()),
        shared: BTreeMap::new(),
        index: HashMap::new(),
    };
    for entry in entries {
        let first = layer_from_json(entry)?;
        let name = first.name().unwrap_or_default().to_string();
        let nodes = nodes_of(&name, entry.get("inbound_nodes").unwrap_or(&Value::Null))?;
        let owner = out.layers.len();
        if out.index.contains_key(&(name.clone(), 0)) {
            return Err(model_config_error(
                "Functional",
                "layers",
                format!("two layers are named `{name}`"),
            ));
        }
        let mut layer = Some(first);
        for k in 0..nodes.len().max(1) {
            let mut call = match layer.take() {
                Some(first) => first,
                None => layer_from_json(entry)?,
            };
            let refs = match nodes.get(k) {
                Some(node) => call_refs(call.as_mut(), node)?,
                None => Vec::new(),
            };
            if k > 0 {
                out.shared.insert(owner + k, owner);
            }
            out.index.insert((name.clone(), k), owner + k);
            out.layers.push(call);
            out.refs.push(refs);
        }
    }
    Ok(out)
}

/// The layers, connections, inputs and outputs of a `Functional` config, in a topological
/// order that keeps the config's order where it already is one (Keras lists layers so).
fn functional_from_entries(inner: &Value, entries: &[Value]) -> Result<Model> {
    let Entries {
        layers,
        refs,
        shared,
        index,
    } = read_entries(entries)?;
    let lookup = |(name, node, output): &Ref, field: &str| -> Result<Port> {
        let layer = index.get(&(name.clone(), *node)).copied().ok_or_else(|| {
            model_config_error(
                "Functional",
                field,
                format!("refers to unknown layer `{name}` (node {node})"),
            )
        })?;
        Ok(Port {
            layer,
            output: *output,
        })
    };
    let inbound: Vec<Vec<Port>> = refs
        .iter()
        .map(|call| call.iter().map(|r| lookup(r, "inbound_nodes")).collect())
        .collect::<Result<_>>()?;
    // A shared layer's later calls come after its first (which creates the weights).
    let mut dependencies = layer_lists(&inbound);
    for (&call, &owner) in &shared {
        dependencies[call].push(owner);
    }
    let order = topological_order(&dependencies).map_err(|stuck| {
        model_config_error(
            "Functional",
            "inbound_nodes",
            format!(
                "the layers form a cycle through `{}`",
                layers[stuck].name().unwrap_or_default()
            ),
        )
    })?;
    let mut position = vec![0; layers.len()];
    for (p, &i) in order.iter().enumerate() {
        position[i] = p;
    }
    let io = |field: &str| -> Result<Vec<Port>> {
        io_names(inner, field)?
            .iter()
            .map(|r| Ok(at(lookup(r, field)?, &position)))
            .collect()
    };
    let inputs = io("input_layers")?.iter().map(|p| p.layer).collect();
    let outputs = io("output_layers")?;
    let ordered_inbound = order
        .iter()
        .map(|&i| inbound[i].iter().map(|&p| at(p, &position)).collect())
        .collect();
    let graph = LayerGraph::from_parts(GraphParts {
        name: String::new(),
        kind: ModelKind::Functional,
        layers: reorder(layers, &order),
        inbound: ordered_inbound,
        inputs,
        outputs,
        shared: (shared.iter())
            .map(|(&call, &owner)| (position[call], position[owner]))
            .collect(),
    });
    check_input_layers(&graph)?;
    Ok(Model::from_graph(graph))
}

/// `port` with its layer moved to `position[layer]`.
fn at(port: Port, position: &[usize]) -> Port {
    Port {
        layer: position[port.layer],
        output: port.output,
    }
}

/// An error unless every model input of `graph` is an `InputLayer`.
fn check_input_layers(graph: &LayerGraph) -> Result<()> {
    for &i in graph.inputs() {
        if !graph.inbound(i).is_empty() || graph.layers()[i].input_shape().is_none() {
            return Err(model_config_error(
                "Functional",
                "input_layers",
                format!("`{}` is not an InputLayer", graph.layer_name(i)),
            ));
        }
    }
    Ok(())
}

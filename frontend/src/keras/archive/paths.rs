//! Keras 3's object paths: where each layer's variables live in a `model.weights.h5`
//! (the member of a `.keras` archive, and the file `save_weights("x.weights.h5")` writes).
//!
//! - A layer's group is `layers/<key>`, `<key>` being its class in snake case
//!   ([`to_snake_case`]: `Conv2D` → `conv2d`, `PReLU` → `p_re_lu`) with `_1`, `_2`, ... for
//!   the 2nd, 3rd, ... layer of the class in `model.layers` order ([`layer_keys`]; a
//!   Sequential model's `InputLayer` is not in `model.layers` and gets no key).
//! - Its variables are datasets `0`, `1`, ... of a `vars` group, in the layer's variable
//!   order — Kiln's parameter order. Sub-layers nest under their attribute names:
//!   recurrent layers keep theirs in `cell/vars`, Bidirectional in
//!   `forward_layer/cell/vars` and `backward_layer/cell/vars`, TimeDistributed in
//!   `layer/vars` (plus the wrapped layer's own nesting), MultiHeadAttention in
//!   `query_dense`, `key_dense`, `value_dense`, `output_dense` ([`var_groups`]).
//! - Every layer and sub-layer has a `vars` group, empty when it has no variables
//!   ([`var_groups`] lists those a writer adds so the file looks as Keras' own).
//!
//! This file only names paths; reading and writing the HDF5 file is elsewhere.

use serde_json::Value;

use crate::layers::ParamSpec;

/// Keras 3's `to_snake_case`: drop non-word characters, then `_` before each capitalised
/// word and between a lower-case letter and a capital (`MultiHeadAttention` →
/// `multi_head_attention`, `SimpleRNN` → `simple_rnn`, `Conv2DTranspose` →
/// `conv2d_transpose`).
pub fn to_snake_case(name: &str) -> String {
    let chars: Vec<char> = name
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    // Pass 1, `(.)([A-Z][a-z]+)` → `\1_\2`: before a capital followed by lower case.
    let mut first = String::with_capacity(chars.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
        if i > 0 && c.is_ascii_uppercase() && next_lower {
            first.push('_');
        }
        first.push(c);
    }
    // Pass 2, `([a-z])([A-Z])` → `\1_\2`.
    let mut out = String::with_capacity(first.len() + 8);
    let mut previous: Option<char> = None;
    for c in first.chars() {
        if previous.is_some_and(|p| p.is_ascii_lowercase()) && c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c);
        previous = Some(c);
    }
    out.to_lowercase()
}

/// The `layers/<key>` key of each layer of `layers` (`(class, name)` in `model.layers`
/// order), as `(name, key)`.
pub fn layer_keys<'a>(layers: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    layers
        .iter()
        .map(|&(class, name)| {
            let base = to_snake_case(class);
            let count = counts.entry(base.clone()).or_insert(0);
            let key = if *count == 0 {
                base
            } else {
                format!("{base}_{count}")
            };
            *count += 1;
            (name, key)
        })
        .collect()
}

/// The classes whose variables live in a `cell` sub-layer.
const RECURRENT: [&str; 3] = ["SimpleRNN", "LSTM", "GRU"];

/// MultiHeadAttention: Kiln's parameter prefix → Keras 3's sub-layer attribute.
const ATTENTION_DENSES: [(&str, &str); 4] = [
    ("query/", "query_dense"),
    ("key/", "key_dense"),
    ("value/", "value_dense"),
    ("attention_output/", "output_dense"),
];

/// The class of the layer a wrapper (`Bidirectional`, `TimeDistributed`) wraps, from the
/// wrapper's Keras config (`{"layer": {"class_name": ...}}`).
fn wrapped_class(config: &Value) -> &str {
    config
        .get("layer")
        .and_then(|l| l.get("class_name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The sub-layer group (relative to the layer's group, `""` for the layer itself) that
/// holds Kiln parameter `param` of a layer of `class` with Keras config `config`.
fn sub_layer(class: &str, config: &Value, param: &str) -> String {
    if RECURRENT.contains(&class) {
        return "cell".into();
    }
    match class {
        "Bidirectional" => {
            let side = if param.starts_with("backward_") {
                "backward_layer"
            } else {
                "forward_layer"
            };
            let inner = sub_layer(wrapped_class(config), &Value::Null, param);
            join(side, &inner)
        }
        "TimeDistributed" => {
            let inner_config = config.get("layer").and_then(|l| l.get("config"));
            let inner = sub_layer(
                wrapped_class(config),
                inner_config.unwrap_or(&Value::Null),
                param,
            );
            join("layer", &inner)
        }
        "MultiHeadAttention" => ATTENTION_DENSES
            .iter()
            .find(|(prefix, _)| param.starts_with(prefix))
            .map_or_else(String::new, |(_, attr)| (*attr).to_string()),
        _ => String::new(),
    }
}

/// `a/b`, or one of them when the other is empty.
fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

/// For each of a layer's parameters (Kiln order), the path of its dataset relative to the
/// layer's group: `vars/0`, `cell/vars/1`, `forward_layer/cell/vars/2`, ...: the
/// sub-layer's `vars` group, numbered in parameter order within each group.
pub fn var_paths(class: &str, config: &Value, params: &[ParamSpec]) -> Vec<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    params
        .iter()
        .map(|p| {
            let group = join(&sub_layer(class, config, p.name), "vars");
            let index = match counts.iter_mut().find(|(g, _)| *g == group) {
                Some((_, n)) => {
                    *n += 1;
                    *n - 1
                }
                None => {
                    counts.push((group.clone(), 1));
                    0
                }
            };
            format!("{group}/{index}")
        })
        .collect()
}

/// The `vars` groups (relative to the layer's group) Keras writes for a layer of `class`,
/// with the `name` attribute each carries (`layer` is the layer's name): the layer's own,
/// and every sub-layer's, whether or not they hold variables.
pub fn var_groups(class: &str, config: &Value, layer: &str) -> Vec<(String, String)> {
    let mut groups = vec![("vars".to_string(), layer.to_string())];
    let inner_name = |config: &Value| {
        config
            .get("layer")
            .and_then(|l| l.get("config"))
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .unwrap_or(layer)
            .to_string()
    };
    if RECURRENT.contains(&class) {
        groups.push(("cell/vars".into(), format!("{}_cell", to_snake_case(class))));
    }
    match class {
        "Bidirectional" => {
            let inner = wrapped_class(config);
            for side in ["forward", "backward"] {
                let name = format!("{side}_{}", inner_name(config));
                for (path, attr) in var_groups(inner, &Value::Null, &name) {
                    groups.push((format!("{side}_layer/{path}"), attr));
                }
            }
        }
        "TimeDistributed" => {
            let inner_config = config.get("layer").and_then(|l| l.get("config"));
            let inner = var_groups(
                wrapped_class(config),
                inner_config.unwrap_or(&Value::Null),
                &inner_name(config),
            );
            for (path, attr) in inner {
                groups.push((format!("layer/{path}"), attr));
            }
        }
        "MultiHeadAttention" => {
            for (attr, name) in [
                ("query_dense", "query"),
                ("key_dense", "key"),
                ("value_dense", "value"),
                ("output_dense", "attention_output"),
                ("_softmax", "softmax"),
                ("_dropout_layer", "dropout"),
            ] {
                groups.push((format!("{attr}/vars"), name.to_string()));
            }
        }
        _ => {}
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_become_keras_keys() {
        for (class, key) in [
            ("Dense", "dense"),
            ("Conv2D", "conv2d"),
            ("BatchNormalization", "batch_normalization"),
            ("PReLU", "p_re_lu"),
            ("ReLU", "re_lu"),
            ("ELU", "elu"),
            ("Conv2DTranspose", "conv2d_transpose"),
            ("SimpleRNN", "simple_rnn"),
            ("LSTM", "lstm"),
            ("GlobalAveragePooling2D", "global_average_pooling2d"),
            ("MultiHeadAttention", "multi_head_attention"),
            ("InputLayer", "input_layer"),
            ("UpSampling2D", "up_sampling2d"),
        ] {
            assert_eq!(to_snake_case(class), key, "{class}");
        }
    }

    #[test]
    fn repeated_classes_are_numbered() {
        let keys = layer_keys(&[
            ("Dense", "a"),
            ("Conv2D", "b"),
            ("Dense", "c"),
            ("Dense", "d"),
        ]);
        let keys: Vec<&str> = keys.iter().map(|(_, k)| k.as_str()).collect();
        assert_eq!(keys, ["dense", "conv2d", "dense_1", "dense_2"]);
    }
}

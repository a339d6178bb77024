//! Keras' application architectures (VGG16, VGG19, ResNet50) rebuilt from the configs Keras
//! wrote (`fixtures/keras/architectures/*_config.json`) and checked against Keras' own
//! figures in `index.json`: every layer's output shape and parameter count, and the
//! total / trainable / non-trainable parameter counts. Exact integer comparisons.

use std::collections::HashMap;

use ir::Shape;
use kiln::layers::{Layer, layer_from_json};
use serde_json::Value;

const INDEX: &str = include_str!("fixtures/keras/architectures/index.json");
const CONFIGS: [(&str, &str); 3] = [
    (
        "vgg16",
        include_str!("fixtures/keras/architectures/vgg16_config.json"),
    ),
    (
        "vgg19",
        include_str!("fixtures/keras/architectures/vgg19_config.json"),
    ),
    (
        "resnet50",
        include_str!("fixtures/keras/architectures/resnet50_config.json"),
    ),
];

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is valid JSON")
}

/// Keras' `[null, 224, 224, 3]` (or the input layer's `[[null, 224, 224, 3]]`) without the
/// batch axis.
fn keras_dims(shape: &Value) -> Shape {
    let shape = match shape.as_array().and_then(|a| a.first()) {
        Some(Value::Array(_)) => &shape[0],
        _ => shape,
    };
    let dims: Vec<usize> = shape.as_array().expect("a shape is a list")[1..]
        .iter()
        .map(|d| d.as_u64().expect("per-example dims are known") as usize)
        .collect();
    Shape::new(dims)
}

/// The names of the layers feeding `entry` (Keras 2's `inbound_nodes: [[[name, 0, 0, {}], ...]]`).
fn inbound_names(entry: &Value) -> Vec<String> {
    entry["inbound_nodes"]
        .as_array()
        .and_then(|nodes| nodes.first())
        .and_then(Value::as_array)
        .map(|node| {
            node.iter()
                .map(|t| t[0].as_str().expect("inbound layer name").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Parameter counts of `layer` on `inputs`: (trainable, non-trainable).
fn param_counts(layer: &dyn Layer, inputs: &[Shape]) -> (usize, usize) {
    layer
        .params_many(inputs)
        .iter()
        .fold((0, 0), |(t, n), p| match p.trainable {
            true => (t + p.shape.numel(), n),
            false => (t, n + p.shape.numel()),
        })
}

#[test]
fn every_layer_rebuilds_with_keras_shapes_and_params() {
    let index = json(INDEX);
    for (model, text) in CONFIGS {
        let want = &index[model];
        let config = json(text);
        let entries = config["config"]["layers"].as_array().unwrap();
        let expected = want["layers"].as_array().unwrap();
        assert_eq!(entries.len(), expected.len(), "{model}: layer count");
        assert_eq!(entries.len() as u64, want["n_layers"].as_u64().unwrap());

        let mut shapes: HashMap<String, Shape> = HashMap::new();
        let (mut trainable, mut frozen) = (0, 0);
        for (entry, keras) in entries.iter().zip(expected) {
            let layer = layer_from_json(entry).unwrap_or_else(|e| panic!("{model}: {e}"));
            let name = layer.name().unwrap().to_string();
            assert_eq!(
                name,
                keras["name"].as_str().unwrap(),
                "{model}: layer order"
            );
            assert_eq!(layer.class_name(), keras["class_name"].as_str().unwrap());
            let (shape, counts) = match layer.input_shape() {
                Some(input) => (input.clone(), (0, 0)),
                None => {
                    let inputs: Vec<Shape> = inbound_names(entry)
                        .iter()
                        .map(|n| shapes[n].clone())
                        .collect();
                    let out = layer
                        .output_shape_many(&inputs)
                        .unwrap_or_else(|e| panic!("{model}: {e}"));
                    (out, param_counts(layer.as_ref(), &inputs))
                }
            };
            assert_eq!(
                shape,
                keras_dims(&keras["output_shape"]),
                "{model}: {name} output shape"
            );
            assert_eq!(
                (counts.0 + counts.1) as u64,
                keras["params"].as_u64().unwrap(),
                "{model}: {name} params"
            );
            trainable += counts.0;
            frozen += counts.1;
            shapes.insert(name, shape);
        }
        assert_eq!(trainable as u64, want["trainable_params"].as_u64().unwrap());
        assert_eq!(
            frozen as u64,
            want["non_trainable_params"].as_u64().unwrap()
        );
        assert_eq!(
            (trainable + frozen) as u64,
            want["total_params"].as_u64().unwrap()
        );
    }
}

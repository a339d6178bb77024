//! Keras' application architectures VGG16, VGG19 and ResNet50 (a layer graph with `Add`
//! merges) rebuilt as models from the configs Keras wrote
//! (`fixtures/keras/architectures/*_config.json`, tf-keras 2.21, no weights) and checked
//! against Keras' own figures in `index.json`: every layer's class, output shape and
//! parameter count, the total / trainable / non-trainable counts, the model's input and
//! output shapes, and `summary(line_length=110)` line by line. Exact comparisons; a model's
//! config written back by Kiln rebuilds the same model.

use kiln::Model;
use serde_json::Value;

const INDEX: &str = include_str!("fixtures/keras/architectures/index.json");

/// One architecture: its key in the index, its Keras config and Keras' summary.
struct Architecture {
    name: &'static str,
    config: &'static str,
    summary: &'static str,
}

const ARCHITECTURES: [Architecture; 3] = [
    Architecture {
        name: "vgg16",
        config: include_str!("fixtures/keras/architectures/vgg16_config.json"),
        summary: include_str!("fixtures/keras/architectures/vgg16_summary.txt"),
    },
    Architecture {
        name: "vgg19",
        config: include_str!("fixtures/keras/architectures/vgg19_config.json"),
        summary: include_str!("fixtures/keras/architectures/vgg19_summary.txt"),
    },
    Architecture {
        name: "resnet50",
        config: include_str!("fixtures/keras/architectures/resnet50_config.json"),
        summary: include_str!("fixtures/keras/architectures/resnet50_summary.txt"),
    },
];

/// Keras' summary line length for these fixtures.
const KERAS_LINE_LENGTH: usize = 110;

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is valid JSON")
}

/// Per-example dims of Keras' `[null, d1, ...]` (or the input layer's `[[null, d1, ...]]`).
fn keras_dims(shape: &Value) -> Vec<usize> {
    let shape = match shape.get(0) {
        Some(Value::Array(_)) => &shape[0],
        _ => shape,
    };
    shape.as_array().expect("a shape is a list")[1..]
        .iter()
        .map(|d| d.as_u64().expect("per-example dims are known") as usize)
        .collect()
}

fn count(value: &Value) -> usize {
    value.as_u64().expect("a count") as usize
}

/// Every figure of `model` against the index entry `want` of `name`.
fn check_figures(name: &str, model: &Model, want: &Value) {
    let keras_layers = want["layers"].as_array().unwrap();
    assert_eq!(model.layers().len(), keras_layers.len(), "{name}: layers");
    assert_eq!(model.layers().len(), count(&want["n_layers"]), "{name}");
    let shapes = model.layer_shapes().unwrap();
    for ((layer, shapes), keras) in model.layers().iter().zip(&shapes).zip(keras_layers) {
        let label = layer.name().unwrap();
        assert_eq!(label, keras["name"], "{name}: layer order");
        assert_eq!(layer.class_name(), keras["class_name"], "{name}/{label}");
        assert_eq!(
            shapes.output.dims(),
            keras_dims(&keras["output_shape"]),
            "{name}/{label}: output shape"
        );
        let params: usize = shapes.params.iter().map(|p| p.shape.numel()).sum();
        assert_eq!(params, count(&keras["params"]), "{name}/{label}: params");
    }
    assert_eq!(model.count_params().unwrap(), count(&want["total_params"]));
    assert_eq!(
        model.count_trainable_params().unwrap(),
        count(&want["trainable_params"]),
        "{name}: trainable"
    );
    assert_eq!(
        model.count_non_trainable_params().unwrap(),
        count(&want["non_trainable_params"]),
        "{name}: non-trainable"
    );
    assert_eq!(
        model.input_shape().unwrap().dims(),
        keras_dims(&want["input_shape"])
    );
    assert_eq!(
        model.output_shape().unwrap().dims(),
        keras_dims(&want["output_shape"])
    );
}

/// `model`'s summary against Keras' text, line by line.
fn check_summary(name: &str, model: &Model, keras: &str) {
    let got = model.summary_with_line_length(KERAS_LINE_LENGTH).unwrap();
    for (i, (g, w)) in got.lines().zip(keras.lines()).enumerate() {
        assert_eq!(g, w, "{name}: summary line {}", i + 1);
    }
    assert_eq!(got.lines().count(), keras.lines().count(), "{name}: lines");
}

#[test]
fn architectures_match_keras_figures_and_summaries() {
    let index = json(INDEX);
    for arch in &ARCHITECTURES {
        let model =
            Model::from_config(&json(arch.config)).unwrap_or_else(|e| panic!("{}: {e}", arch.name));
        check_figures(arch.name, &model, &index[arch.name]);
        check_summary(arch.name, &model, arch.summary);
    }
}

#[test]
fn configs_written_back_rebuild_the_same_models() {
    for arch in &ARCHITECTURES {
        let model = Model::from_config(&json(arch.config)).unwrap();
        let written = model.to_config();
        let rebuilt = Model::from_config(&written)
            .unwrap_or_else(|e| panic!("{}: rebuilding Kiln's config: {e}", arch.name));
        assert_eq!(rebuilt.to_config(), written, "{}", arch.name);
        assert_eq!(
            rebuilt.summary_with_line_length(KERAS_LINE_LENGTH).unwrap(),
            model.summary_with_line_length(KERAS_LINE_LENGTH).unwrap(),
            "{}",
            arch.name
        );
    }
}

#[test]
fn resnet50_residual_blocks_merge_two_branches() {
    let model = Model::from_config(&json(ARCHITECTURES[2].config)).unwrap();
    let adds: Vec<usize> = (0..model.layers().len())
        .filter(|&i| model.layers()[i].class_name() == "Add")
        .collect();
    assert_eq!(adds.len(), 16, "ResNet50 has 16 residual blocks");
    for i in adds {
        let inbound = model.inbound_layers(i);
        assert_eq!(inbound.len(), 2, "{}", model.layers()[i].name().unwrap());
    }
    // The first block's shortcut is a projection, the second's the identity.
    assert_eq!(
        model.inbound_layers(index_of(&model, "conv2_block1_add")),
        ["conv2_block1_0_bn", "conv2_block1_3_bn"]
    );
    assert_eq!(
        model.inbound_layers(index_of(&model, "conv2_block2_add")),
        ["conv2_block1_out", "conv2_block2_3_bn"]
    );
}

fn index_of(model: &Model, name: &str) -> usize {
    model
        .layers()
        .iter()
        .position(|l| l.name() == Some(name))
        .unwrap_or_else(|| panic!("no layer {name}"))
}

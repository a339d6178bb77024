//! Every `kiln::applications` builder against tf-keras 2.21: for each model and argument
//! variant in `fixtures/applications/summaries.json` (written by `make_summaries.py` beside
//! it, `tf_keras.applications.X(weights=None, ...)`), Kiln's model lists the same layers in
//! the same order with the same names, per-example output shapes and parameter counts, and
//! the same total / trainable / non-trainable counts. Graphs are built, never compiled.
//! Also: each layer's Keras config agrees with tf-keras' in every field that changes what it
//! computes (`fixtures/applications/configs.json`, `make_configs.py`: epsilon, momentum,
//! strides, padding, activation, ...; one small variant per family); a built model's Keras
//! config rebuilds it; the argument checks (a too-small input, a
//! MobileNet argument given to another family).
//!
//! Custom layers: Kiln writes `CustomScaleLayer`'s class as its registered name
//! `Custom>CustomScaleLayer`, tf-keras' `get_config` the bare class; the field comparison
//! takes the part after `>`.

use kiln::activations::Activation;
use kiln::applications::{self, Options, Pooling};
use kiln::{Model, Result};
use serde_json::Value;

const SUMMARIES: &str = include_str!("fixtures/applications/summaries.json");
const CONFIGS: &str = include_str!("fixtures/applications/configs.json");

type Builder = fn(&Options) -> Result<Model>;

/// Each builder by the key prefix of its variants in the fixture.
const BUILDERS: [(&str, Builder); 53] = [
    ("vgg16", applications::vgg16),
    ("vgg19", applications::vgg19),
    ("resnet50", applications::resnet50),
    ("resnet101", applications::resnet101),
    ("resnet152", applications::resnet152),
    ("resnet50_v2", applications::resnet50_v2),
    ("resnet101_v2", applications::resnet101_v2),
    ("resnet152_v2", applications::resnet152_v2),
    ("inception_v3", applications::inception_v3),
    ("xception", applications::xception),
    ("mobilenet", applications::mobilenet),
    ("mobilenet_v2", applications::mobilenet_v2),
    ("densenet121", applications::densenet121),
    ("densenet169", applications::densenet169),
    ("densenet201", applications::densenet201),
    ("nasnet_mobile", applications::nasnet_mobile),
    ("nasnet_large", applications::nasnet_large),
    ("efficientnet_b0", applications::efficientnet_b0),
    ("efficientnet_b1", applications::efficientnet_b1),
    ("efficientnet_b2", applications::efficientnet_b2),
    ("efficientnet_b3", applications::efficientnet_b3),
    ("efficientnet_b4", applications::efficientnet_b4),
    ("efficientnet_b5", applications::efficientnet_b5),
    ("efficientnet_b6", applications::efficientnet_b6),
    ("efficientnet_b7", applications::efficientnet_b7),
    ("mobilenet_v3_small", applications::mobilenet_v3_small),
    ("mobilenet_v3_large", applications::mobilenet_v3_large),
    ("inception_resnet_v2", applications::inception_resnet_v2),
    ("efficientnet_v2_b0", applications::efficientnet_v2_b0),
    ("efficientnet_v2_b1", applications::efficientnet_v2_b1),
    ("efficientnet_v2_b2", applications::efficientnet_v2_b2),
    ("efficientnet_v2_b3", applications::efficientnet_v2_b3),
    ("efficientnet_v2_s", applications::efficientnet_v2_s),
    ("efficientnet_v2_m", applications::efficientnet_v2_m),
    ("efficientnet_v2_l", applications::efficientnet_v2_l),
    ("regnet_x002", applications::regnet_x002),
    ("regnet_x004", applications::regnet_x004),
    ("regnet_x006", applications::regnet_x006),
    ("regnet_x008", applications::regnet_x008),
    ("regnet_x016", applications::regnet_x016),
    ("regnet_x032", applications::regnet_x032),
    ("regnet_x040", applications::regnet_x040),
    ("regnet_x064", applications::regnet_x064),
    ("regnet_x080", applications::regnet_x080),
    ("regnet_x120", applications::regnet_x120),
    ("regnet_x160", applications::regnet_x160),
    ("regnet_x320", applications::regnet_x320),
    ("regnet_y002", applications::regnet_y002),
    ("convnext_tiny", applications::convnext_tiny),
    ("convnext_small", applications::convnext_small),
    ("convnext_base", applications::convnext_base),
    ("convnext_large", applications::convnext_large),
    ("convnext_xlarge", applications::convnext_xlarge),
];

/// The builder whose name is the longest prefix of `key`.
fn builder_of(key: &str) -> Builder {
    BUILDERS
        .iter()
        .filter(|(name, _)| key == *name || key.starts_with(&format!("{name}_")))
        .max_by_key(|(name, _)| name.len())
        .unwrap_or_else(|| panic!("no builder for fixture `{key}`"))
        .1
}

/// Keras' keyword arguments as [`Options`].
fn options_of(args: &Value) -> Options {
    let mut options = Options::new();
    for (key, value) in args.as_object().expect("args are an object") {
        options = match key.as_str() {
            "include_top" => options.include_top(value.as_bool().expect("a bool")),
            "input_shape" => {
                let dims: Vec<usize> = value
                    .as_array()
                    .expect("a list")
                    .iter()
                    .map(|d| d.as_u64().expect("a size") as usize)
                    .collect();
                options.input_shape(dims.try_into().expect("three dims"))
            }
            "pooling" => options.pooling(match value.as_str() {
                Some("avg") => Pooling::Avg,
                Some("max") => Pooling::Max,
                _ => Pooling::None,
            }),
            "classes" => options.classes(value.as_u64().expect("a count") as usize),
            "classifier_activation" => {
                assert!(value.is_null(), "only None is used in the fixture");
                options.classifier_activation(Activation::Linear)
            }
            "alpha" => options.alpha(value.as_f64().expect("a number") as f32),
            "depth_multiplier" => options.depth_multiplier(value.as_u64().expect("int") as usize),
            "dropout" | "dropout_rate" => options.dropout(value.as_f64().expect("a number") as f32),
            "minimalistic" => options.minimalistic(value.as_bool().expect("a bool")),
            "include_preprocessing" => {
                options.include_preprocessing(value.as_bool().expect("a bool"))
            }
            other => panic!("unknown argument `{other}`"),
        };
    }
    options
}

/// Kiln's layers as the fixture writes them: `name|d1,d2,...|params`.
fn kiln_layers(model: &Model) -> Vec<String> {
    let shapes = model.layer_shapes().expect("shapes");
    model
        .layers()
        .iter()
        .zip(shapes)
        .map(|(layer, s)| {
            let dims: Vec<String> = s.output.dims().iter().map(usize::to_string).collect();
            let params: usize = s.params.iter().map(|p| p.shape.numel()).sum();
            format!(
                "{}|{}|{params}",
                layer.name().unwrap_or("?"),
                dims.join(",")
            )
        })
        .collect()
}

#[test]
fn every_builder_matches_keras_layer_by_layer() {
    let fixture: Value = serde_json::from_str(SUMMARIES).expect("valid JSON");
    let mut failures = Vec::new();
    let variants = fixture.as_object().expect("an object");
    let builders: std::collections::BTreeSet<&str> = variants
        .keys()
        .map(|k| {
            let b = builder_of(k);
            BUILDERS
                .iter()
                .find(|(_, f)| std::ptr::fn_addr_eq(*f, b))
                .expect("listed")
                .0
        })
        .collect();
    assert_eq!(
        builders.len(),
        BUILDERS.len(),
        "every builder has a variant in the fixture"
    );
    let mut layers_compared = 0;
    for (key, want) in variants {
        let model = match builder_of(key)(&options_of(&want["args"])) {
            Ok(model) => model,
            Err(e) => {
                failures.push(format!("{key}: {e}"));
                continue;
            }
        };
        let got = kiln_layers(&model);
        let want_layers: Vec<&str> = want["layers"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|l| l.as_str().expect("a string"))
            .collect();
        if let Some(i) = (0..got.len().max(want_layers.len()))
            .find(|&i| got.get(i).map(String::as_str) != want_layers.get(i).copied())
        {
            failures.push(format!(
                "{key}: layer {i} is {:?}, Keras has {:?} ({} layers vs {})",
                got.get(i),
                want_layers.get(i),
                got.len(),
                want_layers.len()
            ));
            continue;
        }
        layers_compared += got.len();
        if model.name() != want["name"].as_str().expect("a name") {
            failures.push(format!(
                "{key}: model `{}`, Keras `{}`",
                model.name(),
                want["name"]
            ));
        }
        let counts = [
            model.count_params().expect("count"),
            model.count_trainable_params().expect("count"),
            model.count_non_trainable_params().expect("count"),
        ];
        let want_counts = ["total", "trainable", "non_trainable"]
            .map(|k| want[k].as_u64().expect("a count") as usize);
        if counts != want_counts {
            failures.push(format!("{key}: counts {counts:?}, Keras {want_counts:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let in_fixture: usize = variants
        .values()
        .map(|v| v["layers"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(
        layers_compared, in_fixture,
        "every layer of every variant compared"
    );
}

/// Whether two config values agree: numbers to f32 precision (Kiln stores f32), the rest
/// exactly, lists and objects element by element.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            (x - y).abs() <= 1e-6 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y))
        }
        _ => a == b,
    }
}

/// A feature axis of an image batch as one positive number: Keras writes a built
/// BatchNormalization's axis as `[3]`, Kiln as `3` or `-1`.
fn image_axis(axis: &Value) -> Option<i64> {
    let axis = match axis {
        Value::Array(one) if one.len() == 1 => &one[0],
        other => other,
    };
    axis.as_i64().map(|a| if a < 0 { a + 4 } else { a })
}

#[test]
fn layer_configs_match_keras_in_every_field_that_computes() {
    let fixture: Value = serde_json::from_str(CONFIGS).expect("valid JSON");
    let mut failures = Vec::new();
    for (key, want) in fixture.as_object().expect("an object") {
        let model = builder_of(key)(&options_of(&want["args"])).expect("builds");
        let config = model.to_config();
        let got = config["config"]["layers"].as_array().expect("layers");
        let want = want["layers"].as_array().expect("layers");
        assert_eq!(got.len(), want.len(), "{key}: layer count");
        for (layer, want) in got.iter().zip(want) {
            let name = layer["name"].as_str().unwrap_or("?");
            // Kiln writes a custom layer's class as its registered name
            // (`Custom>CustomScaleLayer`); tf-keras' `get_config` writes the bare class.
            let class = layer["class_name"].as_str().unwrap_or("?");
            if class.rsplit('>').next() != want[0].as_str() {
                failures.push(format!(
                    "{key} {name}: class {} vs Keras {}",
                    layer["class_name"], want[0]
                ));
                continue;
            }
            for (field, value) in want[1].as_object().expect("fields") {
                let ours = &layer["config"][field];
                let same = if field == "axis" {
                    image_axis(ours) == image_axis(value)
                } else {
                    same_value(ours, value)
                };
                if !same {
                    failures.push(format!("{key} {name}: `{field}` {ours} vs Keras {value}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures[..failures.len().min(40)].join("\n")
    );
}

/// Where two JSON values first differ (a path like `config.layers[3].config.padding`), if
/// anywhere.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x.keys().chain(y.keys()).find_map(|k| {
            let field =
                |m: &serde_json::Map<String, Value>| m.get(k).cloned().unwrap_or(Value::Null);
            first_difference(&field(x), &field(y), &format!("{path}.{k}"))
        }),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, &format!("{path}[{i}]"))),
        _ => (a != b).then(|| format!("{path}: {a} vs {b}")),
    }
}

/// The whole Keras config (every field of every layer, the connections, the model's inputs
/// and outputs) equals the one Kiln reads from tf-keras' own configs of the same models
/// (`fixtures/keras/architectures/`, weights left out), up to the input's name.
#[test]
fn whole_configs_equal_keras_own_for_vgg_and_resnet50() {
    let architectures: [(&str, Builder); 3] = [
        ("vgg16", applications::vgg16),
        ("vgg19", applications::vgg19),
        ("resnet50", applications::resnet50),
    ];
    for (name, build) in architectures {
        let path = format!(
            "{}/tests/fixtures/keras/architectures/{name}_config.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("fixture");
        // The fixtures were written in one session: the second model's input is `input_2`.
        let config: Value = serde_json::from_str(&text).expect("JSON");
        let input = config["config"]["input_layers"][0][0]
            .as_str()
            .expect("an input");
        let text = text.replace(&format!("\"{input}\""), "\"input_1\"");
        let keras = Model::from_config(&serde_json::from_str(&text).expect("JSON")).expect("reads");
        let ours = build(&Options::new()).expect("builds");
        let diff = first_difference(&ours.to_config(), &keras.to_config(), name);
        assert_eq!(diff, None, "Kiln's builder vs tf-keras' config");
    }
}

/// The same for one small variant per family: tf-keras' `model.to_json()`
/// (`fixtures/applications/configs/*.json.gz`, `make_configs.py`) read by Kiln gives the
/// same whole config as the builder's model.
#[test]
fn whole_configs_equal_keras_own_for_every_family() {
    use std::io::Read;
    let fixture: Value = serde_json::from_str(CONFIGS).expect("valid JSON");
    for (key, want) in fixture.as_object().expect("an object") {
        let path = format!(
            "{}/tests/fixtures/applications/configs/{key}.json.gz",
            env!("CARGO_MANIFEST_DIR")
        );
        let file = std::fs::File::open(&path).expect("fixture");
        let mut text = String::new();
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .expect("gzip");
        // As Kiln's loader reads a Keras config: nested models (ConvNeXt's) inlined.
        let config =
            kiln::keras::normalize_model_config(&serde_json::from_str(&text).expect("JSON"))
                .expect("normalizes");
        let keras = Model::from_config(&config).expect("reads");
        let ours = builder_of(key)(&options_of(&want["args"])).expect("builds");
        let diff = first_difference(&ours.to_config(), &keras.to_config(), key);
        assert_eq!(diff, None, "Kiln's builder vs tf-keras' config");
    }
}

#[test]
fn built_models_round_trip_through_their_keras_config() {
    let small = Options::new().input_shape([32, 32, 3]).classes(3);
    for build in [
        applications::mobilenet_v2 as Builder,
        applications::densenet121,
        applications::nasnet_mobile,
        applications::resnet50_v2,
        applications::efficientnet_b0,
        applications::efficientnet_v2_b0,
        applications::mobilenet_v3_small,
        applications::regnet_x002,
        applications::convnext_tiny,
    ] {
        let model = build(&small).expect("builds");
        let rebuilt = Model::from_config(&model.to_config()).expect("its config rebuilds it");
        assert_eq!(
            kiln_layers(&rebuilt),
            kiln_layers(&model),
            "{}",
            model.name()
        );
        assert_eq!(rebuilt.to_config(), model.to_config(), "{}", model.name());
    }
}

#[test]
fn arguments_are_checked_like_keras() {
    let small = Options::new().input_shape([31, 64, 3]);
    let err = applications::resnet50(&small)
        .expect_err("too small")
        .to_string();
    assert!(
        err.contains("input_shape") && err.contains("32x32"),
        "{err}"
    );
    let err = applications::inception_v3(&Options::new().input_shape([74, 80, 3]))
        .expect_err("too small")
        .to_string();
    assert!(err.contains("75x75"), "{err}");
    let err = applications::vgg16(&Options::new().alpha(0.5))
        .expect_err("no alpha")
        .to_string();
    assert!(err.contains("alpha") && err.contains("vgg16"), "{err}");
    let err = applications::mobilenet_v2(&Options::new().depth_multiplier(2))
        .expect_err("no depth multiplier")
        .to_string();
    assert!(err.contains("depth_multiplier"), "{err}");
    let err = applications::mobilenet(&Options::new().classes(0))
        .expect_err("no classes")
        .to_string();
    assert!(err.contains("classes"), "{err}");
    let err = applications::resnet50(&Options::new().minimalistic(true))
        .expect_err("MobileNetV3's argument")
        .to_string();
    assert!(err.contains("minimalistic"), "{err}");
    let err = applications::efficientnet_v2_b0(&Options::new().minimalistic(true))
        .expect_err("MobileNetV3's argument")
        .to_string();
    assert!(err.contains("minimalistic"), "{err}");
    let err = applications::efficientnet_b0(&Options::new().dropout(0.3))
        .expect_err("no dropout argument")
        .to_string();
    assert!(err.contains("dropout"), "{err}");
}

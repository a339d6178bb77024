//! Model definition: Keras-style names, shape validation errors naming the layer, and the
//! summary table compared with Keras' own output.

use kiln::prelude::*;

/// Keras' own `model.summary()` of the seed MLP (copied from the shared Keras fixtures).
const KERAS_MLP_SUMMARY: &str = include_str!("data/keras/mlp_summary.txt");

fn seed_mlp() -> Sequential {
    Sequential::of([
        Input::new([28, 28, 1]).into(),
        Flatten::new().into(),
        Dense::new(300).activation(Activation::Relu).into(),
        Dense::new(100).activation(Activation::Relu).into(),
        Dense::new(10).into(),
    ])
}

#[test]
fn summary_of_the_seed_mlp_equals_keras() {
    let model = seed_mlp().named("mlp");
    assert_eq!(model.summary().unwrap(), KERAS_MLP_SUMMARY);
    assert_eq!(model.count_params().unwrap(), 235_500 + 30_100 + 1_010);
}

#[test]
fn the_macro_builds_the_same_model() {
    let model = kiln::sequential![
        Input::new([28, 28, 1]),
        Flatten::new(),
        Dense::new(300).activation(Activation::Relu),
        Dense::new(100).activation(Activation::Relu),
        Dense::new(10),
    ]
    .named("mlp");
    assert_eq!(model.summary().unwrap(), KERAS_MLP_SUMMARY);
}

#[test]
fn layers_get_keras_names_unless_named() {
    let model = Sequential::of([
        Input::new([4]).into(),
        Dense::new(3).named("dense_1").into(),
        Dense::new(3).into(),
        Dense::new(3).into(),
        ActivationLayer::new(Activation::Softmax).into(),
    ]);
    let names: Vec<&str> = model.layers().iter().map(|l| l.name().unwrap()).collect();
    assert_eq!(
        names,
        ["input", "dense_1", "dense", "dense_2", "activation"]
    );
    assert_eq!(model.name(), "sequential");
    let summary = model.summary().unwrap();
    assert!(
        summary.contains(" activation (Activation)     (None, 3)                 0         \n"),
        "{summary}"
    );
}

#[test]
fn dense_after_an_image_input_applies_to_the_last_axis() {
    // As Keras: Dense on (None, 28, 28, 1) gives (None, 28, 28, 10), kernel (1, 10).
    let model = Sequential::of([Input::new([28, 28, 1]).into(), Dense::new(10).into()]);
    let summary = model.summary().unwrap();
    assert!(summary.contains("(None, 28, 28, 10)"), "{summary}");
    assert_eq!(model.count_params().unwrap(), 10 + 10);
}

#[test]
fn malformed_models_are_errors() {
    let no_input = Sequential::of([Dense::new(3).into()]);
    assert!(
        no_input
            .summary()
            .unwrap_err()
            .to_string()
            .contains("first layer must be an Input")
    );
    let empty = Sequential::of(Vec::<Box<dyn Layer>>::new());
    assert!(
        empty
            .summary()
            .unwrap_err()
            .to_string()
            .contains("no layers")
    );
    let late_input = Sequential::of([Input::new([3]).into(), Input::new([3]).into()]);
    assert!(
        late_input
            .summary()
            .unwrap_err()
            .to_string()
            .contains("must be the first layer")
    );
    let twins = Sequential::of([
        Input::new([3]).into(),
        Dense::new(2).named("x").into(),
        Dense::new(2).named("x").into(),
    ]);
    assert!(
        twins
            .summary()
            .unwrap_err()
            .to_string()
            .contains("two layers are named `x`")
    );
    let zero_units = Sequential::of([Input::new([3]).into(), Dense::new(0).into()]);
    assert!(
        zero_units
            .summary()
            .unwrap_err()
            .to_string()
            .contains("dense (Dense): units must be at least 1")
    );
}

#[test]
fn bias_can_be_left_out() {
    let model = Sequential::of([Input::new([5]).into(), Dense::new(4).use_bias(false).into()]);
    assert_eq!(model.count_params().unwrap(), 20);
    assert_eq!(model.output_shape().unwrap().dims(), [4]);
}

//! An imported ONNX CNN is a Kiln model: freeze its convolutions, cut its head and add a new
//! one, fine-tune on a few MNIST batches (the loss falls, frozen weights stay), then save and
//! reload it as a Kiln file and as a Keras `.h5` file with identical predictions.

use std::path::Path;

use kiln::datasets::mnist;
use kiln::layers::Dense;
use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::{Dataset, Model, Tensor};

const ONNX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/onnx/cnn_bn.onnx"
);
const MNIST_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets/mnist");

/// The first `n` MNIST test images as NCHW `[n, 1, 28, 28]` (same order as NHWC for one
/// channel) with one-hot labels.
fn mnist_nchw(n: usize) -> Dataset {
    let (_, test) = mnist::load(MNIST_DIR).unwrap();
    let (features, labels) = test.into_parts();
    Dataset::new(
        features[..n * 784].to_vec(),
        &[n, 1, 28, 28],
        labels[..n * 10].to_vec(),
        &[n, 10],
    )
    .unwrap()
}

#[test]
fn an_imported_cnn_fine_tunes_with_frozen_convolutions_and_saves_both_ways() {
    let imported = Model::load_onnx(ONNX).unwrap();
    let names: Vec<(String, &str)> = imported
        .layers()
        .iter()
        .map(|l| (l.name().unwrap_or_default().to_string(), l.class_name()))
        .collect();
    let flatten = names
        .iter()
        .find(|(_, c)| *c == "Flatten")
        .unwrap()
        .0
        .clone();
    let convs: Vec<String> = names
        .iter()
        .filter(|(_, c)| *c == "Conv2D")
        .map(|(n, _)| n.clone())
        .collect();
    assert_eq!(convs.len(), 2, "{names:?}");

    // Cut the imported head (its Dense) and add a new one.
    let body = imported.truncated(&flatten).unwrap();
    let mut model = body
        .extend([Box::new(Dense::new(10).named("new_head")) as Box<dyn kiln::layers::Layer>])
        .unwrap();
    for conv in &convs {
        model.set_trainable(conv, false).unwrap();
    }
    let frozen_before: Vec<Tensor> = convs
        .iter()
        .map(|c| model.weight(&format!("{c}/kernel")).unwrap())
        .collect();
    let head_before = model.weight("new_head/kernel").unwrap();

    let data = mnist_nchw(256);
    model
        .compile(
            Adam::default().learning_rate(0.01),
            SoftmaxCrossEntropyWithLogits,
            [Accuracy],
        )
        .unwrap();
    let history = model.fit(&data, 4, 32).unwrap();
    let losses = history.get("loss").unwrap();
    eprintln!("fine-tuning losses per epoch: {losses:?}");
    // Only the 16-feature head learns (the random convolutions are frozen): the loss falls
    // every epoch, by more than 5% in all.
    assert!(losses.windows(2).all(|w| w[1] < w[0]), "{losses:?}");
    assert!(losses[losses.len() - 1] < 0.95 * losses[0], "{losses:?}");

    for (conv, before) in convs.iter().zip(&frozen_before) {
        assert_eq!(
            &model.weight(&format!("{conv}/kernel")).unwrap(),
            before,
            "{conv}"
        );
    }
    assert_ne!(model.weight("new_head/kernel").unwrap(), head_before);

    let probe = Tensor::new([3, 1, 28, 28], data.features()[..3 * 784].to_vec()).unwrap();
    let want = model.predict(&probe, 3).unwrap();
    let dir = std::env::temp_dir().join(format!("kiln_onnx_finetune_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let kiln_file = dir.join("tuned.kiln");
    model.save(&kiln_file).unwrap();
    let reloaded = Model::load(&kiln_file).unwrap();
    assert_eq!(reloaded.predict(&probe, 3).unwrap(), want, "Kiln file");

    let h5 = dir.join("tuned.h5");
    model.save_keras(&h5).unwrap();
    let from_keras = Model::load_keras(&h5).unwrap();
    assert_eq!(from_keras.predict(&probe, 3).unwrap(), want, "Keras .h5");
    std::fs::remove_dir_all(Path::new(&dir)).ok();
}

#[test]
fn an_imported_model_keeps_its_head_and_fine_tunes_whole() {
    let mut model = Model::load_onnx(ONNX).unwrap();
    let data = mnist_nchw(128);
    model
        .compile(
            Adam::default().learning_rate(0.01),
            SoftmaxCrossEntropyWithLogits,
            [Accuracy],
        )
        .unwrap();
    let history = model.fit(&data, 3, 32).unwrap();
    let losses = history.get("loss").unwrap();
    assert!(losses[2] < losses[0], "{losses:?}");
}

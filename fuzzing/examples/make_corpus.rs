//! Writes the seeds that Kiln itself writes into `fuzzing/corpus/<target>/`: two small
//! models (an MLP with Adam, a CNN with SGD) in every format Kiln saves (Kiln whole-model and
//! weights-only files, Keras `.h5`, `.keras`, ONNX) and a PNG and a JPEG. The other seeds come
//! from `corpus/make_seeds.py`, `corpus/make_keras_files.py` and fixtures (`corpus/README.md`).
//!
//! `cargo run -p kiln-fuzz --example make_corpus` (overwrites the files it writes).

use std::path::{Path, PathBuf};

use kiln::losses::{MeanSquaredError, SoftmaxCrossEntropyWithLogits};
use kiln::metrics::Accuracy;
use kiln::optimizers::{Adam, SGD};
use kiln::prelude::*;

fn corpus(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn put(target: &str, name: &str, bytes: impl AsRef<[u8]>) {
    std::fs::write(corpus(target).join(name), bytes).unwrap();
}

/// A Dense model of 3 → 4 (ReLU) → 2 with Adam, and a tiny CNN with SGD.
fn models() -> Vec<(&'static str, Sequential)> {
    let mut mlp = Sequential::of([
        Input::new([3]).into(),
        Dense::new(4).activation(Activation::Relu).into(),
        Dense::new(2).into(),
    ])
    .named("mlp")
    .with_seed(1);
    mlp.compile(Adam::default(), MeanSquaredError, [Accuracy])
        .unwrap();
    let mut cnn = Sequential::of([
        Input::new([4, 4, 1]).into(),
        Conv2D::new(2, 2).activation(Activation::Relu).into(),
        MaxPooling2D::new(2).into(),
        Flatten::new().into(),
        Dense::new(3).into(),
    ])
    .named("cnn")
    .with_seed(2);
    cnn.compile(SGD::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])
        .unwrap();
    vec![("mlp", mlp), ("cnn", cnn)]
}

/// Each model in every format Kiln writes.
fn model_files() {
    let tmp = std::env::temp_dir().join(format!("kiln-make-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for (name, mut model) in models() {
        let copy = |file: &str, target: &str| {
            put(target, file, std::fs::read(tmp.join(file)).unwrap());
        };
        model.save(tmp.join(format!("{name}.kiln"))).unwrap();
        copy(&format!("{name}.kiln"), "kiln_file");
        model
            .save_weights(tmp.join(format!("{name}_weights.kiln")))
            .unwrap();
        copy(&format!("{name}_weights.kiln"), "kiln_file");
        model.save_keras(tmp.join(format!("{name}.h5"))).unwrap();
        copy(&format!("{name}.h5"), "keras_h5");
        model
            .save_keras_archive(tmp.join(format!("{name}.keras")))
            .unwrap();
        copy(&format!("{name}.keras"), "keras_zip");
        model.save_onnx(tmp.join(format!("{name}.onnx"))).unwrap();
        copy(&format!("{name}.onnx"), "onnx_model");
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// A tiny PNG and JPEG (8 × 6, a colour gradient).
fn images() {
    let img = image::RgbImage::from_fn(8, 6, |x, y| {
        image::Rgb([(x * 30) as u8, (y * 40) as u8, 128])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png).unwrap();
    put("image", "gradient.png", png.into_inner());
    let mut jpeg = std::io::Cursor::new(Vec::new());
    img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    put("image", "gradient.jpg", jpeg.into_inner());
}

fn main() {
    model_files();
    images();
    println!("wrote {}", corpus("").display());
}

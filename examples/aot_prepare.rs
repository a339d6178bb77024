//! Prepares the ahead-of-time C example (`examples/aot_c/run.sh`): trains an MNIST MLP for
//! one epoch and a small CNN for one epoch on 12000 images, saves both as Kiln model files,
//! and writes test images and labels as raw little-endian f32 files for the C program.
//!
//! `cargo run --release --example aot_prepare -- <out dir>` writes `<out>/mlp.kiln`,
//! `<out>/cnn.kiln`, `<out>/test_x.bin` (1000 images, 28·28 floats each), `<out>/test_y.bin`
//! (their one-hot labels, 10 floats each), `<out>/train_x.bin` / `<out>/train_y.bin` (500
//! training images for the C program's training steps), and prints the JIT's accuracy on
//! the 1000 test images for comparison.

use std::path::{Path, PathBuf};

use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;

const TEST_IMAGES: usize = 1000;
const TRAIN_IMAGES: usize = 500;
const PIXELS: usize = 28 * 28;

fn write_f32(path: &Path, data: &[f32]) -> kiln::Result<()> {
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).map_err(|source| kiln::Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The first `n` examples of `data`.
fn head(data: &Dataset, n: usize) -> kiln::Result<Dataset> {
    let classes = data.labels().len() / data.len();
    Dataset::new(
        data.features()[..n * PIXELS].to_vec(),
        &[n, 28, 28, 1],
        data.labels()[..n * classes].to_vec(),
        &[n, classes],
    )
}

fn main() -> kiln::Result<()> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/aot_c".into()),
    );
    std::fs::create_dir_all(&out).map_err(|source| kiln::Error::Io {
        path: out.clone(),
        source,
    })?;
    let (train, test) = kiln::datasets::mnist::load(kiln_examples::dataset_dir("mnist"))?;
    let test = head(&test, TEST_IMAGES)?;

    let mut mlp = sequential![
        Input::new([28, 28, 1]),
        Flatten::new(),
        Dense::new(300).activation(Activation::Relu),
        Dense::new(100).activation(Activation::Relu),
        Dense::new(10),
    ];
    mlp.compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])?;
    mlp.fit(&train, 1, 100)?;

    let mut cnn = sequential![
        Input::new([28, 28, 1]),
        Conv2D::new(8, 3).activation(Activation::Relu),
        MaxPool2D::default(),
        Flatten::new(),
        Dense::new(10),
    ];
    cnn.compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])?;
    cnn.fit(&head(&train, 12000)?, 1, 100)?;

    for (name, model) in [("mlp", &mut mlp), ("cnn", &mut cnn)] {
        let accuracy = model.evaluate(&test, 100)?.metrics["accuracy"];
        println!("JIT {name} accuracy on {TEST_IMAGES} test images: {accuracy:.4}");
        model.save(out.join(format!("{name}.kiln")))?;
    }
    write_f32(&out.join("test_x.bin"), test.features())?;
    write_f32(&out.join("test_y.bin"), test.labels())?;
    let steps = head(&train, TRAIN_IMAGES)?;
    write_f32(&out.join("train_x.bin"), steps.features())?;
    write_f32(&out.join("train_y.bin"), steps.labels())?;
    Ok(())
}

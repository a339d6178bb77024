//! Writes the seed corpora of the fuzz targets into `fuzzing/corpus/<target>/`: small models
//! saved by Kiln in every format it writes (Kiln whole-model and weights-only files, Keras
//! `.h5`, `.keras`, ONNX), tensor files, IDX files raw and gzipped, CSV files, images, predict
//! bodies, command lines and differential-fuzzer byte strings. Fixture files copied from
//! elsewhere in the repository (Keras-written `.h5`, ONNX exported by PyTorch, PNGs) are
//! listed in `corpus/README.md` and not written here.
//!
//! `cargo run -p kiln-fuzz --example make_corpus` (overwrites the files it writes).

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::{Compression, write::GzEncoder};
use kiln::losses::{MeanSquaredError, SoftmaxCrossEntropyWithLogits};
use kiln::metrics::Accuracy;
use kiln::optimizers::{Adam, SGD};
use kiln::prelude::*;
use kiln::tensor_file::{Encoding, write_tensor};

fn corpus(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
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
    mlp.compile(Adam::default(), MeanSquaredError, [Accuracy]).unwrap();
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
        model.save_weights(tmp.join(format!("{name}_weights.kiln"))).unwrap();
        copy(&format!("{name}_weights.kiln"), "kiln_file");
        model.save_keras(tmp.join(format!("{name}.h5"))).unwrap();
        copy(&format!("{name}.h5"), "keras_h5");
        model.save_keras_archive(tmp.join(format!("{name}.keras"))).unwrap();
        copy(&format!("{name}.keras"), "keras_zip");
        model.save_onnx(tmp.join(format!("{name}.onnx"))).unwrap();
        copy(&format!("{name}.onnx"), "onnx_model");
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// Tensor JSON files: inline values, and a `file` reference with the raw bytes after a NUL.
fn tensor_files() {
    let t = Tensor::new([2, 3], vec![1.0, -2.5, 0.0, 3.25, 1e-3, -7.0]).unwrap();
    let tmp = std::env::temp_dir().join(format!("kiln-make-corpus-t-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    write_tensor(tmp.join("t.json"), &t, Encoding::Inline).unwrap();
    put("tensor_file", "inline.json", std::fs::read(tmp.join("t.json")).unwrap());
    write_tensor(tmp.join("t.json"), &t, Encoding::Binary).unwrap();
    let mut bytes = std::fs::read(tmp.join("t.json")).unwrap();
    bytes.push(0);
    bytes.extend(std::fs::read(tmp.join("t.bin")).unwrap());
    put("tensor_file", "binary.json", bytes);
    put(
        "tensor_file",
        "scalar.json",
        r#"{"dtype": "float32", "shape": [], "data": [1.5]}"#,
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// IDX files: 2 images of 3 × 3 and 2 labels, raw and gzipped.
fn idx_files() {
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3];
    images.extend(0..18u8);
    let labels = vec![0, 0, 8, 1, 0, 0, 0, 2, 7, 1];
    for (name, bytes) in [("images.idx", &images), ("labels.idx", &labels)] {
        put("idx_raw", name, bytes);
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(bytes).unwrap();
        put("idx_gzip", &format!("{name}.gz"), gz.finish().unwrap());
    }
}

/// CSV files (the first byte also picks the label mode in the harness).
fn csv_files() {
    put(
        "csv_dataset",
        "iris.csv",
        "sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,1.4,0.2,setosa\n4.9,3.0,1.4,0.2,setosa\n6.3,3.3,6.0,2.5,virginica\n",
    );
    put("csv_dataset", "numbers.csv", "a,b,y\n1,2,0.5\n3,4,1.5\n-1,0.25,2\n");
    put(
        "csv_dataset",
        "categories.csv",
        "color,size,label\nred,1,a\nblue,2,b\nred,3,a\n",
    );
}

/// A tiny PNG and JPEG (8 × 6, a colour gradient).
fn images() {
    let img = image::RgbImage::from_fn(8, 6, |x, y| image::Rgb([(x * 30) as u8, (y * 40) as u8, 128]));
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png).unwrap();
    put("image", "gradient.png", png.into_inner());
    let mut jpeg = std::io::Cursor::new(Vec::new());
    img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    put("image", "gradient.jpg", jpeg.into_inner());
}

/// Predict bodies; the first byte picks the input shape ([3] is pick 2, [2, 2] pick 3).
fn serve_bodies() {
    put("serve_body", "flat.json", b"\x02{\"instances\": [[1, 2, 3], [4.5, -1, 0]]}");
    put("serve_body", "nested.json", b"\x03{\"instances\": [[[1, 2], [3, 4]]]}");
    put("serve_body", "scalar.json", b"\x00{\"instances\": [1, 2.5, -3]}");
}

/// Command lines of every subcommand.
fn command_lines() {
    let lines = [
        ("summary", "summary model.h5 --weights w.h5"),
        ("predict", "predict --model m.kiln --input x.json --input y.json --output out.json --batch-size 8"),
        ("convert", "convert in.keras out.h5 --model-weights w.weights.h5"),
        ("compile", "compile 9model.onnx -o out --entry both --batch 4 --weights external --target aarch64-unknown-linux-gnu"),
        ("compile_named", "compile m.kiln --output out --name my_model --model-weights w.h5"),
        ("help", "help compile"),
    ];
    for (name, line) in lines {
        put("cli_args", &format!("{name}.txt"), line);
    }
}

/// Byte strings of the differential fuzzer: every header kind (sizes, training or not).
fn graph_bytes() {
    let mut rng = kiln_fuzz::mutate::Rng::new(7);
    for header in [0x00u8, 0x05, 0x0f, 0x13, 0x1a, 0x1f, 0x06, 0x19] {
        let mut bytes = vec![header];
        bytes.extend((0..40).map(|_| rng.next_u64() as u8));
        put("graph_diff", &format!("graph_{header:02x}.bin"), bytes);
    }
}

fn main() {
    model_files();
    tensor_files();
    idx_files();
    csv_files();
    images();
    serve_bodies();
    command_lines();
    graph_bytes();
    println!("wrote {}", corpus("").display());
}

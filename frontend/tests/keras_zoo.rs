//! The Keras zoo: one model of each tf-keras 2.21 `keras.applications` family, saved as
//! `.h5` with every weight randomised, loaded by [`Model::load_keras`] and compared with
//! Keras' logits (atol = 1e-4 × the largest |logit|, rtol = 1e-3).
//!
//! The fixtures are large and need TensorFlow, so this test is `#[ignore]`d and reads them
//! from `KILN_ZOO_DIR` (written by `tests/zoo/make_zoo_fixtures.py`, see its doc):
//!
//! ```text
//! ~/.cache/kiln-anchors/venv-tf/bin/python frontend/tests/zoo/make_zoo_fixtures.py target/zoo
//! KILN_ZOO_DIR=$PWD/target/zoo cargo test -p kiln --test keras_zoo -- --ignored --nocapture
//! ```
//!
//! `KILN_ZOO_ONLY=Name1,Name2` limits the run to some families. It prints one row per family
//! (worst |diff|, the tolerance there, max |logit|) and fails if any family fails.

use std::path::{Path, PathBuf};
use std::time::Instant;

use kiln::Model;
use kiln::tensor_file::read_tensor;

/// The families, in the generator's order.
const FAMILIES: [&str; 18] = [
    "VGG16",
    "VGG19",
    "ResNet50",
    "ResNet101",
    "ResNet50V2",
    "InceptionV3",
    "InceptionResNetV2",
    "Xception",
    "MobileNet",
    "MobileNetV2",
    "MobileNetV3Small",
    "MobileNetV3Large",
    "DenseNet121",
    "NASNetMobile",
    "EfficientNetB0",
    "EfficientNetV2B0",
    "ConvNeXtTiny",
    "RegNetX002",
];

/// How one family compared: the worst |diff| over the tolerance's allowance, with both.
struct Compared {
    worst_diff: f32,
    allowed_there: f32,
    worst_ratio: f32,
    max_logit: f32,
}

/// Loads `dir/NAME.h5`, predicts `NAME_input.json`, compares with `NAME_output.json`.
fn compare(dir: &Path, name: &str) -> Result<Compared, String> {
    let model = Model::load_keras(dir.join(format!("{name}.h5"))).map_err(|e| e.to_string())?;
    let x = read_tensor(dir.join(format!("{name}_input.json"))).map_err(|e| e.to_string())?;
    let want = read_tensor(dir.join(format!("{name}_output.json"))).map_err(|e| e.to_string())?;
    let got = model
        .predict(&x, x.shape.dims()[0])
        .map_err(|e| e.to_string())?;
    if got.shape != want.shape {
        return Err(format!("shape {} but Keras gave {}", got.shape, want.shape));
    }
    let max_logit = want.data.iter().fold(0f32, |m, v| m.max(v.abs()));
    let atol = 1e-4 * max_logit;
    let mut out = Compared {
        worst_diff: 0.0,
        allowed_there: atol,
        worst_ratio: 0.0,
        max_logit,
    };
    for (g, w) in got.data.iter().zip(&want.data) {
        let diff = (g - w).abs();
        let allowed = atol + 1e-3 * w.abs();
        let ratio = if diff.is_nan() {
            f32::INFINITY
        } else {
            diff / allowed
        };
        if ratio > out.worst_ratio || diff > out.worst_diff {
            out.worst_diff = out.worst_diff.max(diff);
        }
        if ratio > out.worst_ratio {
            out.worst_ratio = ratio;
            out.allowed_there = allowed;
        }
    }
    Ok(out)
}

#[test]
#[ignore = "needs KILN_ZOO_DIR with the fixtures of tests/zoo/make_zoo_fixtures.py"]
fn every_keras_application_matches_keras() {
    let dir = PathBuf::from(std::env::var("KILN_ZOO_DIR").expect("set KILN_ZOO_DIR"));
    let only = std::env::var("KILN_ZOO_ONLY").ok();
    let mut failed = Vec::new();
    println!(
        "{:<18} {:>11} {:>11} {:>7} {:>10} {:>6}  result",
        "family", "worst|diff|", "tol there", "ratio", "max|logit|", "secs"
    );
    for name in FAMILIES {
        if only
            .as_ref()
            .is_some_and(|o| !o.split(',').any(|n| n == name))
        {
            continue;
        }
        let start = Instant::now();
        let secs = || start.elapsed().as_secs_f32();
        match compare(&dir, name) {
            Ok(c) => {
                let ok = c.worst_ratio <= 1.0;
                println!(
                    "{name:<18} {:>11.3e} {:>11.3e} {:>7.3} {:>10.4} {:>6.1}  {}",
                    c.worst_diff,
                    c.allowed_there,
                    c.worst_ratio,
                    c.max_logit,
                    secs(),
                    if ok { "ok" } else { "MISMATCH" }
                );
                if !ok {
                    failed.push(name);
                }
            }
            Err(e) => {
                println!("{name:<18} error after {:.1}s: {e}", secs());
                failed.push(name);
            }
        }
    }
    assert!(failed.is_empty(), "families that do not match: {failed:?}");
}

//! `kiln compile` run as a binary: a saved model compiled with both entries and external
//! weights gives the object, the header (with the training step), the weights file and the
//! runtime library; a missing model exits non-zero naming the file. What the compiled code
//! computes is tested against the JIT in `frontend/tests/aot.rs`.

use std::path::PathBuf;
use std::process::Command;

use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;

mod common;

/// A fresh empty directory for one test's files.
fn scratch_dir(test: &str) -> PathBuf {
    common::scratch_dir("aot", test)
}

/// A small compiled MLP (the one `frontend/tests/aot.rs` compiles through the library).
fn mlp() -> Model {
    let mut model = sequential![
        Input::new([12]),
        Dense::new(16).activation(Activation::Relu),
        Dense::new(4),
    ]
    .with_seed(5);
    model
        .compile(
            Adam::default().learning_rate(0.01),
            SoftmaxCrossEntropyWithLogits,
            std::iter::empty::<Accuracy>(),
        )
        .unwrap();
    model
}

#[test]
fn kiln_compile_writes_the_files_and_reports_errors() {
    let dir = scratch_dir("cli");
    let path = dir.join("small net.kiln");
    let mut model = mlp();
    model.save(&path).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg("compile")
        .arg(&path)
        .arg("-o")
        .arg(dir.join("out"))
        .args(["--entry", "both", "--batch", "4", "--weights", "external"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "small_net.o",
        "small_net.h",
        "small_net.weights",
        "libkiln_cpu_runtime.a",
    ] {
        assert!(dir.join("out").join(file).is_file(), "{file}");
    }
    let header = std::fs::read_to_string(dir.join("out/small_net.h")).unwrap();
    assert!(header.contains("small_net_train_step"), "{header}");
    let bad = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg("compile")
        .arg(dir.join("missing.kiln"))
        .arg("-o")
        .arg(dir.join("out2"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("missing.kiln"));
    std::fs::remove_dir_all(&dir).ok();
}

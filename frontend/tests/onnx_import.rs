//! ONNX import against the shared fixtures (`fixtures/onnx/`: onnxruntime's outputs on the
//! files' own NCHW inputs), batch sizes other than the exported one, the pinned-batch
//! error, the one error listing every unsupported op, and a few hundred corrupt files.

use std::path::{Path, PathBuf};

use kiln::onnx::{ImportOptions, import_with};
use kiln::tensor_file::read_tensor;
use kiln::{Model, Tensor};
use kiln_onnx_proto::prost::Message;
use kiln_onnx_proto::{ModelProto, NodeProto};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/onnx");

fn fixture(name: &str) -> PathBuf {
    Path::new(DIR).join(name)
}

/// Elementwise `|got - want| <= atol + rtol * |want|` (the fixtures' tolerance, 1e-4 both).
fn assert_close(name: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.shape, want.shape, "{name}: shape");
    let mut worst = 0.0f32;
    for (i, (&g, &w)) in got.data.iter().zip(&want.data).enumerate() {
        let gap = (g - w).abs();
        assert!(
            gap <= 1e-4 + 1e-4 * w.abs(),
            "{name}: element {i}: got {g}, want {w}"
        );
        worst = worst.max(gap);
    }
    eprintln!("{name}: worst |difference| {worst:.3e}");
}

/// Loads fixture `name` and predicts its input at `batch`.
fn run(name: &str, batch: usize) -> kiln::Result<(Tensor, Tensor)> {
    let model = Model::load_onnx(fixture(&format!("{name}.onnx")))?;
    let input = read_tensor(fixture(&format!("{name}_input.json")))?;
    let want = read_tensor(fixture(&format!("{name}_output.json")))?;
    Ok((model.predict(&input, batch)?, want))
}

#[test]
fn every_fixture_matches_onnxruntime_at_its_exported_batch_size() {
    for (name, batch) in [
        ("mlp_gemm", 5),
        ("cnn_bn", 4),
        ("resnet_block_dynamo", 2),
        ("onnx_helper_ops", 2),
    ] {
        let (got, want) = run(name, batch).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_close(name, &got, &want);
    }
}

#[test]
fn the_mlp_predicts_at_several_batch_sizes() {
    for batch in [1, 2, 3, 8] {
        let (got, want) = run("mlp_gemm", batch).unwrap();
        assert_close(&format!("mlp_gemm at batch {batch}"), &got, &want);
    }
}

#[test]
fn the_cnn_exported_at_batch_4_predicts_at_other_batch_sizes() {
    for batch in [1, 3] {
        let (got, want) = run("cnn_bn", batch).unwrap();
        assert_close(&format!("cnn_bn at batch {batch}"), &got, &want);
    }
}

#[test]
fn the_onnx_helper_graph_predicts_at_batch_1() {
    let (got, want) = run("onnx_helper_ops", 1).unwrap();
    assert_close("onnx_helper_ops at batch 1", &got, &want);
}

#[test]
fn a_file_that_pins_the_batch_size_says_so_at_another() {
    let model = Model::load_onnx(fixture("resnet_block_dynamo.onnx")).unwrap();
    let two = read_tensor(fixture("resnet_block_dynamo_input.json")).unwrap();
    let per = two.data.len() / 2;
    let mut data = two.data.clone();
    data.extend_from_slice(&two.data[..per]);
    let three = Tensor::new([3, 3, 16, 16], data).unwrap();
    let err = model.predict(&three, 3).unwrap_err().to_string();
    let mut compiled = Model::load_onnx(fixture("resnet_block_dynamo.onnx")).unwrap();
    let adam = kiln::optimizers::Adam::default();
    let mse = kiln::losses::MeanSquaredError;
    let refused = compiled.compile(adam, mse, Vec::<kiln::metrics::Accuracy>::new());
    assert!(refused.unwrap_err().to_string().contains("free_batch"));
    assert!(err.contains("pins the batch size to 2"), "{err}");
    assert!(err.contains("`node_view` (Reshape"), "{err}");
}

#[test]
fn kiln_only_layers_of_an_import_are_refused_by_save_keras_naming_the_layer() {
    let model = Model::load_onnx(fixture("resnet_block_dynamo.onnx")).unwrap();
    let path = std::env::temp_dir().join(format!("kiln-pinned-{}.h5", std::process::id()));
    let err = model.save_keras(&path).unwrap_err().to_string();
    assert!(
        err.contains("(PinnedBatch) cannot be saved for Keras"),
        "{err}"
    );
    assert!(!path.exists(), "nothing is written");
}

#[test]
fn imported_layers_keep_the_onnx_layout_at_the_boundary_only() {
    let model = Model::load_onnx(fixture("cnn_bn.onnx")).unwrap();
    let permutes = model
        .layers()
        .iter()
        .filter(|l| l.class_name() == "Permute")
        .count();
    assert_eq!(permutes, 1, "{}", model.summary().unwrap());
    let summary = model.summary().unwrap();
    for class in ["Conv2D", "BatchNormalization", "MaxPooling2D", "Dense"] {
        assert!(summary.contains(class), "{summary}");
    }
}

/// `model` with extra nodes of unknown op types appended.
fn with_unknown_ops(mut model: ModelProto) -> ModelProto {
    let graph = model.graph.as_mut().unwrap();
    for (name, op) in [("mystery", "FancyOp"), ("other", "NonMaxSuppression")] {
        graph.node.push(NodeProto {
            name: Some(name.into()),
            op_type: Some(op.into()),
            input: vec!["output".into()],
            output: vec![format!("{name}_out")],
            ..Default::default()
        });
    }
    model
}

#[test]
fn unsupported_ops_are_one_error_naming_node_op_opset_and_every_other() {
    let bytes = std::fs::read(fixture("mlp_gemm.onnx")).unwrap();
    let model = with_unknown_ops(ModelProto::decode(bytes.as_slice()).unwrap());
    let dir = std::env::temp_dir().join(format!("kiln_onnx_unsupported_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.onnx");
    std::fs::write(&path, model.encode_to_vec()).unwrap();
    let err = Model::load_onnx(&path).unwrap_err().to_string();
    assert!(
        err.contains("`mystery`") && err.contains("FancyOp"),
        "{err}"
    );
    assert!(err.contains("opset 13"), "{err}");
    assert!(err.contains("`other` (NonMaxSuppression)"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A tiny deterministic generator (xorshift) for the corruption test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Writes `bytes` (and for the dynamo fixture its data file, possibly changed) and imports.
fn import_bytes(dir: &Path, bytes: &[u8], data: Option<&[u8]>) -> kiln::Result<Model> {
    let path = dir.join("m.onnx");
    std::fs::write(&path, bytes).unwrap();
    if let Some(data) = data {
        std::fs::write(dir.join("resnet_block_dynamo.onnx.data"), data).unwrap();
    }
    Model::load_onnx(&path)
}

#[test]
fn corrupt_and_truncated_files_are_clear_errors_never_panics() {
    let dir = std::env::temp_dir().join(format!("kiln_onnx_corrupt_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut errors = 0;
    let mut cases = 0;
    for name in ["cnn_bn", "resnet_block_dynamo", "onnx_helper_ops"] {
        let good = std::fs::read(fixture(&format!("{name}.onnx"))).unwrap();
        let data = std::fs::read(fixture("resnet_block_dynamo.onnx.data")).unwrap();
        let data = (name == "resnet_block_dynamo").then_some(data.as_slice());
        for k in 0..100 {
            let mut bytes = good.clone();
            match k % 4 {
                0 => bytes.truncate(rng.below(good.len())),
                1 => {
                    for _ in 0..1 + rng.below(4) {
                        let i = rng.below(bytes.len());
                        bytes[i] ^= 1 << rng.below(8);
                    }
                }
                2 => {
                    let i = rng.below(bytes.len());
                    bytes[i] = [0xff, 0x7f, 0x80, 0x00][rng.below(4)];
                }
                _ => {
                    let i = rng.below(bytes.len());
                    bytes.splice(i..i, [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
                }
            }
            let result = std::panic::catch_unwind(|| import_bytes(&dir, &bytes, data));
            let result = result.unwrap_or_else(|_| panic!("{name} mutation {k} panicked"));
            cases += 1;
            if let Err(e) = result {
                let msg = e.to_string();
                assert!(msg.contains("m.onnx"), "{name} mutation {k}: {msg}");
                errors += 1;
            }
        }
    }
    eprintln!("{cases} corrupt files, {errors} refused with errors, the rest imported");
    assert!(errors > cases / 2, "only {errors} of {cases} were refused");
    std::fs::remove_dir_all(&dir).ok();
}

/// The dynamo fixture with its external-data entries changed by `edit`.
fn with_external(edit: impl Fn(&mut Vec<kiln_onnx_proto::StringStringEntryProto>)) -> Vec<u8> {
    let bytes = std::fs::read(fixture("resnet_block_dynamo.onnx")).unwrap();
    let mut model = ModelProto::decode(bytes.as_slice()).unwrap();
    for t in &mut model.graph.as_mut().unwrap().initializer {
        if t.data_location == Some(1) {
            edit(&mut t.external_data);
        }
    }
    model.encode_to_vec()
}

/// A change to an initializer's external-data entries.
type Edit = Box<dyn Fn(&mut Vec<kiln_onnx_proto::StringStringEntryProto>)>;

fn set(entries: &mut [kiln_onnx_proto::StringStringEntryProto], key: &str, value: &str) {
    for e in entries.iter_mut() {
        if e.key.as_deref() == Some(key) {
            e.value = Some(value.into());
        }
    }
}

#[test]
fn bad_external_data_is_refused_naming_the_tensor() {
    let dir = std::env::temp_dir().join(format!("kiln_onnx_external_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = std::fs::read(fixture("resnet_block_dynamo.onnx.data")).unwrap();
    let cases: [(&str, Edit); 5] = [
        ("past the end", Box::new(|e| set(e, "offset", "5000"))),
        (
            "leaves the model's folder",
            Box::new(|e| set(e, "location", "../x.data")),
        ),
        (
            "leaves the model's folder",
            Box::new(|e| set(e, "location", "/etc/passwd")),
        ),
        ("is not a number", Box::new(|e| set(e, "offset", "-1"))),
        (
            "differs from",
            Box::new(|e| set(e, "length", "99999999999")),
        ),
    ];
    for (want, edit) in cases {
        let err = import_bytes(&dir, &with_external(edit), Some(&data))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(want) && err.contains("tensor `"),
            "{want}: {err}"
        );
    }
    let err = import_bytes(&dir, &with_external(|_| {}), Some(&data[..100]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("past the end"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn imported_models_with_kiln_only_options_round_trip_through_kiln_files() {
    use kiln::losses::MeanSquaredError;
    use kiln::optimizers::Adam;
    let dir = std::env::temp_dir().join(format!("kiln_onnx_roundtrip_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Explicit pooling pads (onnx_helper_ops); a batch size freed (resnet_block_dynamo).
    let free = ImportOptions { free_batch: true };
    for (name, batch) in [("onnx_helper_ops", 2), ("resnet_block_dynamo", 1)] {
        let mut model = import_with(fixture(&format!("{name}.onnx")), free).unwrap();
        model
            .compile(
                Adam::default(),
                MeanSquaredError,
                Vec::<kiln::metrics::Accuracy>::new(),
            )
            .unwrap();
        let path = dir.join(format!("{name}.kiln"));
        model.save(&path).unwrap();
        let input = read_tensor(fixture(&format!("{name}_input.json"))).unwrap();
        if name == "resnet_block_dynamo" {
            let (got, want) = (
                model.predict(&input, batch).unwrap(),
                read_tensor(fixture(&format!("{name}_output.json"))).unwrap(),
            );
            assert_close("resnet_block_dynamo freed, batch 1", &got, &want);
        }
        let reloaded = Model::load(&path).unwrap();
        assert_eq!(
            reloaded.predict(&input, batch).unwrap(),
            model.predict(&input, batch).unwrap(),
            "{name}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn huge_declared_sizes_are_refused_before_anything_is_allocated() {
    let dir = std::env::temp_dir().join(format!("kiln_onnx_huge_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = std::fs::read(fixture("cnn_bn.onnx")).unwrap();
    let good = ModelProto::decode(bytes.as_slice()).unwrap();
    for (dims, want) in [
        (vec![1i64 << 40, 1 << 40], "overflow"),
        (vec![1 << 30, 1 << 30], "need"),
        (vec![-8, 1, 3, 3], "negative"),
    ] {
        let mut model = good.clone();
        model.graph.as_mut().unwrap().initializer[0].dims = dims;
        let err = import_bytes(&dir, &model.encode_to_vec(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want) && err.contains("conv1.weight"), "{err}");
    }
    // A ConstantOfShape asking for 2^40 zeros.
    let mut model = good.clone();
    let graph = model.graph.as_mut().unwrap();
    graph.initializer.push(kiln_onnx_proto::TensorProto {
        name: Some("big".into()),
        dims: vec![1],
        data_type: Some(7),
        int64_data: vec![1 << 40],
        ..Default::default()
    });
    graph.node.insert(
        0,
        NodeProto {
            name: Some("zeros".into()),
            op_type: Some("ConstantOfShape".into()),
            input: vec!["big".into()],
            output: vec!["z".into()],
            ..Default::default()
        },
    );
    let err = import_bytes(&dir, &model.encode_to_vec(), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`zeros` (ConstantOfShape)")
            && err.contains("larger than this file justifies"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

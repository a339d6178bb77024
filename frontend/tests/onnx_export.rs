//! ONNX export (`kiln::onnx::to_onnx`, `Model::save_onnx`) of an MLP, a CNN with batch
//! normalization, a ResNet-style functional model (two outputs) and a small sequence model
//! (Embedding, LayerNormalization, Permute), every weight random — biases and BatchNorm
//! statistics included, so a wrong transpose or a dropped bias shows.
//!
//! The tests here read the written protobuf back with `prost` and check its structure: IR
//! version, opset, producer, the op types in order, initializer shapes (kernels moved to
//! ONNX's layouts), the dynamic batch axis, and that a CNN transposes once in and once out.
//! They need no Python. Numbers are checked by `onnx_export/check_with_onnxruntime.py`
//! against files written by the `#[ignore]`d `write_files_for_onnxruntime` (see its doc).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use kiln::layers::{Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract};
use kiln::onnx::{EXPORT_IR_VERSION, EXPORT_OPSET, to_onnx};
use kiln::prelude::*;
use kiln::{Shape, Tensor};
use kiln_onnx_proto::prost::Message;
use kiln_onnx_proto::tensor_shape_proto::dimension;
use kiln_onnx_proto::{ModelProto, ValueInfoProto, type_proto};

/// Deterministic values in `[lo, hi)`.
fn uniform(n: usize, seed: u32, lo: f32, hi: f32) -> Vec<f32> {
    (0..n)
        .map(|i| lo + (hi - lo) * ir::random::uniform(seed, i as u32))
        .collect()
}

/// Replaces every weight with random values: kernels in `±√(3/fan_in)`, variances and
/// gammas in `[0.5, 1.5)`, everything else in `[-0.5, 0.5)` (means, biases, betas nonzero).
fn randomize(model: &mut Model, seed: u32) {
    let weights = model.layer_weights().unwrap();
    let random: BTreeMap<String, Tensor> = weights
        .into_iter()
        .enumerate()
        .map(|(k, (name, t))| {
            let n = t.shape.numel();
            let s = seed * 1000 + k as u32;
            // Kernels in LeCun's uniform range: activations stay of order one, so 1e-5 is
            // an absolute bound on rounding differences, not a relative one.
            let fan_in = n / t.shape.dims().last().copied().unwrap_or(1).max(1);
            let limit = (3.0 / fan_in.max(1) as f32).sqrt();
            let data = if name.ends_with("kernel") {
                uniform(n, s, -limit, limit)
            } else if name.ends_with("moving_variance") || name.ends_with("gamma") {
                uniform(n, s, 0.5, 1.5)
            } else {
                uniform(n, s, -0.5, 0.5)
            };
            (name, Tensor::new(t.shape, data).unwrap())
        })
        .collect();
    model.set_weights(&random).unwrap();
}

/// An MLP: Flatten, Dense with activations, Dropout, Reshape, LeakyReLU, Softmax.
fn mlp() -> Model {
    let mut m = sequential![
        Input::new([4, 3]),
        Flatten::new(),
        Dense::new(16).activation(Activation::Relu),
        Dropout::new(0.5),
        Dense::new(8).activation(Activation::Tanh),
        Reshape::new([2, 4]),
        Dense::new(3).activation(Activation::Sigmoid),
        Flatten::new(),
        LeakyReLU::new(0.1),
        Dense::new(4),
        Softmax::new(-1),
    ]
    .named("mlp");
    randomize(&mut m, 1);
    m
}

/// A CNN: convolutions (plain, depthwise, separable), BatchNorm, max and average pooling
/// with `same` padding on odd sizes, ReLU6, zero padding, then Flatten and Dense.
fn cnn() -> Model {
    let mut m = sequential![
        Input::new([9, 9, 2]),
        Conv2D::new(4, 3)
            .padding(Padding::Same)
            .activation(Activation::Relu),
        BatchNormalization::new(),
        MaxPooling2D::new(2).padding(Padding::Same),
        DepthwiseConv2D::new(3)
            .padding(Padding::Same)
            .depth_multiplier(2),
        ReLU::new().max_value(6.0),
        AveragePooling2D::new(2).padding(Padding::Same),
        ZeroPadding2D::new(1),
        SeparableConv2D::new(6, 3),
        BatchNormalization::new(),
        LeakyReLU::new(0.2),
        Flatten::new(),
        Dense::new(5).activation(Activation::Softmax),
    ]
    .named("cnn");
    randomize(&mut m, 2);
    m
}

/// A ResNet-style model: a residual block (`Add`), a strided block with a 1×1 shortcut, a
/// sigmoid gate (`Multiply`), `Concatenate`, then two outputs: logits after global average
/// pooling and features after global max pooling.
fn resnet() -> Model {
    let mut f = Functional::builder("resnet");
    let x = f.input(Input::new([8, 8, 3]));
    let conv = |filters, k| Conv2D::new(filters, k).padding(Padding::Same);
    let a = f.apply(conv(8, 3), x).unwrap();
    let a = f.apply(BatchNormalization::new(), a).unwrap();
    let a = f.apply(ActivationLayer::new(Activation::Relu), a).unwrap();
    let b = f.apply(conv(8, 3).activation(Activation::Relu), a).unwrap();
    let b = f.apply(conv(8, 3), b).unwrap();
    let b = f.apply(BatchNormalization::new(), b).unwrap();
    let y = f.apply_many(Add::new(), &[a, b]).unwrap();
    let y = f.apply(ReLU::new(), y).unwrap();
    let main = f.apply(conv(8, 3).strides(2), y).unwrap();
    let short = f.apply(Conv2D::new(8, 1).strides(2), y).unwrap();
    let y = f.apply_many(Add::new(), &[main, short]).unwrap();
    let gate = f
        .apply(Conv2D::new(8, 1).activation(Activation::Sigmoid), y)
        .unwrap();
    let z = f.apply_many(Multiply::new(), &[y, gate]).unwrap();
    let cat = f.apply_many(Concatenate::new(), &[y, z]).unwrap();
    let pooled = f.apply(GlobalAveragePooling2D::new(), cat).unwrap();
    let logits = f.apply(Dense::new(6), pooled).unwrap();
    let features = f.apply(GlobalMaxPooling2D::new(), cat).unwrap();
    let mut m = f.build(&[x], &[logits, features]).unwrap();
    randomize(&mut m, 3);
    m
}

/// A sequence model: Embedding (ids as floats), LayerNormalization, Permute, Dense.
fn sequence() -> Model {
    let mut m = sequential![
        Input::new([5]),
        Embedding::new(10, 4),
        LayerNormalization::new(),
        Permute::new([2, 1]),
        Flatten::new(),
        Dense::new(3),
    ]
    .named("sequence");
    randomize(&mut m, 4);
    m
}

/// The other rules: every activation function, the activation layers with options, the
/// remaining merges, Cropping2D, BatchNormalization over a non-channel axis (the folded
/// affine form), PReLU, UpSampling2D (nearest and bilinear), global pooling with
/// `keepdims`; two outputs.
fn extras() -> Model {
    let mut f = Functional::builder("extras");
    let x = f.input(Input::new([6, 6, 2]));
    let conv = Conv2D::new(4, 3)
        .padding(Padding::Same)
        .activation(Activation::Elu);
    let c = f.apply(conv, x).unwrap();
    let k = f.apply(Cropping2D::explicit([[1, 0], [0, 1]]), c).unwrap();
    let mut act = |a: Activation| f.apply(ActivationLayer::new(a), k).unwrap();
    let pairs = [
        (act(Activation::Selu), act(Activation::Softplus)),
        (act(Activation::Swish), act(Activation::Gelu)),
        (act(Activation::HardSigmoid), act(Activation::Softsign)),
    ];
    let av = f
        .apply_many(Average::new(), &[pairs[0].0, pairs[0].1])
        .unwrap();
    let mx = f
        .apply_many(Maximum::new(), &[pairs[1].0, pairs[1].1])
        .unwrap();
    let mn = f
        .apply_many(Minimum::new(), &[pairs[2].0, pairs[2].1])
        .unwrap();
    let d = f.apply_many(Subtract::new(), &[mx, mn]).unwrap();
    let s = f.apply_many(Add::new(), &[av, d]).unwrap();
    let r = f
        .apply(ReLU::new().negative_slope(0.1).max_value(0.8), s)
        .unwrap();
    let e = f.apply(ELU::new(0.7), r).unwrap();
    let b = f.apply(BatchNormalization::new().axis(1), e).unwrap();
    let p = f.apply(PReLU::new().shared_axes([1, 2]), b).unwrap();
    let u = f.apply(UpSampling2D::new([2, 3]), p).unwrap();
    let u = f.apply(Conv2D::new(4, [2, 3]).strides([2, 3]), u).unwrap();
    let bilinear = UpSampling2D::new(2).interpolation(Interpolation::Bilinear);
    let v = f.apply(bilinear, p).unwrap();
    let v = f.apply(Conv2D::new(4, 2).strides(2), v).unwrap();
    let p = f.apply_many(Concatenate::new(), &[p, u, v]).unwrap();
    let g = f
        .apply(GlobalAveragePooling2D::new().keepdims(true), p)
        .unwrap();
    let flat = f.apply(Flatten::new(), g).unwrap();
    let o1 = f
        .apply(Dense::new(5).activation(Activation::Relu6), flat)
        .unwrap();
    let o2 = f
        .apply(Dense::new(5).activation(Activation::LogSoftmax), flat)
        .unwrap();
    let mut m = f.build(&[x], &[o1, o2]).unwrap();
    randomize(&mut m, 5);
    m
}

/// Up-sampling and transposed convolutions (same, valid, with output padding) compared
/// pixel by pixel (no pooling after them to average mistakes away).
fn decoder() -> Model {
    let mut f = Functional::builder("decoder");
    let x = f.input(Input::new([3, 4, 2]));
    let bilinear = UpSampling2D::new([2, 3]).interpolation(Interpolation::Bilinear);
    let a = f.apply(bilinear, x).unwrap();
    let b = f.apply(UpSampling2D::new([2, 3]), x).unwrap();
    let same = Conv2DTranspose::new(3, 3)
        .strides([2, 3])
        .padding(Padding::Same);
    let c = f.apply(same, x).unwrap();
    let d = f
        .apply(Conv2DTranspose::new(2, [2, 3]).strides([2, 3]), x)
        .unwrap();
    let padded = Conv2DTranspose::new(2, 3)
        .strides([2, 3])
        .padding(Padding::Same);
    let e = f.apply(padded.output_padding([1, 2]), x).unwrap();
    let ab = f.apply_many(Concatenate::new(), &[a, b, c, d, e]).unwrap();
    let y = f.apply(Flatten::new(), ab).unwrap();
    let mut m = f.build(&[x], &[y]).unwrap();
    randomize(&mut m, 6);
    m
}

/// The models the tests export, by name.
fn models() -> Vec<(&'static str, Model)> {
    vec![
        ("mlp", mlp()),
        ("cnn", cnn()),
        ("resnet", resnet()),
        ("sequence", sequence()),
        ("extras", extras()),
        ("decoder", decoder()),
    ]
}

/// `model` written with `save_onnx` to a fresh temporary directory, read back.
fn round_trip_file(name: &str, model: &Model) -> ModelProto {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let k = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "kiln-onnx-export-{}-{k}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.onnx"));
    model.save_onnx(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let decoded = ModelProto::decode(bytes.as_slice()).unwrap();
    assert_eq!(
        decoded,
        to_onnx(model).unwrap(),
        "{name}: the file holds to_onnx's model"
    );
    decoded
}

fn op_types(model: &ModelProto) -> Vec<&str> {
    model
        .graph
        .as_ref()
        .unwrap()
        .node
        .iter()
        .map(|n| n.op_type())
        .collect()
}

fn initializer_dims(model: &ModelProto, name: &str) -> Vec<i64> {
    let graph = model.graph.as_ref().unwrap();
    let init = graph
        .initializer
        .iter()
        .find(|t| t.name() == name)
        .unwrap_or_else(|| panic!("no initializer {name}"));
    init.dims.clone()
}

/// `(dim_param or value)` of a graph input or output.
fn dims(info: &ValueInfoProto) -> Vec<String> {
    let Some(type_proto::Value::TensorType(t)) = &info.r#type.as_ref().unwrap().value else {
        panic!("{} is not a tensor", info.name());
    };
    t.shape
        .as_ref()
        .unwrap()
        .dim
        .iter()
        .map(|d| match d.value.as_ref().unwrap() {
            dimension::Value::DimParam(p) => p.clone(),
            dimension::Value::DimValue(v) => v.to_string(),
        })
        .collect()
}

#[test]
fn every_model_states_version_opset_and_producer() {
    for (name, model) in models() {
        let onnx = round_trip_file(name, &model);
        assert_eq!(onnx.ir_version, Some(EXPORT_IR_VERSION));
        assert_eq!(EXPORT_OPSET, 17);
        assert_eq!(onnx.opset_import.len(), 1);
        assert_eq!(onnx.opset_import[0].version, Some(17));
        assert_eq!(onnx.opset_import[0].domain(), "");
        assert_eq!(onnx.producer_name(), "kiln");
        let graph = onnx.graph.as_ref().unwrap();
        assert_eq!(graph.name(), model.name());
        assert_eq!(graph.input.len(), 1, "{name}");
        let expected: Vec<String> = std::iter::once("batch".to_string())
            .chain(
                model
                    .input_shape()
                    .unwrap()
                    .dims()
                    .iter()
                    .map(|d| d.to_string()),
            )
            .collect();
        assert_eq!(dims(&graph.input[0]), expected, "{name}");
        for (info, shape) in graph.output.iter().zip(model.output_shapes().unwrap()) {
            assert_eq!(dims(info)[0], "batch");
            assert_eq!(
                dims(info)[1..],
                shape
                    .dims()
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
            );
        }
        // Every weight is an initializer (but in `extras`, whose BatchNormalization over a
        // non-channel axis is folded into a scale and an offset).
        if name == "extras" {
            continue;
        }
        let floats: usize = graph
            .initializer
            .iter()
            .filter(|t| t.data_type() == 1)
            .map(|t| t.dims.iter().product::<i64>() as usize)
            .sum();
        assert!(
            floats >= model.count_params().unwrap(),
            "{name}: {floats} floats"
        );
    }
}

#[test]
fn mlp_is_gemms_and_activations() {
    let onnx = round_trip_file("mlp", &mlp());
    assert_eq!(
        op_types(&onnx),
        [
            "Flatten",
            "Gemm",
            "Relu",
            "Gemm",
            "Tanh",
            "Reshape",
            "MatMul",
            "Add",
            "Sigmoid",
            "Flatten",
            "LeakyRelu",
            "Gemm",
            "Softmax"
        ]
    );
    assert_eq!(initializer_dims(&onnx, "dense/kernel"), [12, 16]);
    assert_eq!(initializer_dims(&onnx, "dense/bias"), [16]);
    assert_eq!(initializer_dims(&onnx, "reshape/shape"), [3]);
}

#[test]
fn cnn_runs_channels_first_between_one_transpose_in_and_one_out() {
    let onnx = round_trip_file("cnn", &cnn());
    assert_eq!(
        op_types(&onnx),
        [
            "Transpose",
            "Conv",
            "Relu",
            "BatchNormalization",
            "MaxPool",
            "Conv",
            "Clip",
            "AveragePool",
            "Pad",
            "Conv",
            "Conv",
            "BatchNormalization",
            "LeakyRelu",
            "Transpose",
            "Flatten",
            "Gemm",
            "Softmax"
        ]
    );
    assert_eq!(initializer_dims(&onnx, "conv2d/kernel"), [4, 2, 3, 3]);
    assert_eq!(
        initializer_dims(&onnx, "depthwise_conv2d/depthwise_kernel"),
        [8, 1, 3, 3]
    );
    assert_eq!(
        initializer_dims(&onnx, "separable_conv2d/depthwise_kernel"),
        [8, 1, 3, 3]
    );
    assert_eq!(
        initializer_dims(&onnx, "separable_conv2d/pointwise_kernel"),
        [6, 8, 1, 1]
    );
    assert_eq!(
        initializer_dims(&onnx, "batch_normalization/moving_variance"),
        [4]
    );
    let graph = onnx.graph.as_ref().unwrap();
    let node = |op: &str| graph.node.iter().find(|n| n.op_type() == op).unwrap();
    let attr = |op: &str, name: &str| {
        node(op)
            .attribute
            .iter()
            .find(|a| a.name() == name)
            .unwrap()
            .clone()
    };
    // 5x5 pooled by 2 with `same`: one pixel of padding, after (TensorFlow's split), and
    // the average leaves it out.
    assert_eq!(attr("AveragePool", "pads").ints, [0, 0, 1, 1]);
    assert_eq!(attr("AveragePool", "count_include_pad").i, Some(0));
    assert_eq!(attr("MaxPool", "pads").ints, [0, 0, 1, 1]);
    assert_eq!(attr("Conv", "pads").ints, [1, 1, 1, 1]);
    assert_eq!(attr("Transpose", "perm").ints, [0, 3, 1, 2]);
}

#[test]
fn resnet_adds_concatenates_and_multiplies_channels_first() {
    let onnx = round_trip_file("resnet", &resnet());
    let ops = op_types(&onnx);
    let count = |op: &str| ops.iter().filter(|o| **o == op).count();
    assert_eq!(count("Transpose"), 1, "{ops:?}");
    assert_eq!(count("Conv"), 6);
    assert_eq!(count("Add"), 2);
    assert_eq!(count("Mul"), 1);
    assert_eq!(count("Concat"), 1);
    assert_eq!(count("BatchNormalization"), 2);
    assert_eq!(count("GlobalAveragePool"), 1);
    assert_eq!(count("GlobalMaxPool"), 1);
    let graph = onnx.graph.as_ref().unwrap();
    let concat = graph.node.iter().find(|n| n.op_type() == "Concat").unwrap();
    assert_eq!(concat.attribute[0].i, Some(1), "channels are ONNX axis 1");
    assert_eq!(graph.output.len(), 2);
    assert_eq!(initializer_dims(&onnx, "conv2d_4/kernel"), [8, 8, 1, 1]);
}

#[test]
fn sequence_gathers_normalises_and_permutes() {
    let onnx = round_trip_file("sequence", &sequence());
    assert_eq!(
        op_types(&onnx),
        [
            "Cast",
            "Gather",
            "LayerNormalization",
            "Transpose",
            "Flatten",
            "Gemm"
        ]
    );
    assert_eq!(initializer_dims(&onnx, "embedding/embeddings"), [10, 4]);
}

#[test]
fn a_layer_without_a_rule_is_an_error_naming_it() {
    let model = sequential![Input::new([3, 2]), LSTM::new(4), Dense::new(2)];
    let err = to_onnx(&model).unwrap_err().to_string();
    assert!(err.contains("lstm (LSTM)"), "{err}");
    assert!(err.contains("no ONNX export rule"), "{err}");
    let model = sequential![Input::new([4]), Dense::new(2), ReLU::new().threshold(0.5)];
    let err = to_onnx(&model).unwrap_err().to_string();
    assert!(
        err.contains("re_lu (ReLU)") && err.contains("threshold"),
        "{err}"
    );
}

#[test]
fn a_failed_export_leaves_no_file() {
    let dir = std::env::temp_dir().join(format!("kiln-onnx-export-fail-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.onnx");
    let model = sequential![Input::new([3, 2]), LSTM::new(4)];
    assert!(model.save_onnx(&path).is_err());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Random inputs of `batch` examples for `model` (ids in `[0, 10)` for the sequence model).
fn inputs_for(name: &str, model: &Model, batch: usize, seed: u32) -> Tensor {
    let shape = model.input_shape().unwrap();
    let mut dims = vec![batch];
    dims.extend(shape.dims());
    let n: usize = dims.iter().product();
    let data = if name == "sequence" {
        uniform(n, seed, 0.0, 10.0)
            .into_iter()
            .map(f32::floor)
            .collect()
    } else {
        uniform(n, seed, -1.0, 1.0)
    };
    Tensor::new(Shape::new(dims), data).unwrap()
}

/// Writes `t` as raw little-endian f32 to `dir/file`; returns its manifest entry.
fn write_tensor(dir: &Path, file: &str, t: &Tensor) -> serde_json::Value {
    let bytes: Vec<u8> = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join(file), bytes).unwrap();
    serde_json::json!({"file": file, "shape": t.shape.dims()})
}

/// For `onnx_export/check_with_onnxruntime.py`: writes each model as `NAME.onnx`, and for
/// batch sizes 1 and 3 an input and Kiln's predictions (raw f32), listed in
/// `manifest.json`, to the directory `KILN_ONNX_EXPORT_DIR` names:
/// `KILN_ONNX_EXPORT_DIR=/tmp/x cargo test -p kiln --test onnx_export -- --ignored`, then
/// `~/.cache/kiln-anchors/venv-onnx/bin/python frontend/tests/onnx_export/check_with_onnxruntime.py /tmp/x`.
#[test]
#[ignore = "writes files for the onnxruntime check; needs KILN_ONNX_EXPORT_DIR"]
fn write_files_for_onnxruntime() {
    let dir =
        PathBuf::from(std::env::var("KILN_ONNX_EXPORT_DIR").expect("set KILN_ONNX_EXPORT_DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut manifest = Vec::new();
    for (seed, (name, model)) in models().into_iter().enumerate() {
        model.save_onnx(dir.join(format!("{name}.onnx"))).unwrap();
        for batch in [1, 3] {
            let x = inputs_for(name, &model, batch, 100 + seed as u32 * 10 + batch as u32);
            let ys = model.predict_many(&[&x], batch).unwrap();
            let outputs: Vec<_> = ys
                .iter()
                .enumerate()
                .map(|(k, y)| write_tensor(&dir, &format!("{name}_b{batch}_out{k}.bin"), y))
                .collect();
            manifest.push(serde_json::json!({
                "model": format!("{name}.onnx"),
                "batch": batch,
                "inputs": [write_tensor(&dir, &format!("{name}_b{batch}_in0.bin"), &x)],
                "outputs": outputs,
            }));
        }
    }
    let text = serde_json::to_string_pretty(&manifest).unwrap();
    std::fs::write(dir.join("manifest.json"), text).unwrap();
}

// Issue 14 item 4: "Kiln reads it back to identical predictions". The MLP, CNN and ResNet
// exports use only ops the importer maps; `sequence` (Cast, Gather, LayerNormalization),
// `extras` (Elu, Selu, Erf, Max, Min, Slice, PRelu, ...) and `decoder` (Resize) do not, and
// are left out.
#[test]
fn exported_models_read_back_to_identical_predictions() {
    for (name, model) in models() {
        if !["mlp", "cnn", "resnet"].contains(&name) {
            continue;
        }
        let dir = std::env::temp_dir().join(format!("kiln-onnx-rt-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.onnx"));
        model.save_onnx(&path).unwrap();
        let back = Model::load_onnx(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        for batch in [1, 3] {
            let x = inputs_for(name, &model, batch, 7);
            let want = model.predict_many(&[&x], batch).unwrap();
            let got = back.predict_many(&[&x], batch).unwrap();
            assert_eq!(want.len(), got.len(), "{name}: outputs");
            for (w, g) in want.iter().zip(&got) {
                assert_eq!(w.shape, g.shape, "{name}");
                let worst = w
                    .data
                    .iter()
                    .zip(&g.data)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                eprintln!("{name} batch {batch}: max |imported - kiln| = {worst:e}");
                assert!(worst <= 1e-5, "{name} batch {batch}: {worst}");
            }
        }
    }
}

//! Small ONNX graphs built in Rust (ModelProto) for ops the fixtures do not cover, each
//! checked against an independent computation in NCHW written here (plain loops over the ONNX
//! definitions), or against the error the importer must give.

use kiln::{Model, Tensor};
use kiln_onnx_proto::attribute_proto::AttributeType;
use kiln_onnx_proto::prost::Message;
use kiln_onnx_proto::tensor_shape_proto::{Dimension, dimension};
use kiln_onnx_proto::type_proto::{Tensor as TensorType, Value as TypeValue};
use kiln_onnx_proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn f32_tensor(name: &str, dims: &[usize], data: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: Some(1),
        raw_data: Some(data.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..Default::default()
    }
}

fn i64_tensor(name: &str, data: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: vec![data.len() as i64],
        data_type: Some(7),
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

enum A<'a> {
    I(i64),
    Is(&'a [i64]),
    F(f32),
    S(&'a str),
}

fn node(op: &str, inputs: &[&str], output: &str, attrs: &[(&str, A<'_>)]) -> NodeProto {
    let attribute = attrs
        .iter()
        .map(|(name, a)| {
            let mut p = AttributeProto {
                name: Some(name.to_string()),
                ..Default::default()
            };
            match a {
                A::I(v) => (p.i, p.r#type) = (Some(*v), Some(AttributeType::Int as i32)),
                A::Is(v) => (p.ints, p.r#type) = (v.to_vec(), Some(AttributeType::Ints as i32)),
                A::F(v) => (p.f, p.r#type) = (Some(*v), Some(AttributeType::Float as i32)),
                A::S(v) => {
                    (p.s, p.r#type) = (
                        Some(v.as_bytes().to_vec()),
                        Some(AttributeType::String as i32),
                    )
                }
            }
            p
        })
        .collect();
    NodeProto {
        name: Some(format!("{op}_{output}")),
        op_type: Some(op.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

/// A one-input (`x`, batch axis symbolic), one-output (`y`) model.
fn model(opset: i64, x_dims: &[usize], nodes: Vec<NodeProto>, inits: Vec<TensorProto>) -> Vec<u8> {
    let mut dim = vec![Dimension {
        value: Some(dimension::Value::DimParam("N".into())),
        ..Default::default()
    }];
    dim.extend(x_dims.iter().map(|&d| Dimension {
        value: Some(dimension::Value::DimValue(d as i64)),
        ..Default::default()
    }));
    let x = ValueInfoProto {
        name: Some("x".into()),
        r#type: Some(TypeProto {
            value: Some(TypeValue::TensorType(TensorType {
                elem_type: Some(1),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    let graph = GraphProto {
        name: Some("g".into()),
        node: nodes,
        initializer: inits,
        input: vec![x],
        output: vec![ValueInfoProto {
            name: Some("y".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(opset),
        }],
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

fn import(bytes: &[u8]) -> kiln::Result<Model> {
    let dir = std::env::temp_dir().join(format!("kiln_onnx_ops_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{:016x}.onnx", fxhash(bytes)));
    std::fs::write(&path, bytes).unwrap();
    let model = Model::load_onnx(&path);
    std::fs::remove_file(&path).ok();
    model
}

fn fxhash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Imports `bytes`, predicts `x` (NCHW or NC) and compares with `want` (1e-4 abs + rel).
fn check(name: &str, bytes: &[u8], x: &Tensor, want: &[f32]) {
    let model = import(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let got = model
        .predict(x, x.shape.dims()[0])
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(got.data.len(), want.len(), "{name}: {:?}", got.shape);
    for (i, (&g, &w)) in got.data.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 + 1e-4 * w.abs(),
            "{name}[{i}]: got {g}, want {w}"
        );
    }
}

/// NCHW convolution by the ONNX definition: pads `[top, left, bottom, right]`.
#[allow(clippy::too_many_arguments)]
fn conv_ref(
    x: &[f32],
    [n, c, h, w]: [usize; 4],
    k: &[f32],
    [m, cg, kh, kw]: [usize; 4],
    bias: &[f32],
    s: usize,
    [pt, pl, pb, pr]: [usize; 4],
    d: usize,
    group: usize,
) -> Vec<f32> {
    let oh = (h + pt + pb - (kh - 1) * d - 1) / s + 1;
    let ow = (w + pl + pr - (kw - 1) * d - 1) / s + 1;
    let mut y = Vec::new();
    for b in 0..n {
        for mo in 0..m {
            let g = mo / (m / group);
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = bias[mo];
                    for ci in 0..cg {
                        for u in 0..kh {
                            for v in 0..kw {
                                let (yy, xx) = (
                                    (i * s + u * d) as i64 - pt as i64,
                                    (j * s + v * d) as i64 - pl as i64,
                                );
                                if yy < 0 || xx < 0 || yy >= h as i64 || xx >= w as i64 {
                                    continue;
                                }
                                let cin = g * cg + ci;
                                acc += x[((b * c + cin) * h + yy as usize) * w + xx as usize]
                                    * k[((mo * cg + ci) * kh + u) * kw + v];
                            }
                        }
                    }
                    y.push(acc);
                }
            }
        }
    }
    y
}

#[test]
fn depthwise_conv_with_asymmetric_pads_then_scale_and_shift_folded() {
    let (dims, wd) = ([2, 4, 6, 6], [8, 1, 3, 3]);
    let x = values(2 * 4 * 36, 1);
    let k = values(8 * 9, 2);
    let bias = values(8, 3);
    let (scale, shift) = (values(8, 4), values(8, 5));
    let nodes = vec![
        node(
            "Conv",
            &["x", "w", "b"],
            "c",
            &[("group", A::I(4)), ("pads", A::Is(&[1, 0, 1, 2]))],
        ),
        node("Mul", &["c", "scale"], "m", &[]),
        node("Add", &["shift", "m"], "y", &[]),
    ];
    let inits = vec![
        f32_tensor("w", &wd, &k),
        f32_tensor("b", &[8], &bias),
        f32_tensor("scale", &[1, 8, 1, 1], &scale),
        f32_tensor("shift", &[8, 1, 1], &shift),
    ];
    let conv = conv_ref(&x, dims, &k, wd, &bias, 1, [1, 0, 1, 2], 1, 4);
    let per = conv.len() / 16;
    let want: Vec<f32> = conv
        .iter()
        .enumerate()
        .map(|(i, &v)| v * scale[(i / per) % 8] + shift[(i / per) % 8])
        .collect();
    let bytes = model(13, &dims[1..], nodes, inits);
    check("depthwise", &bytes, &Tensor::new(dims, x).unwrap(), &want);
    let m = import(&bytes).unwrap();
    let classes: Vec<&str> = m.layers().iter().map(|l| l.class_name()).collect();
    assert!(
        classes.contains(&"DepthwiseConv2D") && !classes.contains(&"ConstantOperand"),
        "{classes:?}"
    );
}

#[test]
fn dilated_same_upper_conv_grouped_conv_and_a_bad_group_named() {
    let (dims, wd) = ([1, 3, 7, 7], [4, 3, 3, 3]);
    let (x, k, bias) = (values(3 * 49, 6), values(4 * 27, 7), vec![0.0; 4]);
    let attrs = [
        ("dilations", A::Is(&[2, 2])),
        ("auto_pad", A::S("SAME_UPPER")),
    ];
    let bytes = model(
        11,
        &dims[1..],
        vec![node("Conv", &["x", "w"], "y", &attrs)],
        vec![f32_tensor("w", &wd, &k)],
    );
    // SAME_UPPER with a dilated 5×5 window over 7: 2 cells each side.
    let want = conv_ref(&x, dims, &k, wd, &bias, 1, [2, 2, 2, 2], 2, 1);
    check(
        "dilated same conv",
        &bytes,
        &Tensor::new(dims, x).unwrap(),
        &want,
    );

    // Group 2 over 4 channels (not depthwise): a Conv2D with groups = 2.
    let (gd, gw) = ([2, 4, 5, 5], [6, 2, 3, 3]);
    let (gx, gk, gb) = (values(200, 20), values(108, 8), values(6, 21));
    let grouped = model(
        13,
        &gd[1..],
        vec![node(
            "Conv",
            &["x", "w", "b"],
            "y",
            &[("group", A::I(2)), ("strides", A::Is(&[2, 2]))],
        )],
        vec![f32_tensor("w", &gw, &gk), f32_tensor("b", &[6], &gb)],
    );
    let want = conv_ref(&gx, gd, &gk, gw, &gb, 2, [0; 4], 1, 2);
    check(
        "grouped conv",
        &grouped,
        &Tensor::new(gd, gx).unwrap(),
        &want,
    );
    let bad = model(
        13,
        &[4, 5, 5],
        vec![node("Conv", &["x", "w"], "y", &[("group", A::I(3))])],
        vec![f32_tensor("w", &[3, 2, 3, 3], &values(54, 8))],
    );
    let err = import(&bad).unwrap_err().to_string();
    assert!(err.contains("Conv_y") && err.contains("group 3"), "{err}");
}

/// NCHW transposed convolution by the ONNX definition (group 1, symmetric pads `p`).
fn conv_transpose_ref(
    x: &[f32],
    [n, c, h, w]: [usize; 4],
    k: &[f32],
    m: usize,
    kk: usize,
    s: usize,
    p: usize,
) -> Vec<f32> {
    let (oh, ow) = ((h - 1) * s + kk - 2 * p, (w - 1) * s + kk - 2 * p);
    let mut y = vec![0.0; n * m * oh * ow];
    for b in 0..n {
        for ci in 0..c {
            for i in 0..h {
                for j in 0..w {
                    for mo in 0..m {
                        for u in 0..kk {
                            for v in 0..kk {
                                let (yy, xx) =
                                    ((i * s + u) as i64 - p as i64, (j * s + v) as i64 - p as i64);
                                if yy < 0 || xx < 0 || yy >= oh as i64 || xx >= ow as i64 {
                                    continue;
                                }
                                y[((b * m + mo) * oh + yy as usize) * ow + xx as usize] += x
                                    [((b * c + ci) * h + i) * w + j]
                                    * k[((ci * m + mo) * kk + u) * kk + v];
                            }
                        }
                    }
                }
            }
        }
    }
    y
}

#[test]
fn conv_transpose_valid_and_same() {
    let dims = [2, 3, 4, 4];
    let x = values(2 * 3 * 16, 9);
    for (kk, s, p) in [(3, 2, 0), (4, 2, 1), (3, 1, 1)] {
        let k = values(3 * 2 * kk * kk, 10 + kk as u64);
        let attrs = [
            ("strides", A::Is(&[s as i64, s as i64])),
            ("pads", A::Is(&[p as i64; 4])),
        ];
        let bytes = model(
            13,
            &dims[1..],
            vec![node("ConvTranspose", &["x", "w"], "y", &attrs)],
            vec![f32_tensor("w", &[3, 2, kk, kk], &k)],
        );
        let want = conv_transpose_ref(&x, dims, &k, 2, kk, s, p);
        check(
            &format!("conv transpose k{kk} s{s} p{p}"),
            &bytes,
            &Tensor::new(dims, x.clone()).unwrap(),
            &want,
        );
    }
}

#[test]
fn pad_leaky_relu_clip_and_max_pool_with_asymmetric_pads() {
    let dims = [2, 2, 5, 5];
    let x: Vec<f32> = values(100, 11).iter().map(|v| v * 8.0).collect();
    let nodes = vec![
        node("Pad", &["x", "pads"], "p", &[]),
        node("LeakyRelu", &["p"], "l", &[("alpha", A::F(0.2))]),
        node("Clip", &["l", "lo", "hi"], "c", &[]),
        node(
            "MaxPool",
            &["c"],
            "y",
            &[
                ("kernel_shape", A::Is(&[2, 2])),
                ("strides", A::Is(&[2, 2])),
                ("pads", A::Is(&[0, 1, 1, 0])),
            ],
        ),
    ];
    let inits = vec![
        i64_tensor("pads", &[0, 0, 1, 0, 0, 0, 0, 2]),
        f32_tensor("lo", &[], &[0.0]),
        f32_tensor("hi", &[], &[6.0]),
    ];
    // Padded image 6×7; leaky, then clip to [0, 6]; max over 2×2 with pads top 0, left 1, bottom 1.
    let (ph, pw) = (6usize, 7usize);
    let at = |b: usize, c: usize, i: i64, j: i64| -> Option<f32> {
        if i < 0 || j < 0 || i >= ph as i64 || j >= pw as i64 {
            return None;
        }
        let (i, j) = (i as usize, j as usize);
        let v = if i >= 1 && j < 5 {
            x[((b * 2 + c) * 5 + i - 1) * 5 + j]
        } else {
            0.0
        };
        let v = if v < 0.0 { 0.2 * v } else { v };
        Some(v.clamp(0.0, 6.0))
    };
    let (oh, ow) = ((ph + 1 - 2) / 2 + 1, (pw + 1 - 2) / 2 + 1);
    let mut want = Vec::new();
    for b in 0..2 {
        for c in 0..2 {
            for i in 0..oh as i64 {
                for j in 0..ow as i64 {
                    let cells = [(0, 0), (0, 1), (1, 0), (1, 1)]
                        .map(|(u, v)| at(b, c, 2 * i + u, 2 * j + v - 1));
                    want.push(cells.iter().flatten().fold(f32::MIN, |a, &v| a.max(v)));
                }
            }
        }
    }
    check(
        "pad/leaky/clip/maxpool",
        &model(13, &dims[1..], nodes, inits),
        &Tensor::new(dims, x).unwrap(),
        &want,
    );
}

fn softmax(v: &[f32]) -> Vec<f32> {
    let m = v.iter().fold(f32::MIN, |a, &b| a.max(b));
    let e: Vec<f32> = v.iter().map(|x| (x - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

#[test]
fn softmax_axis_semantics_old_and_new() {
    let dims = [2, 3, 2, 2];
    let x = values(24, 12);
    // Opset 11, axis 1: one softmax over all 12 values of each example.
    let old = model(
        11,
        &dims[1..],
        vec![node("Softmax", &["x"], "y", &[])],
        vec![],
    );
    let want_old: Vec<f32> = x.chunks(12).flat_map(softmax).collect();
    check(
        "softmax opset 11",
        &old,
        &Tensor::new(dims, x.clone()).unwrap(),
        &want_old,
    );
    // Opset 13, axis 1: over the 3 channels at each position.
    let new = model(
        13,
        &dims[1..],
        vec![node("Softmax", &["x"], "y", &[("axis", A::I(1))])],
        vec![],
    );
    let mut want_new = x.clone();
    for b in 0..2 {
        for p in 0..4 {
            let col: Vec<f32> = (0..3).map(|c| x[b * 12 + c * 4 + p]).collect();
            for (c, v) in softmax(&col).into_iter().enumerate() {
                want_new[b * 12 + c * 4 + p] = v;
            }
        }
    }
    check(
        "softmax opset 13",
        &new,
        &Tensor::new(dims, x).unwrap(),
        &want_new,
    );
}

#[test]
fn flatten_transpose_and_a_shape_subgraph_keep_the_onnx_element_order() {
    let dims = [3, 2, 3, 4];
    let x = values(72, 13);
    // Relu (channels-last inside) then Flatten: the NCHW order.
    let flat = model(
        13,
        &dims[1..],
        vec![
            node("Relu", &["x"], "r", &[]),
            node("Flatten", &["r"], "y", &[("axis", A::I(1))]),
        ],
        vec![],
    );
    let want: Vec<f32> = x.iter().map(|v| v.max(0.0)).collect();
    check(
        "flatten",
        &flat,
        &Tensor::new(dims, x.clone()).unwrap(),
        &want,
    );
    // Transpose to [N, W, C, H].
    let t = model(
        13,
        &dims[1..],
        vec![
            node("Relu", &["x"], "r", &[]),
            node("Transpose", &["r"], "y", &[("perm", A::Is(&[0, 3, 1, 2]))]),
        ],
        vec![],
    );
    let mut want_t = Vec::new();
    for b in 0..3 {
        for w in 0..4 {
            for c in 0..2 {
                for h in 0..3 {
                    want_t.push(x[((b * 2 + c) * 3 + h) * 4 + w].max(0.0));
                }
            }
        }
    }
    check(
        "transpose",
        &t,
        &Tensor::new(dims, x.clone()).unwrap(),
        &want_t,
    );
    // Shape -> Gather(0) -> Unsqueeze -> Concat with [-1] -> Reshape: the batch stays free.
    let nodes = vec![
        node("Shape", &["x"], "s", &[]),
        node("Gather", &["s", "zero"], "n", &[("axis", A::I(0))]),
        node("Unsqueeze", &["n", "axes"], "n1", &[]),
        node(
            "Concat",
            &["n1", "minus_one"],
            "target",
            &[("axis", A::I(0))],
        ),
        node("Reshape", &["x", "target"], "y", &[]),
    ];
    let inits = vec![
        TensorProto {
            dims: vec![],
            ..i64_tensor("zero", &[0])
        },
        i64_tensor("axes", &[0]),
        i64_tensor("minus_one", &[-1]),
    ];
    let bytes = model(13, &dims[1..], nodes, inits);
    check(
        "shape subgraph at batch 3",
        &bytes,
        &Tensor::new(dims, x.clone()).unwrap(),
        &x,
    );
    let one = Tensor::new([1, 2, 3, 4], x[..24].to_vec()).unwrap();
    check("shape subgraph at batch 1", &bytes, &one, &x[..24]);
}

#[test]
fn gemm_alpha_beta_and_constant_sub_div_fold_or_become_layers() {
    let x = values(2 * 3, 14);
    let b = values(3 * 4, 15); // [K=3, N=4], transB = 0
    let c = values(4, 16);
    let (sub, div) = (values(4, 17), [2.0f32, -4.0, 0.5, 8.0]);
    let nodes = vec![
        node(
            "Gemm",
            &["x", "b", "c"],
            "g",
            &[("alpha", A::F(0.5)), ("beta", A::F(2.0))],
        ),
        node("Sub", &["g", "sub"], "s", &[]),
        node("Div", &["s", "div"], "d", &[]),
        node("Sub", &["sub", "d"], "y", &[]),
    ];
    let inits = vec![
        f32_tensor("b", &[3, 4], &b),
        TensorProto {
            float_data: c.clone(),
            raw_data: None,
            ..f32_tensor("c", &[1, 4], &[])
        },
        f32_tensor("sub", &[4], &sub),
        f32_tensor("div", &[4], &div),
    ];
    let mut want = Vec::new();
    for r in 0..2 {
        for j in 0..4 {
            let dot: f32 = (0..3).map(|k| x[r * 3 + k] * b[k * 4 + j]).sum();
            let g = 0.5 * dot + 2.0 * c[j];
            want.push(sub[j] - (g - sub[j]) / div[j]);
        }
    }
    let bytes = model(13, &[3], nodes, inits);
    check(
        "gemm/sub/div",
        &bytes,
        &Tensor::new([2, 3], x).unwrap(),
        &want,
    );
    let classes: Vec<&str> = import(&bytes)
        .unwrap()
        .layers()
        .iter()
        .map(|l| l.class_name())
        .collect();
    assert_eq!(
        classes,
        ["InputLayer", "Dense", "ConstantOperand"],
        "x - c and / c fold into the Dense"
    );

    let trans_a = model(
        13,
        &[3],
        vec![node("Gemm", &["x", "b"], "y", &[("transA", A::I(1))])],
        vec![f32_tensor("b", &[2, 4], &values(8, 18))],
    );
    let err = import(&trans_a).unwrap_err().to_string();
    assert!(err.contains("Gemm_y") && err.contains("transA"), "{err}");
}

#[test]
fn reduce_mean_with_axes_attribute_drops_the_spatial_axes() {
    let dims = [2, 3, 2, 2];
    let x = values(24, 19);
    let bytes = model(
        13,
        &dims[1..],
        vec![node(
            "ReduceMean",
            &["x"],
            "y",
            &[("axes", A::Is(&[2, 3])), ("keepdims", A::I(0))],
        )],
        vec![],
    );
    let want: Vec<f32> = x.chunks(4).map(|c| c.iter().sum::<f32>() / 4.0).collect();
    check("reduce mean", &bytes, &Tensor::new(dims, x).unwrap(), &want);
}

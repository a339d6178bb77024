//! The merge layers (`Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`,
//! `Concatenate`) lowered straight into an IR graph with `build_many` and run on the
//! reference interpreter: values against hand-computed or plain-Rust references (tolerance
//! 1e-6), Keras' shape rules and their errors, config round trips, and gradients from
//! `passes::autodiff::grad` against central finite differences. Last, all seven in one
//! functional model of three inputs, compiled for the CPU and run through `predict_many`
//! against a plain-Rust forward pass (tolerance 1e-5), with its summary's merge rows.
//!
//! Gradient check: loss = sum(output * fixed random weights); `eps = 1e-3`, and an analytic
//! value `a` matches a numeric `n` when `|a - n| <= 3e-3 + 1e-2 * max(|a|, |n|)` (f32).

use std::collections::HashMap;

use ir::interp::{Bindings, eval};
use ir::{BinaryOp, Graph, NodeId, ReduceOp, Shape, Tensor};
use kiln::layers::{
    Add, Average, Concatenate, Input, Layer, LayerContext, Maximum, Minimum, Multiply, Subtract,
    layer_from_json, layer_to_json,
};
use kiln::model::Functional;
use kiln::{Error, Model};
use passes::autodiff::grad;
use serde_json::json;

const TOLERANCE: f32 = 1e-6;
const EPS: f32 = 1e-3;
const ABS_TOL: f32 = 3e-3;
const REL_TOL: f32 = 1e-2;

const CONTEXT: LayerContext<'static> = LayerContext {
    params: &[],
    training: false,
    seed: 0,
};

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| 2.0 * ir::random::uniform(seed, i as u32) - 1.0)
        .collect()
}

/// A graph with one batched input per entry of `batched`, named `x0`, `x1`, ...
fn graph_with_inputs(batched: &[&[usize]]) -> (Graph, Vec<NodeId>) {
    let mut g = Graph::new();
    let xs = batched
        .iter()
        .enumerate()
        .map(|(i, dims)| g.input(format!("x{i}"), *dims))
        .collect();
    (g, xs)
}

/// Builds `layer` on inputs of the batched shapes and evaluates it on `data`.
fn run(layer: &dyn Layer, batched: &[&[usize]], data: &[Vec<f32>]) -> Tensor {
    let (mut g, xs) = graph_with_inputs(batched);
    let out = layer
        .build_many(&mut g, &xs, CONTEXT)
        .unwrap_or_else(|e| panic!("{}: {e}", layer.label()));
    let bindings: Bindings = batched
        .iter()
        .zip(data)
        .enumerate()
        .map(|(i, (dims, d))| (format!("x{i}"), Tensor::new(*dims, d.clone()).unwrap()))
        .collect();
    eval(&g, &bindings).unwrap()[out.index()].clone()
}

fn assert_close(got: &[f32], want: &[f32], tolerance: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tolerance,
            "{what}[{i}]: got {g}, want {w} (tolerance {tolerance})"
        );
    }
}

/// One elementwise merge and its per-element reference over the inputs' values.
type ElementwiseCase = (Box<dyn Layer>, usize, fn(&[f32]) -> f32);

fn elementwise_cases() -> Vec<ElementwiseCase> {
    vec![
        (Add::new().into(), 3, |v| v.iter().sum()),
        (Subtract::new().into(), 2, |v| v[0] - v[1]),
        (Multiply::new().into(), 3, |v| v.iter().product()),
        (Average::new().into(), 3, |v| {
            v.iter().sum::<f32>() / v.len() as f32
        }),
        (Maximum::new().into(), 3, |v| {
            v.iter().copied().fold(f32::MIN, f32::max)
        }),
        (Minimum::new().into(), 3, |v| {
            v.iter().copied().fold(f32::MAX, f32::min)
        }),
    ]
}

#[test]
fn two_inputs_by_hand() {
    let a = vec![1.0, -2.0, 3.0, 0.5];
    let b = vec![4.0, 5.0, -6.0, 0.5];
    let want: [(Box<dyn Layer>, [f32; 4]); 6] = [
        (Add::new().into(), [5.0, 3.0, -3.0, 1.0]),
        (Subtract::new().into(), [-3.0, -7.0, 9.0, 0.0]),
        (Multiply::new().into(), [4.0, -10.0, -18.0, 0.25]),
        (Average::new().into(), [2.5, 1.5, -1.5, 0.5]),
        (Maximum::new().into(), [4.0, 5.0, 3.0, 0.5]),
        (Minimum::new().into(), [1.0, -2.0, -6.0, 0.5]),
    ];
    for (layer, want) in want {
        let out = run(layer.as_ref(), &[&[2, 2], &[2, 2]], &[a.clone(), b.clone()]);
        assert_eq!(out.shape, Shape::from([2, 2]), "{}", layer.label());
        assert_close(&out.data, &want, TOLERANCE, layer.class_name());
    }
}

#[test]
fn elementwise_merges_of_several_inputs_match_the_reference() {
    for (layer, count, reference) in elementwise_cases() {
        let dims: &[usize] = &[2, 3, 4];
        let data: Vec<Vec<f32>> = (0..count).map(|i| values(24, 10 + i as u32)).collect();
        let shapes = vec![dims; count];
        let out = run(layer.as_ref(), &shapes, &data);
        let want: Vec<f32> = (0..24)
            .map(|k| reference(&data.iter().map(|d| d[k]).collect::<Vec<_>>()))
            .collect();
        assert_eq!(out.shape, Shape::from([2, 3, 4]), "{}", layer.label());
        assert_close(&out.data, &want, TOLERANCE, layer.class_name());
        let per_example = vec![Shape::from([3, 4]); count];
        assert_eq!(
            layer.output_shape_many(&per_example).unwrap(),
            Shape::from([3, 4])
        );
        assert!(layer.params_many(&per_example).is_empty());
    }
}

#[test]
fn elementwise_merges_broadcast_like_keras() {
    // Per example (2, 1) + (1, 3) -> (2, 3): each dimension of 1 stretches.
    let add = Add::new();
    let shapes = [Shape::from([2, 1]), Shape::from([1, 3])];
    assert_eq!(add.output_shape_many(&shapes).unwrap(), Shape::from([2, 3]));
    let out = run(
        &add,
        &[&[1, 2, 1], &[1, 1, 3]],
        &[vec![10.0, 20.0], vec![1.0, 2.0, 3.0]],
    );
    assert_eq!(out.shape, Shape::from([1, 2, 3]));
    assert_close(
        &out.data,
        &[11.0, 12.0, 13.0, 21.0, 22.0, 23.0],
        TOLERANCE,
        "(2, 1) + (1, 3)",
    );

    // A lower-rank input gets its new axes after the batch axis: (3,) with (2, 3), batch 2.
    let sub = Subtract::new();
    let shapes = [Shape::from([3]), Shape::from([2, 3])];
    assert_eq!(sub.output_shape_many(&shapes).unwrap(), Shape::from([2, 3]));
    let out = run(
        &sub,
        &[&[2, 3], &[2, 2, 3]],
        &[vec![1.0, 2.0, 3.0, 100.0, 200.0, 300.0], vec![0.0; 12]],
    );
    assert_eq!(out.shape, Shape::from([2, 2, 3]));
    assert_close(
        &out.data,
        &[
            1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 100.0, 200.0, 300.0, 100.0, 200.0, 300.0,
        ],
        TOLERANCE,
        "(3,) - (2, 3)",
    );
}

/// The message of an error, which must be an [`Error::Layer`].
fn layer_message(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(e @ Error::Layer { .. }) => e.to_string(),
        other => panic!("expected a layer error, got {other:?}"),
    }
}

#[test]
fn shape_and_count_errors_name_the_layer_and_shapes() {
    let add = Add::new().named("add_1");
    let msg = layer_message(add.output_shape_many(&[Shape::from([3]), Shape::from([4])]));
    assert!(msg.contains("add_1 (Add)"), "{msg}");
    assert!(msg.contains("(None, 3), (None, 4)"), "{msg}");

    let msg = layer_message(add.output_shape_many(&[Shape::from([3])]));
    assert!(msg.contains("at least 2 inputs, got 1"), "{msg}");

    let sub = Subtract::new().named("sub");
    let three = [Shape::from([3]), Shape::from([3]), Shape::from([3])];
    let msg = layer_message(sub.output_shape_many(&three));
    assert!(
        msg.contains("sub (Subtract)") && msg.contains("exactly 2 inputs, got 3"),
        "{msg}"
    );

    // The single-input forms say the layer needs several inputs.
    let msg = layer_message(Maximum::new().output_shape(&Shape::from([3])));
    assert!(
        msg.contains("Maximum") && msg.contains("needs at least 2 inputs"),
        "{msg}"
    );
    let (mut g, xs) = graph_with_inputs(&[&[2, 3]]);
    let msg = layer_message(sub.build(&mut g, xs[0], CONTEXT));
    assert!(msg.contains("needs exactly 2 inputs"), "{msg}");

    // build_many checks the same rules on the graph's shapes, and the batch sizes.
    let (mut g, xs) = graph_with_inputs(&[&[2, 3], &[2, 4]]);
    let msg = layer_message(Multiply::new().build_many(&mut g, &xs, CONTEXT));
    assert!(msg.contains("(None, 3), (None, 4)"), "{msg}");
    let (mut g, xs) = graph_with_inputs(&[&[2, 3], &[5, 3]]);
    let msg = layer_message(Minimum::new().build_many(&mut g, &xs, CONTEXT));
    assert!(
        msg.contains("different batch sizes: [2, 3], [5, 3]"),
        "{msg}"
    );

    assert_eq!(Add::new().arity(), None);
    assert_eq!(Subtract::new().arity(), Some(2));
    assert_eq!(Concatenate::new().arity(), None);
}

#[test]
fn concatenate_joins_along_keras_axes() {
    // Per-example (2, 3) and (2, 1): axis -1 (the default) and 2 are the last axis.
    let a = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let b = vec![10.0, 20.0];
    for layer in [Concatenate::new(), Concatenate::with_axis(2)] {
        let shapes = [Shape::from([2, 3]), Shape::from([2, 1])];
        assert_eq!(
            layer.output_shape_many(&shapes).unwrap(),
            Shape::from([2, 4])
        );
        let out = run(&layer, &[&[1, 2, 3], &[1, 2, 1]], &[a.clone(), b.clone()]);
        assert_eq!(out.shape, Shape::from([1, 2, 4]));
        assert_close(
            &out.data,
            &[1.0, 2.0, 3.0, 10.0, 4.0, 5.0, 6.0, 20.0],
            TOLERANCE,
            &format!("axis {}", layer.axis()),
        );
    }
    // Axis 1 and -2 are the first per-example axis: (2, 3) and (1, 3) -> (3, 3), three inputs.
    for layer in [Concatenate::with_axis(1), Concatenate::with_axis(-2)] {
        let out = run(
            &layer,
            &[&[1, 2, 3], &[1, 1, 3], &[1, 1, 3]],
            &[a.clone(), vec![7.0, 8.0, 9.0], vec![-1.0, -2.0, -3.0]],
        );
        assert_eq!(out.shape, Shape::from([1, 4, 3]));
        assert_close(
            &out.data,
            &[
                1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, -1.0, -2.0, -3.0,
            ],
            TOLERANCE,
            &format!("axis {}", layer.axis()),
        );
    }
}

#[test]
fn concatenate_errors() {
    let shapes = [Shape::from([2, 3]), Shape::from([4, 1])];
    let msg = layer_message(Concatenate::new().named("cat").output_shape_many(&shapes));
    assert!(msg.contains("cat (Concatenate)"), "{msg}");
    assert!(
        msg.contains("every axis but the concatenation axis -1"),
        "{msg}"
    );
    assert!(msg.contains("(None, 2, 3), (None, 4, 1)"), "{msg}");

    let same = [Shape::from([2, 3]), Shape::from([2, 3])];
    for (axis, want) in [
        (0, "batch axis"),
        (-3, "batch axis"),
        (3, "out of range"),
        (-4, "out of range"),
    ] {
        let msg = layer_message(Concatenate::with_axis(axis).output_shape_many(&same));
        assert!(msg.contains(want), "axis {axis}: {msg}");
    }

    let ranks = [Shape::from([2, 3]), Shape::from([6])];
    let msg = layer_message(Concatenate::new().output_shape_many(&ranks));
    assert!(msg.contains("same rank"), "{msg}");

    let (mut g, xs) = graph_with_inputs(&[&[1, 2, 3], &[1, 2, 3]]);
    let msg = layer_message(Concatenate::with_axis(0).build_many(&mut g, &xs, CONTEXT));
    assert!(msg.contains("batch axis"), "{msg}");
}

#[test]
fn configs_round_trip_and_read_keras() {
    let layers: Vec<Box<dyn Layer>> = vec![
        Add::new().named("add").into(),
        Subtract::new().named("subtract").into(),
        Multiply::new().named("multiply").into(),
        Average::new().named("average").into(),
        Maximum::new().named("maximum").into(),
        Minimum::new().named("minimum").into(),
        Concatenate::with_axis(2).named("concatenate").into(),
    ];
    for layer in &layers {
        let entry = layer_to_json(layer.as_ref());
        let back = layer_from_json(&entry).unwrap_or_else(|e| panic!("{entry}: {e}"));
        assert_eq!(back.class_name(), layer.class_name());
        assert_eq!(back.name(), layer.name());
        assert_eq!(back.arity(), layer.arity());
        assert_eq!(layer_to_json(back.as_ref()), entry);
    }
    assert_eq!(
        layer_to_json(layers[6].as_ref())["config"],
        json!({"name": "concatenate", "trainable": true, "dtype": "float32", "axis": 2})
    );
    assert_eq!(
        layer_to_json(layers[0].as_ref())["config"],
        json!({"name": "add", "trainable": true, "dtype": "float32"})
    );

    // Keras 2's own entries; a missing axis is Keras' default -1.
    let keras = json!({"class_name": "Concatenate",
        "config": {"name": "concatenate_1", "trainable": true, "dtype": "float32", "axis": -2}});
    let cat = layer_from_json(&keras).unwrap();
    assert_eq!(cat.config()["axis"], json!(-2));
    let keras = json!({"class_name": "Concatenate", "config": {"name": "c"}});
    assert_eq!(layer_from_json(&keras).unwrap().config()["axis"], json!(-1));

    let bad = json!({"class_name": "Concatenate", "config": {"name": "c", "axis": "last"}});
    match layer_from_json(&bad) {
        Err(e @ Error::Config { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("c (Concatenate)") && msg.contains("`axis`"),
                "{msg}"
            );
        }
        other => panic!("expected a config error, got {other:?}"),
    }
}

/// Checks `grad` of `sum(layer(xs) * weights)` against central finite differences.
fn check_gradients(layer: &dyn Layer, batched: &[&[usize]], data: &[Vec<f32>]) {
    let what = layer.label();
    let (mut g, xs) = graph_with_inputs(batched);
    let out = layer.build_many(&mut g, &xs, CONTEXT).unwrap();
    let out_shape = g.shape(out).clone();
    let weights =
        g.constant(Tensor::new(out_shape.clone(), values(out_shape.numel(), 99)).unwrap());
    let weighted = g.binary(BinaryOp::Mul, out, weights).unwrap();
    let axes: Vec<usize> = (0..out_shape.rank()).collect();
    let loss = g.reduce(ReduceOp::Sum, weighted, &axes, false).unwrap();

    let mut bindings: Bindings = HashMap::new();
    for (i, (dims, d)) in batched.iter().zip(data).enumerate() {
        bindings.insert(format!("x{i}"), Tensor::new(*dims, d.clone()).unwrap());
    }
    let (gg, grads) = grad(&g, loss, &xs).unwrap();
    let analytic = eval(&gg, &bindings).unwrap();
    let loss_at = |b: &Bindings| eval(&g, b).unwrap()[loss.index()].data[0];

    for (i, dx) in grads.iter().enumerate() {
        let name = format!("x{i}");
        let got = &analytic[dx.index()];
        assert_eq!(
            got.shape,
            Shape::from(batched[i]),
            "{what}: gradient shape of {name}"
        );
        let mut b = bindings.clone();
        for k in 0..got.data.len() {
            let base = bindings[&name].data[k];
            b.get_mut(&name).unwrap().data[k] = base + EPS;
            let up = loss_at(&b);
            b.get_mut(&name).unwrap().data[k] = base - EPS;
            let down = loss_at(&b);
            b.get_mut(&name).unwrap().data[k] = base;
            let numeric = (up - down) / (2.0 * EPS);
            let a = got.data[k];
            let tol = ABS_TOL + REL_TOL * a.abs().max(numeric.abs());
            assert!(
                (a - numeric).abs() <= tol,
                "{what}: d loss / d {name}[{k}]: autodiff {a}, finite difference {numeric} (tolerance {tol})"
            );
        }
    }
}

/// `n` distinct values `offset + 0.1 k` in a shuffled order: inputs built with offsets
/// 0.0, 0.03, 0.06 never come within 0.03 of each other, so max/min never tie within eps.
fn spaced(n: usize, offset: f32, seed: u32) -> Vec<f32> {
    let mut order: Vec<(f32, usize)> = values(n, seed).into_iter().zip(0..n).collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    order
        .into_iter()
        .map(|(_, k)| offset + 0.1 * (k as f32 - (n / 2) as f32))
        .collect()
}

#[test]
fn gradients_match_finite_differences() {
    for (layer, count, _) in elementwise_cases() {
        let data: Vec<Vec<f32>> = (0..count)
            .map(|i| spaced(12, 0.03 * i as f32, 20 + i as u32))
            .collect();
        check_gradients(layer.as_ref(), &vec![&[2usize, 2, 3][..]; count], &data);
    }
    // Broadcasting and rank alignment: per example (2, 3), (1, 3) and (3,).
    for layer in [
        Box::new(Add::new()) as Box<dyn Layer>,
        Multiply::new().into(),
        Average::new().into(),
        Maximum::new().into(),
    ] {
        let data = vec![
            spaced(12, 0.0, 30),
            spaced(6, 0.03, 31),
            spaced(6, 0.06, 32),
        ];
        check_gradients(layer.as_ref(), &[&[2, 2, 3], &[2, 1, 3], &[2, 3]], &data);
    }
    let data = vec![values(12, 40), values(4, 41), values(8, 42)];
    check_gradients(
        &Concatenate::new(),
        &[&[2, 2, 3], &[2, 2, 1], &[2, 2, 2]],
        &data,
    );
    let data = vec![values(12, 43), values(6, 44)];
    check_gradients(&Concatenate::with_axis(1), &[&[2, 2, 3], &[2, 1, 3]], &data);
}

/// Three inputs a (2, 3), b (2, 3), c (3,) → Concatenate(axis=1) of Add(a, c),
/// Subtract(a, b), Average(a, b, c), Multiply(b, c), Maximum(a, b, c), Minimum(a, b, c):
/// per example (12, 3).
fn all_merges_model() -> Model {
    let mut f = Functional::builder("merges");
    let a = f.input(Input::new([2, 3]).named("a"));
    let b = f.input(Input::new([2, 3]).named("b"));
    let c = f.input(Input::new([3]).named("c"));
    let merged = [
        f.apply_many(Add::new(), &[a, c]),
        f.apply_many(Subtract::new(), &[a, b]),
        f.apply_many(Average::new(), &[a, b, c]),
        f.apply_many(Multiply::new(), &[b, c]),
        f.apply_many(Maximum::new(), &[a, b, c]),
        f.apply_many(Minimum::new(), &[a, b, c]),
    ]
    .into_iter()
    .collect::<kiln::Result<Vec<_>>>()
    .unwrap();
    let out = f.apply_many(Concatenate::with_axis(1), &merged).unwrap();
    f.build(&[a, b, c], &[out]).unwrap()
}

#[test]
fn a_compiled_model_of_every_merge_matches_the_reference() {
    let model = all_merges_model();
    assert_eq!(model.output_shape().unwrap(), Shape::from([12, 3]));
    assert_eq!(model.count_params().unwrap(), 0);
    let summary = model.summary().unwrap();
    for row in [
        "add (Add)",
        "subtract (Subtract)",
        "concatenate (Concatenate)",
    ] {
        assert!(summary.contains(row), "{row} missing from\n{summary}");
    }

    let n = 3;
    let a = values(n * 6, 50);
    let b = values(n * 6, 51);
    let c = values(n * 3, 52);
    let tensor = |dims: &[usize], data: &[f32]| Tensor::new(dims, data.to_vec()).unwrap();
    let got = model
        .predict_many(
            &[
                &tensor(&[n, 2, 3], &a),
                &tensor(&[n, 2, 3], &b),
                &tensor(&[n, 3], &c),
            ],
            2,
        )
        .unwrap();
    assert_eq!(got[0].shape, Shape::from([n, 12, 3]));

    // Each example: six (2, 3) blocks stacked along the first per-example axis.
    let mut want = Vec::new();
    for e in 0..n {
        let (a, b, c) = (
            &a[e * 6..e * 6 + 6],
            &b[e * 6..e * 6 + 6],
            &c[e * 3..e * 3 + 3],
        );
        let rules: [fn(f32, f32, f32) -> f32; 6] = [
            |a, _, c| a + c,
            |a, b, _| a - b,
            |a, b, c| (a + b + c) / 3.0,
            |_, b, c| b * c,
            |a, b, c| a.max(b).max(c),
            |a, b, c| a.min(b).min(c),
        ];
        for rule in rules {
            want.extend((0..6).map(|k| rule(a[k], b[k], c[k % 3])));
        }
    }
    assert_close(&got[0].data, &want, 1e-5, "merges model");
}

//! Graphs with a layer of several inputs, using a test-local two-input `Sum` layer: shapes,
//! predictions against a plain Rust forward pass, one training step against the
//! hand-derived gradient (a tensor used twice gets both gradients), and Keras' summary with
//! the "Connected to" column.

use std::collections::BTreeMap;

use ir::{BinaryOp, Graph, NodeId, Shape, Tensor};
use kiln::layers::{LayerContext, ParamSpec, layer_config};
use kiln::losses::MeanSquaredError;
use kiln::metrics::Metric;
use kiln::optimizers::SGD;
use kiln::prelude::*;

/// The sum of its inputs (all of one shape): a minimal merge layer.
#[derive(Debug, Default)]
struct Sum {
    name: Option<String>,
}

impl Layer for Sum {
    fn class_name(&self) -> &'static str {
        "Sum"
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn set_name(&mut self, name: String) {
        self.name = Some(name);
    }
    fn arity(&self) -> Option<usize> {
        None
    }
    fn output_shape(&self, input: &Shape) -> kiln::Result<Shape> {
        Ok(input.clone())
    }
    fn output_shape_many(&self, inputs: &[Shape]) -> kiln::Result<Shape> {
        match inputs.iter().find(|s| **s != inputs[0]) {
            Some(other) => Err(kiln::Error::Layer {
                layer: self.label(),
                msg: format!("inputs {} and {other} differ", inputs[0]),
            }),
            None => Ok(inputs[0].clone()),
        }
    }
    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }
    fn build(&self, _g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> kiln::Result<NodeId> {
        Ok(x)
    }
    fn build_many(
        &self,
        g: &mut Graph,
        xs: &[NodeId],
        _ctx: LayerContext<'_>,
    ) -> kiln::Result<NodeId> {
        let mut sum = xs[0];
        for &x in &xs[1..] {
            sum = g.binary(BinaryOp::Add, sum, x)?;
        }
        Ok(sum)
    }
    fn config(&self) -> serde_json::Value {
        layer_config(self, serde_json::json!({}))
    }
}

/// `x @ kernel + bias` for the rows of `x`.
fn dense_ref(x: &[f32], w: &BTreeMap<String, Tensor>, layer: &str) -> Vec<f32> {
    let kernel = &w[&format!("{layer}/kernel")];
    let bias = &w[&format!("{layer}/bias")].data;
    let (inputs, units) = (kernel.shape.dims()[0], kernel.shape.dims()[1]);
    (0..x.len() / inputs)
        .flat_map(|r| {
            (0..units).map(move |u| {
                bias[u]
                    + (0..inputs)
                        .map(|i| x[r * inputs + i] * kernel.data[i * units + u])
                        .sum::<f32>()
            })
        })
        .collect()
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * (1.0 + w.abs()),
            "{what}[{i}]: {g} vs {w}"
        );
    }
}

/// x → {Dense(4) "a", Dense(4) "b"} → Sum → Dense(2) "out".
fn diamond() -> Model {
    let mut f = Functional::builder("diamond");
    let x = f.input(Input::new([3]));
    let a = f.apply(Dense::new(4).named("a"), x).unwrap();
    let b = f.apply(Dense::new(4).named("b"), x).unwrap();
    let s = f.apply_many(Sum::default(), &[a, b]).unwrap();
    let y = f.apply(Dense::new(2).named("out"), s).unwrap();
    f.build(&[x], &[y]).unwrap()
}

fn input(n: usize, width: usize) -> Tensor {
    Tensor {
        shape: Shape::new(vec![n, width]),
        data: (0..n * width)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.2)
            .collect(),
    }
}

#[test]
fn a_diamond_predicts_the_sum_of_its_branches() {
    let model = diamond();
    assert_eq!(model.inbound_layers(3), ["a", "b"]);
    let x = input(5, 3);
    let w = model.layer_weights().unwrap();
    let (a, b) = (dense_ref(&x.data, &w, "a"), dense_ref(&x.data, &w, "b"));
    let s: Vec<f32> = a.iter().zip(&b).map(|(p, q)| p + q).collect();
    assert_close(
        &model.predict(&x, 2).unwrap().data,
        &dense_ref(&s, &w, "out"),
        "diamond",
    );
    // Wrong arity and mismatched shapes name the layer.
    let mut f = Functional::builder("bad");
    let x = f.input(Input::new([3]));
    let a = f.apply(Dense::new(4), x).unwrap();
    let err = f
        .apply(
            Sum {
                name: Some("lonely".into()),
            },
            a,
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("lonely (Sum)") && err.contains("two or more inputs"),
        "{err}"
    );
    let err = f
        .apply_many(Dense::new(2).named("d2"), &[a, a])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("d2 (Dense)") && err.contains("takes one input, got 2"),
        "{err}"
    );
    let err = f
        .apply_many(
            Sum {
                name: Some("mismatch".into()),
            },
            &[a, x],
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("mismatch (Sum)"), "{err}");
}

#[test]
fn a_tensor_used_twice_gets_both_gradients() {
    // y = 2 (x W + b), mean squared error, one full-batch SGD step.
    let mut f = Functional::builder("twice");
    let x = f.input(Input::new([3]));
    let z = f.apply(Dense::new(2), x).unwrap();
    let y = f.apply_many(Sum::default(), &[z, z]).unwrap();
    let mut model = f.build(&[x], &[y]).unwrap();
    let lr = 0.05;
    model
        .compile(
            SGD::default().learning_rate(lr),
            MeanSquaredError,
            Vec::<Box<dyn Metric>>::new(),
        )
        .unwrap();
    let (n, units) = (4, 2);
    let features = input(n, 3);
    let labels: Vec<f32> = (0..n * units).map(|i| i as f32 * 0.3 - 1.0).collect();
    let data = Dataset::new(features.data.clone(), &[n, 3], labels.clone(), &[n, units]).unwrap();
    let w = model.layer_weights().unwrap();
    let out: Vec<f32> = dense_ref(&features.data, &w, "dense")
        .iter()
        .map(|v| 2.0 * v)
        .collect();
    let dz: Vec<f32> = out
        .iter()
        .zip(&labels)
        .map(|(o, y)| 4.0 * (o - y) / (n * units) as f32)
        .collect();
    let mut kernel = w["dense/kernel"].data.clone();
    let mut bias = w["dense/bias"].data.clone();
    for u in 0..units {
        for i in 0..3 {
            let grad: f32 = (0..n)
                .map(|r| features.data[r * 3 + i] * dz[r * units + u])
                .sum();
            kernel[i * units + u] -= lr * grad;
        }
        bias[u] -= lr * (0..n).map(|r| dz[r * units + u]).sum::<f32>();
    }
    model
        .fit_with(&data, FitOptions::new(1, n).shuffle(false).verbose(0))
        .unwrap();
    let after = model.layer_weights().unwrap();
    assert_close(&after["dense/kernel"].data, &kernel, "kernel");
    assert_close(&after["dense/bias"].data, &bias, "bias");
}

#[test]
fn the_summary_lists_connections_like_keras() {
    let summary = diamond().summary().unwrap();
    let row = |fields: [&str; 4]| {
        format!(
            " {:<28}{:<29}{:<10}{:<30}",
            fields[0], fields[1], fields[2], fields[3]
        )
    };
    let blank = " ".repeat(98);
    let want = [
        "Model: \"diamond\"".to_string(),
        "_".repeat(98),
        row(["Layer (type)", "Output Shape", "Param #", "Connected to"]),
        "=".repeat(98),
        row(["input (InputLayer)", "[(None, 3)]", "0", "[]"]),
        blank.clone(),
        row(["a (Dense)", "(None, 4)", "16", "['input[0][0]']"]),
        blank.clone(),
        row(["b (Dense)", "(None, 4)", "16", "['input[0][0]']"]),
        blank.clone(),
        row(["sum (Sum)", "(None, 4)", "0", "['a[0][0]',"]),
        row(["", "", "", " 'b[0][0]']"]),
        blank.clone(),
        row(["out (Dense)", "(None, 2)", "10", "['sum[0][0]']"]),
        blank.clone(),
        "=".repeat(98),
        "Total params: 42 (168.00 Byte)".to_string(),
        "Trainable params: 42 (168.00 Byte)".to_string(),
        "Non-trainable params: 0 (0.00 Byte)".to_string(),
        "_".repeat(98),
    ];
    let got: Vec<&str> = summary.lines().collect();
    assert_eq!(got, want);
}

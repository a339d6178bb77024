//! Activations against reference formulas (written here in f64), through the reference
//! interpreter; names parse like Keras' and unknown names are errors.

use std::collections::HashMap;

use ir::{Graph, Tensor};
use kiln::activations::{Activation, SELU_ALPHA, SELU_SCALE};

const INPUTS: [f32; 12] = [
    -7.0, -3.0, -2.5, -1.0, -0.4, -0.01, 0.0, 0.3, 1.0, 2.0, 4.0, 9.0,
];

fn run(activation: Activation, x: &[f32], shape: &[usize]) -> Vec<f32> {
    let mut g = Graph::new();
    let input = g.input("x", ir::Shape::from(shape));
    let y = activation.build(&mut g, input).unwrap();
    g.add_output("y", y).unwrap();
    let bindings = HashMap::from([("x".to_string(), Tensor::new(shape, x.to_vec()).unwrap())]);
    let out = ir::interp::run(&g, &bindings).unwrap();
    out.outputs[0].1.data.clone()
}

fn erf(x: f64) -> f64 {
    // Abramowitz–Stegun 7.1.26 has error 1.5e-7: fine for a 1e-5 tolerance.
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    (1.0 - poly * (-x * x).exp()).copysign(x)
}

fn reference(activation: Activation, x: f64) -> f64 {
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    let elu = |x: f64, a: f64| if x > 0.0 { x } else { a * (x.exp() - 1.0) };
    match activation {
        Activation::Linear => x,
        Activation::Relu => x.max(0.0),
        Activation::Relu6 => x.clamp(0.0, 6.0),
        Activation::Sigmoid => sigmoid(x),
        Activation::Tanh => x.tanh(),
        Activation::Elu => elu(x, 1.0),
        Activation::Selu => SELU_SCALE as f64 * elu(x, SELU_ALPHA as f64),
        Activation::Softplus => (1.0 + x.exp()).ln(),
        Activation::Softsign => x / (1.0 + x.abs()),
        Activation::HardSigmoid => (0.2 * x + 0.5).clamp(0.0, 1.0),
        Activation::Swish => x * sigmoid(x),
        Activation::Gelu => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
        Activation::LeakyRelu { alpha } => {
            if x > 0.0 {
                x
            } else {
                alpha as f64 * x
            }
        }
        Activation::Softmax | Activation::LogSoftmax => unreachable!("checked row-wise below"),
    }
}

#[test]
fn elementwise_activations_match_their_formulas() {
    let mut checked = 0;
    for activation in Activation::all().chain([Activation::LeakyRelu { alpha: 0.3 }]) {
        if matches!(activation, Activation::Softmax | Activation::LogSoftmax) {
            continue;
        }
        let got = run(activation, &INPUTS, &[3, 4]);
        for (&x, &y) in INPUTS.iter().zip(&got) {
            let want = reference(activation, x as f64);
            assert!(
                (y as f64 - want).abs() <= 1e-5 * (1.0 + want.abs()),
                "{activation}({x}) = {y}, want {want}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 14);
}

#[test]
fn softmax_and_log_softmax_act_on_the_last_axis() {
    let x = [1.0, 2.0, 3.0, 1000.0, 1000.0, 1001.0];
    let softmax = run(Activation::Softmax, &x, &[2, 3]);
    let log_softmax = run(Activation::LogSoftmax, &x, &[2, 3]);
    for row in 0..2 {
        let xs = &x[row * 3..row * 3 + 3];
        let max = xs.iter().cloned().fold(f32::MIN, f32::max) as f64;
        let sum: f64 = xs.iter().map(|&v| (v as f64 - max).exp()).sum();
        for c in 0..3 {
            let want = (xs[c] as f64 - max).exp() / sum;
            assert!(
                (softmax[row * 3 + c] as f64 - want).abs() < 1e-6,
                "softmax row {row}"
            );
            assert!(
                (log_softmax[row * 3 + c] as f64 - want.ln()).abs() < 1e-5,
                "log_softmax row {row}"
            );
        }
    }
}

#[test]
fn names_parse_like_keras() {
    for activation in Activation::all() {
        assert_eq!(
            activation.keras_name().parse::<Activation>().unwrap(),
            activation
        );
    }
    assert_eq!(
        "leaky_relu".parse::<Activation>().unwrap(),
        Activation::LeakyRelu { alpha: 0.2 }
    );
    assert_eq!("relu".parse::<Activation>().unwrap(), Activation::Relu);
    let err = "rellu".parse::<Activation>().unwrap_err().to_string();
    assert!(
        err.contains("unknown activation `rellu`") && err.contains("relu"),
        "{err}"
    );
}

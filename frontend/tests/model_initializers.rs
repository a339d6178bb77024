//! Initializers: Keras' variance formulas (mean/std within tolerance), truncation, the
//! orthogonal property `WᵀW ≈ I`, determinism by seed, and name parsing.

use ir::Shape;
use kiln::initializers::{Initializer, fans};

fn stats(data: &[f32]) -> (f64, f64) {
    let n = data.len() as f64;
    let mean = data.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = data.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[test]
fn variance_scaling_family_has_keras_variance() {
    let shape = Shape::from([200, 300]);
    let (fan_in, fan_out) = fans(&shape);
    let cases = [
        ("glorot_uniform", 2.0 / (fan_in + fan_out)),
        ("glorot_normal", 2.0 / (fan_in + fan_out)),
        ("he_uniform", 2.0 / fan_in),
        ("he_normal", 2.0 / fan_in),
        ("lecun_uniform", 1.0 / fan_in),
        ("lecun_normal", 1.0 / fan_in),
    ];
    for (name, variance) in cases {
        let init: Initializer = name.parse().unwrap();
        let t = init.initialize(&shape, 5).unwrap();
        let (mean, std) = stats(&t.data);
        let want = variance.sqrt();
        assert!(mean.abs() < 0.02 * want, "{name}: mean {mean}");
        assert!(
            (std - want).abs() < 0.02 * want,
            "{name}: std {std} want {want}"
        );
        if name.ends_with("uniform") {
            let limit = (3.0 * variance).sqrt() as f32;
            assert!(
                t.data.iter().all(|v| v.abs() <= limit),
                "{name} exceeds its limit"
            );
        } else {
            let bound = (2.0 * want / 0.879_625_661) as f32;
            assert!(
                t.data.iter().all(|v| v.abs() <= bound * 1.000_001),
                "{name} not truncated at 2 sigma"
            );
        }
    }
}

#[test]
fn conv_kernels_count_the_receptive_field() {
    assert_eq!(fans(&Shape::from([3, 3, 8, 16])), (72.0, 144.0));
    assert_eq!(fans(&Shape::from([7])), (7.0, 7.0));
    assert_eq!(fans(&Shape::scalar()), (1.0, 1.0));
}

#[test]
fn plain_distributions_have_their_parameters() {
    let shape = Shape::from([100_000]);
    let checks = [
        (
            Initializer::RandomNormal {
                mean: 1.0,
                stddev: 0.5,
            },
            1.0,
            0.5,
        ),
        (
            Initializer::RandomUniform {
                minval: -1.0,
                maxval: 3.0,
            },
            1.0,
            4.0 / 12f64.sqrt(),
        ),
        // A normal truncated at ±2σ keeps 0.8796² of its variance.
        (
            Initializer::TruncatedNormal {
                mean: 0.0,
                stddev: 2.0,
            },
            0.0,
            2.0 * 0.879_625_661,
        ),
    ];
    for (init, mean_want, std_want) in checks {
        let (mean, std) = stats(&init.initialize(&shape, 9).unwrap().data);
        assert!(
            (mean - mean_want).abs() < 0.01 * (1.0 + std_want),
            "{init:?}: mean {mean}"
        );
        assert!(
            (std - std_want).abs() < 0.01 * std_want,
            "{init:?}: std {std} want {std_want}"
        );
    }
    let t = Initializer::TruncatedNormal {
        mean: 0.0,
        stddev: 2.0,
    }
    .initialize(&shape, 9)
    .unwrap();
    assert!(t.data.iter().all(|v| v.abs() <= 4.0));
}

#[test]
fn constants_and_identity() {
    let s = Shape::from([3, 4]);
    assert!(
        Initializer::Zeros
            .initialize(&s, 0)
            .unwrap()
            .data
            .iter()
            .all(|&v| v == 0.0)
    );
    assert!(
        Initializer::Ones
            .initialize(&s, 0)
            .unwrap()
            .data
            .iter()
            .all(|&v| v == 1.0)
    );
    assert!(
        Initializer::Constant(2.5)
            .initialize(&s, 0)
            .unwrap()
            .data
            .iter()
            .all(|&v| v == 2.5)
    );
    let eye = Initializer::Identity { gain: 2.0 }
        .initialize(&s, 0)
        .unwrap();
    for (i, v) in eye.data.iter().enumerate() {
        assert_eq!(*v, if i / 4 == i % 4 { 2.0 } else { 0.0 });
    }
    let err = Initializer::Identity { gain: 1.0 }
        .initialize(&Shape::from([2, 2, 2]), 0)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("identity needs a 2-D shape, got [2, 2, 2]"),
        "{err}"
    );
}

#[test]
fn orthogonal_columns_or_rows_are_orthonormal() {
    for (rows, cols) in [(40, 12), (12, 40), (16, 16)] {
        let w = Initializer::Orthogonal { gain: 1.0 }
            .initialize(&Shape::from([rows, cols]), 3)
            .unwrap()
            .data;
        // The smaller Gram matrix (WᵀW when tall, WWᵀ when wide) is the identity.
        let (n, dot): (usize, Box<dyn Fn(usize, usize) -> f64>) = if rows >= cols {
            (
                cols,
                Box::new(|a, b| {
                    (0..rows)
                        .map(|r| w[r * cols + a] as f64 * w[r * cols + b] as f64)
                        .sum()
                }),
            )
        } else {
            (
                rows,
                Box::new(|a, b| {
                    (0..cols)
                        .map(|c| w[a * cols + c] as f64 * w[b * cols + c] as f64)
                        .sum()
                }),
            )
        };
        for a in 0..n {
            for b in 0..n {
                let want = if a == b { 1.0 } else { 0.0 };
                assert!(
                    (dot(a, b) - want).abs() < 1e-5,
                    "{rows}x{cols}: gram[{a}][{b}] = {}",
                    dot(a, b)
                );
            }
        }
    }
    assert!(
        Initializer::Orthogonal { gain: 1.0 }
            .initialize(&Shape::from([5]), 0)
            .is_err()
    );
}

#[test]
fn same_seed_same_values_and_names_parse() {
    let s = Shape::from([64, 32]);
    let a = Initializer::GlorotUniform.initialize(&s, 1).unwrap();
    assert_eq!(a, Initializer::GlorotUniform.initialize(&s, 1).unwrap());
    assert_ne!(a, Initializer::GlorotUniform.initialize(&s, 2).unwrap());
    for name in [
        "zeros",
        "ones",
        "constant",
        "random_normal",
        "random_uniform",
        "truncated_normal",
        "orthogonal",
        "identity",
        "he_normal",
    ] {
        let init: Initializer = name.parse().unwrap();
        assert_eq!(init.keras_name(), name);
    }
    let err = "xavier".parse::<Initializer>().unwrap_err().to_string();
    assert!(err.contains("unknown initializer `xavier`"), "{err}");
}

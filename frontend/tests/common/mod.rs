//! Helpers the training tests share: a tiny synthetic classification data set and a small
//! two-layer classifier for it.

#![allow(dead_code)] // each test crate uses only some of the helpers

use kiln::prelude::*;

/// Features per example.
pub const FEATURES: usize = 4;
/// Number of classes.
pub const CLASSES: usize = 3;

/// `n` examples in [-1, 1)^4 labelled one-hot by the argmax of a fixed linear map.
pub fn synthetic(n: usize, seed: u32) -> Dataset {
    let x: Vec<f32> = (0..n * FEATURES)
        .map(|i| 2.0 * ir::random::uniform(seed, i as u32) - 1.0)
        .collect();
    let teacher = [
        [1.0, -0.5, 0.2],
        [-0.7, 1.0, 0.3],
        [0.4, 0.6, -1.0],
        [0.1, -0.9, 0.8],
    ];
    let mut y = vec![0.0; n * CLASSES];
    for b in 0..n {
        let score = |c: usize| {
            (0..FEATURES)
                .map(|f| x[b * FEATURES + f] * teacher[f][c])
                .sum::<f32>()
        };
        let best = (0..CLASSES)
            .max_by(|&i, &j| score(i).total_cmp(&score(j)))
            .unwrap();
        y[b * CLASSES + best] = 1.0;
    }
    Dataset::new(x, &[n, FEATURES], y, &[n, CLASSES]).unwrap()
}

/// `FEATURES → hidden (relu) → CLASSES` logits, weights drawn from `seed`.
pub fn relu_classifier(hidden: usize, seed: u64) -> Sequential {
    Sequential::of([
        Input::new([FEATURES]).into(),
        Dense::new(hidden).activation(Activation::Relu).into(),
        Dense::new(CLASSES).into(),
    ])
    .with_seed(seed)
}

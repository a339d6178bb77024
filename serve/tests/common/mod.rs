//! What the service tests share: a small model (input `[2, 3]`, output `[3]`) and a server
//! of it on an ephemeral loopback port.

use kiln::prelude::*;
use kiln_serve::{ServeConfig, Server};

/// Per-example input shape of [`model`].
pub const INPUT: [usize; 2] = [2, 3];
/// Values in one instance of [`model`].
pub const NUMEL: usize = 6;
/// Per-example output length of [`model`].
pub const CLASSES: usize = 3;

/// Flatten → Dense(5, tanh) → Dense(3, softmax) on `[2, 3]` inputs.
pub fn model() -> Sequential {
    sequential![
        Input::new(INPUT),
        Flatten::new(),
        Dense::new(5).activation(Activation::Tanh),
        Dense::new(CLASSES).activation(Activation::Softmax),
    ]
    .with_seed(21)
}

/// The service of [`model`] with `config` on `127.0.0.1:0`.
pub async fn start(config: ServeConfig) -> Server {
    Server::start(model(), config, "127.0.0.1:0")
        .await
        .expect("the service starts")
}

/// Instance `k`: six distinct values.
pub fn instance(k: usize) -> Vec<f32> {
    (0..NUMEL)
        .map(|i| ((k * 31 + i * 7) % 23) as f32 / 11.0 - 1.0)
        .collect()
}

/// `instances` as a request body, each nested in the input shape.
pub fn body(instances: &[Vec<f32>]) -> Vec<u8> {
    let nested: Vec<Vec<&[f32]>> = instances
        .iter()
        .map(|x| x.chunks(INPUT[1]).collect())
        .collect();
    serde_json::json!({ "instances": nested })
        .to_string()
        .into_bytes()
}

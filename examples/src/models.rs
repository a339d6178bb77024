//! The example models shared by the examples and the benchmarks, defined once.

use kiln::prelude::*;

/// The seed MLP of `examples/mnist_mlp.rs` (KotlinDL's first example): Input(28,28,1) →
/// Flatten → Dense(300, relu) → Dense(100, relu) → Dense(10), the last layer giving logits.
/// Uncompiled. Also trained by `examples/soak.rs`.
pub fn mnist_mlp() -> Sequential {
    sequential![
        Input::new([28, 28, 1]),
        Flatten::new(),
        Dense::new(300).activation(Activation::Relu),
        Dense::new(100).activation(Activation::Relu),
        Dense::new(10),
    ]
}

/// The MNIST convolutional network of `examples/mnist_cnn.rs` (after Keras' "Simple MNIST
/// convnet"): Input(28,28,1) → Conv2D(32, 3, relu) → MaxPool2D → Conv2D(64, 3, relu) →
/// MaxPool2D → Flatten → Dropout(0.5) → Dense(10), the last layer giving logits for the ten
/// digits. Uncompiled: the caller chooses the device, optimizer, loss and metrics.
///
/// Also trained by `examples/gpu_bench.rs` and timed by the `cnn_step` benchmark.
pub fn mnist_cnn() -> Sequential {
    sequential![
        Input::new([28, 28, 1]),
        Conv2D::new(32, 3).activation(Activation::Relu),
        MaxPool2D::default(),
        Conv2D::new(64, 3).activation(Activation::Relu),
        MaxPool2D::default(),
        Flatten::new(),
        Dropout::new(0.5),
        Dense::new(10),
    ]
}

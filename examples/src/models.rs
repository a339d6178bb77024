//! The example models shared by the examples and the benchmarks, defined once.

use kiln::prelude::*;

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

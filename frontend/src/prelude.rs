//! `use kiln::prelude::*;` brings in what a typical model definition and training script needs.

pub use crate::activations::Activation;
pub use crate::callbacks::Callback;
pub use crate::datasets::Dataset;
pub use crate::device::Device;
pub use crate::error::{Error, Result};
pub use crate::initializers::Initializer;
pub use crate::layers::{
    ActivationLayer, AveragePooling2D, AvgPool2D, BatchNormalization, Conv2D, Dense,
    DepthwiseConv2D, Dropout, ELU, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, Input,
    Layer, LeakyReLU, MaxPool2D, MaxPooling2D, Padding, ReLU, Reshape, SeparableConv2D, Softmax,
    ZeroPadding2D,
};
pub use crate::layers::{
    Bidirectional, GRU, LSTM, MergeMode, Permute, RepeatVector, SimpleRNN, TimeDistributed,
};
pub use crate::model::{Evaluation, FitOptions, Functional, History, Model, Sequential, TensorRef};
pub use crate::progress::Verbosity;
pub use crate::regularizers::Regularizer;
pub use crate::sequential;

//! `use kiln::prelude::*;` brings in what a typical model definition and training script needs.

pub use crate::activations::Activation;
pub use crate::callbacks::Callback;
pub use crate::datasets::Dataset;
pub use crate::device::Device;
pub use crate::error::{Error, Result};
pub use crate::initializers::Initializer;
pub use crate::layers::Embedding;
pub use crate::layers::{
    ActivationLayer, AveragePooling2D, AvgPool2D, BatchNormalization, Conv2D, Dense,
    DepthwiseConv2D, Dropout, ELU, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, Input,
    Layer, LeakyReLU, MaxPool2D, MaxPooling2D, Padding, ReLU, Reshape, SeparableConv2D, Softmax,
    ZeroPadding2D,
};
// The 1-D convolution family, transposed convolutions, up-sampling, cropping, PReLU.
pub use crate::layers::{
    AveragePooling1D, Conv1D, Conv1DTranspose, Conv2DTranspose, Cropping1D, Cropping2D,
    GlobalAveragePooling1D, GlobalMaxPooling1D, Interpolation, MaxPooling1D, PReLU, Padding1D,
    UpSampling1D, UpSampling2D, ZeroPadding1D,
};
pub use crate::layers::{
    Bidirectional, GRU, LSTM, MergeMode, Permute, RepeatVector, SimpleRNN, TimeDistributed,
};
pub use crate::layers::{Dot, LayerNormalization, MultiHeadAttention};
// Image augmentation and input statistics.
pub use crate::layers::{
    FillMode, FlipMode, Normalization, RandomContrast, RandomCrop, RandomFlip, RandomRotation,
    RandomTranslation, RandomZoom, Rescaling,
};
pub use crate::model::{Evaluation, FitOptions, Functional, History, Model, Sequential, TensorRef};
pub use crate::progress::Verbosity;
pub use crate::regularizers::Regularizer;
pub use crate::sequential;

//! The layer registry: one table from Keras class name to constructor, used to rebuild
//! layers from `{"class_name": ..., "config": {...}}` entries (Kiln files and Keras'
//! `model_config`).
//!
//! To register a layer, give it `from_config` (see [`crate::layers::config`]) and add one row
//! to `LAYERS`.

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::layers::{
    ActivationLayer, Add, Average, AveragePooling2D, BatchNormalization, Concatenate, ConfigReader,
    Conv2D, Dense, DepthwiseConv2D, Dropout, ELU, Embedding, Flatten, GlobalAveragePooling2D,
    GlobalMaxPooling2D, Input, Layer, LeakyReLU, MaxPooling2D, Maximum, Minimum, Multiply, ReLU,
    Reshape, SeparableConv2D, Softmax, Subtract, ZeroPadding2D,
};
use crate::layers::{
    AveragePooling1D, Conv1D, Conv1DTranspose, Conv2DTranspose, Cropping1D, Cropping2D,
    GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D, PReLU, UpSampling1D, UpSampling2D,
    ZeroPadding1D,
};
use crate::layers::{Bidirectional, GRU, LSTM, Permute, RepeatVector, SimpleRNN, TimeDistributed};
use crate::layers::{ConstantOperand, PinnedBatch};
use crate::layers::{CustomScaleLayer, LayerScale, Normalization, Rescaling, TFOpLambda};
use crate::layers::{Dot, LayerNormalization, MultiHeadAttention};
use crate::layers::{
    RandomContrast, RandomCrop, RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
};

/// Builds a layer from its config reader.
type FromConfig = fn(&ConfigReader) -> Result<Box<dyn Layer>>;

/// Every layer Kiln can rebuild, by Keras class name.
const LAYERS: &[(&str, FromConfig)] = &[
    ("InputLayer", |c| Ok(Box::new(Input::from_config(c)?))),
    ("Dense", |c| Ok(Box::new(Dense::from_config(c)?))),
    ("Flatten", |c| Ok(Box::new(Flatten::from_config(c)?))),
    ("Activation", |c| {
        Ok(Box::new(ActivationLayer::from_config(c)?))
    }),
    ("Conv2D", |c| Ok(Box::new(Conv2D::from_config(c)?))),
    ("DepthwiseConv2D", |c| {
        Ok(Box::new(DepthwiseConv2D::from_config(c)?))
    }),
    ("SeparableConv2D", |c| {
        Ok(Box::new(SeparableConv2D::from_config(c)?))
    }),
    ("MaxPooling2D", |c| {
        Ok(Box::new(MaxPooling2D::from_config(c)?))
    }),
    ("AveragePooling2D", |c| {
        Ok(Box::new(AveragePooling2D::from_config(c)?))
    }),
    ("GlobalAveragePooling2D", |c| {
        Ok(Box::new(GlobalAveragePooling2D::from_config(c)?))
    }),
    ("GlobalMaxPooling2D", |c| {
        Ok(Box::new(GlobalMaxPooling2D::from_config(c)?))
    }),
    ("ZeroPadding2D", |c| {
        Ok(Box::new(ZeroPadding2D::from_config(c)?))
    }),
    ("Reshape", |c| Ok(Box::new(Reshape::from_config(c)?))),
    ("Dropout", |c| Ok(Box::new(Dropout::from_config(c)?))),
    ("Embedding", |c| Ok(Box::new(Embedding::from_config(c)?))),
    ("BatchNormalization", |c| {
        Ok(Box::new(BatchNormalization::from_config(c)?))
    }),
    ("ReLU", |c| Ok(Box::new(ReLU::from_config(c)?))),
    ("LeakyReLU", |c| Ok(Box::new(LeakyReLU::from_config(c)?))),
    ("ELU", |c| Ok(Box::new(ELU::from_config(c)?))),
    ("Softmax", |c| Ok(Box::new(Softmax::from_config(c)?))),
    ("Add", |c| Ok(Box::new(Add::from_config(c)?))),
    ("Subtract", |c| Ok(Box::new(Subtract::from_config(c)?))),
    ("Multiply", |c| Ok(Box::new(Multiply::from_config(c)?))),
    ("Average", |c| Ok(Box::new(Average::from_config(c)?))),
    ("Maximum", |c| Ok(Box::new(Maximum::from_config(c)?))),
    ("Minimum", |c| Ok(Box::new(Minimum::from_config(c)?))),
    ("Concatenate", |c| {
        Ok(Box::new(Concatenate::from_config(c)?))
    }),
    // The 1-D convolution family, transposed convolutions, up-sampling, cropping, PReLU.
    ("Conv1D", |c| Ok(Box::new(Conv1D::from_config(c)?))),
    ("Conv1DTranspose", |c| {
        Ok(Box::new(Conv1DTranspose::from_config(c)?))
    }),
    ("Conv2DTranspose", |c| {
        Ok(Box::new(Conv2DTranspose::from_config(c)?))
    }),
    ("MaxPooling1D", |c| {
        Ok(Box::new(MaxPooling1D::from_config(c)?))
    }),
    ("AveragePooling1D", |c| {
        Ok(Box::new(AveragePooling1D::from_config(c)?))
    }),
    ("GlobalAveragePooling1D", |c| {
        Ok(Box::new(GlobalAveragePooling1D::from_config(c)?))
    }),
    ("GlobalMaxPooling1D", |c| {
        Ok(Box::new(GlobalMaxPooling1D::from_config(c)?))
    }),
    ("ZeroPadding1D", |c| {
        Ok(Box::new(ZeroPadding1D::from_config(c)?))
    }),
    ("Cropping1D", |c| Ok(Box::new(Cropping1D::from_config(c)?))),
    ("Cropping2D", |c| Ok(Box::new(Cropping2D::from_config(c)?))),
    ("UpSampling1D", |c| {
        Ok(Box::new(UpSampling1D::from_config(c)?))
    }),
    ("UpSampling2D", |c| {
        Ok(Box::new(UpSampling2D::from_config(c)?))
    }),
    ("PReLU", |c| Ok(Box::new(PReLU::from_config(c)?))),
    ("LayerNormalization", |c| {
        Ok(Box::new(LayerNormalization::from_config(c)?))
    }),
    ("MultiHeadAttention", |c| {
        Ok(Box::new(MultiHeadAttention::from_config(c)?))
    }),
    ("Dot", |c| Ok(Box::new(Dot::from_config(c)?))),
    ("SimpleRNN", |c| Ok(Box::new(SimpleRNN::from_config(c)?))),
    ("LSTM", |c| Ok(Box::new(LSTM::from_config(c)?))),
    ("GRU", |c| Ok(Box::new(GRU::from_config(c)?))),
    ("Bidirectional", |c| {
        Ok(Box::new(Bidirectional::from_config(c)?))
    }),
    ("TimeDistributed", |c| {
        Ok(Box::new(TimeDistributed::from_config(c)?))
    }),
    ("Permute", |c| Ok(Box::new(Permute::from_config(c)?))),
    ("RepeatVector", |c| {
        Ok(Box::new(RepeatVector::from_config(c)?))
    }),
    // Kiln's own layers for ONNX imports (no Keras class of that name).
    ("ConstantOperand", |c| {
        Ok(Box::new(ConstantOperand::from_config(c)?))
    }),
    ("PinnedBatch", |c| {
        Ok(Box::new(PinnedBatch::from_config(c)?))
    }),
    // The layers of the Keras applications (zoo).
    ("Rescaling", |c| Ok(Box::new(Rescaling::from_config(c)?))),
    ("Normalization", |c| {
        Ok(Box::new(Normalization::from_config(c)?))
    }),
    ("TFOpLambda", |c| Ok(Box::new(TFOpLambda::from_config(c)?))),
    ("Custom>CustomScaleLayer", |c| {
        Ok(Box::new(CustomScaleLayer::from_config(c)?))
    }),
    ("CustomScaleLayer", |c| {
        Ok(Box::new(CustomScaleLayer::from_config(c)?))
    }),
    ("LayerScale", |c| Ok(Box::new(LayerScale::from_config(c)?))),
    // Image augmentation.
    ("RandomFlip", |c| Ok(Box::new(RandomFlip::from_config(c)?))),
    ("RandomCrop", |c| Ok(Box::new(RandomCrop::from_config(c)?))),
    ("RandomTranslation", |c| {
        Ok(Box::new(RandomTranslation::from_config(c)?))
    }),
    ("RandomRotation", |c| {
        Ok(Box::new(RandomRotation::from_config(c)?))
    }),
    ("RandomZoom", |c| Ok(Box::new(RandomZoom::from_config(c)?))),
    ("RandomContrast", |c| {
        Ok(Box::new(RandomContrast::from_config(c)?))
    }),
];

/// The Keras class names the registry knows.
pub fn known_layer_classes() -> Vec<&'static str> {
    LAYERS.iter().map(|row| row.0).collect()
}

/// A layer of class `class_name` from its inner `config` object. An unknown class, or a
/// missing, mistyped or unsupported field, is an [`Error::Config`] naming the layer, its
/// class and the field.
pub fn layer_from_config(class_name: &str, config: &Value) -> Result<Box<dyn Layer>> {
    let reader = ConfigReader::new(class_name, config)?;
    let (_, build) = LAYERS
        .iter()
        .find(|row| row.0 == class_name)
        .ok_or_else(|| {
            reader.error(
                "class_name",
                format!(
                    "unknown layer class (known: {})",
                    known_layer_classes().join(", ")
                ),
            )
        })?;
    build(&reader)
}

/// A layer as Keras writes it in a model config: `{"class_name": ..., "config": {...}}`.
pub fn layer_to_json(layer: &dyn Layer) -> Value {
    json!({"class_name": layer.class_name(), "config": layer.config()})
}

/// A layer from a `{"class_name": ..., "config": {...}}` entry.
pub fn layer_from_json(entry: &Value) -> Result<Box<dyn Layer>> {
    let class = entry
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Config {
            owner: "layer".into(),
            class: "?".into(),
            field: "class_name".into(),
            msg: format!("a layer entry needs a string class_name, got {entry}"),
        })?;
    layer_from_config(class, entry.get("config").unwrap_or(&Value::Null))
}

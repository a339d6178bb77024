//! The Keras application zoo (`keras.applications` of tf-keras 2.21) as model builders:
//! each function takes [`Options`] (Keras' `include_top`, `input_shape`, `pooling`,
//! `classes`, `classifier_activation`; `alpha`/`depth_multiplier`/`dropout` for the
//! MobileNets, `minimalistic`/`include_preprocessing` for MobileNetV3 and EfficientNetV2)
//! and returns a [`Model`](crate::Model) whose layer names, output shapes and parameter
//! counts are Keras' for the same arguments — so Keras' published weight files
//! (`resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5`, which the user supplies:
//! nothing is downloaded) load with [`load_weights`]. [`preprocess_input`] and
//! [`decode_predictions`] are Keras' `imagenet_utils` functions.
//!
//! One file per family; `common.rs` holds the input, the classifier top and Keras' layer
//! order; `options.rs` the arguments. This module does not hold the zoo's layers (they are
//! in `layers/`) nor read files itself beyond the `.h5` weights and the class index.
//!
//! ```
//! # fn main() -> kiln::Result<()> {
//! use kiln::applications::{mobilenet_v2, Options, Pooling};
//! let options = Options::new().include_top(false).input_shape([32, 32, 3]).pooling(Pooling::Avg);
//! let model = mobilenet_v2(&options)?;
//! assert_eq!(model.output_shape()?, kiln::Shape::from([1280]));
//! # Ok(())
//! # }
//! ```

mod common;
mod convnext;
mod decode;
mod densenet;
mod efficientnet;
mod efficientnet_v2;
mod inception_resnet_v2;
mod inception_v3;
mod mobilenet;
mod mobilenet_v2;
mod mobilenet_v3;
mod nasnet;
mod options;
mod preprocess;
mod regnet;
mod resnet;
mod resnet_v2;
mod vgg;
mod weights;
mod xception;

pub use convnext::{convnext_base, convnext_large, convnext_small, convnext_tiny, convnext_xlarge};
pub use decode::{Decoded, decode_predictions};
pub use densenet::{densenet121, densenet169, densenet201};
pub use efficientnet::{
    efficientnet_b0, efficientnet_b1, efficientnet_b2, efficientnet_b3, efficientnet_b4,
    efficientnet_b5, efficientnet_b6, efficientnet_b7,
};
pub use efficientnet_v2::{
    efficientnet_v2_b0, efficientnet_v2_b1, efficientnet_v2_b2, efficientnet_v2_b3,
    efficientnet_v2_l, efficientnet_v2_m, efficientnet_v2_s,
};
pub use inception_resnet_v2::inception_resnet_v2;
pub use inception_v3::inception_v3;
pub use mobilenet::mobilenet;
pub use mobilenet_v2::mobilenet_v2;
pub use mobilenet_v3::{mobilenet_v3_large, mobilenet_v3_small};
pub use nasnet::{nasnet_large, nasnet_mobile};
pub use options::{Options, Pooling};
pub use preprocess::{Mode, preprocess_input};
pub use regnet::{
    regnet_x002, regnet_x004, regnet_x006, regnet_x008, regnet_x016, regnet_x032, regnet_x040,
    regnet_x064, regnet_x080, regnet_x120, regnet_x160, regnet_x320, regnet_y002,
};
pub use resnet::{resnet50, resnet101, resnet152};
pub use resnet_v2::{resnet50_v2, resnet101_v2, resnet152_v2};
pub use vgg::{vgg16, vgg19};
pub use weights::load_weights;
pub use xception::xception;

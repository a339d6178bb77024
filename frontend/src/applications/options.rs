//! [`Options`]: the arguments every `kiln::applications` builder takes, named and defaulted
//! as Keras' `keras.applications.*` functions name them, and the [`Pooling`] of a model
//! without its top. It checks the arguments against one family's rules ([`Family`]); it
//! builds no layers.

use crate::activations::Activation;
use crate::builder::builder_setters;
use crate::error::{Error, Result};

/// What a model without its classifier top ends in (Keras' `pooling` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pooling {
    /// `None`: the last convolutional block's 4-D output.
    #[default]
    None,
    /// `"avg"`: global average pooling, a 2-D output.
    Avg,
    /// `"max"`: global max pooling, a 2-D output.
    Max,
}

/// The arguments of an application builder, with Keras' defaults: the classifier top on,
/// the family's default input size, 1000 classes, a softmax classifier, `alpha` 1,
/// `depth_multiplier` 1 and the family's dropout rate. Weights are never downloaded: build,
/// then [`load_weights`](super::load_weights) from a file the user has.
///
/// ```
/// use kiln::applications::{Options, Pooling};
/// let options = Options::new().include_top(false).input_shape([96, 96, 3]).pooling(Pooling::Avg);
/// assert!(!options.has_top());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    include_top: bool,
    input_shape: Option<[usize; 3]>,
    pooling: Pooling,
    classes: usize,
    classifier_activation: Activation,
    alpha: f32,
    depth_multiplier: usize,
    dropout: Option<f32>,
    minimalistic: bool,
    include_preprocessing: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            include_top: true,
            input_shape: None,
            pooling: Pooling::None,
            classes: 1000,
            classifier_activation: Activation::Softmax,
            alpha: 1.0,
            depth_multiplier: 1,
            dropout: None,
            minimalistic: false,
            include_preprocessing: true,
        }
    }
}

/// The rules of one family's arguments: its default and smallest input side, and which of
/// the MobileNet-only arguments it takes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Family {
    /// The builder's name, for errors (`"vgg16"`).
    pub name: &'static str,
    /// The input side when no input shape is given.
    pub default_size: usize,
    /// The smallest input height and width Keras accepts.
    pub min_size: usize,
    /// Whether `alpha` applies.
    pub alpha: bool,
    /// Whether `depth_multiplier` applies.
    pub depth_multiplier: bool,
    /// The dropout rate before the classifier, for the families that have one.
    pub dropout: Option<f32>,
    /// Whether `include_preprocessing` applies (MobileNetV3, EfficientNetV2), and
    /// `minimalistic` (MobileNetV3; EfficientNetV2 refuses it itself).
    pub v3: bool,
}

impl Family {
    /// A family that takes none of the MobileNet arguments.
    pub(crate) const fn plain(name: &'static str, default_size: usize, min_size: usize) -> Self {
        Family {
            name,
            default_size,
            min_size,
            alpha: false,
            depth_multiplier: false,
            dropout: None,
            v3: false,
        }
    }
}

impl Options {
    /// Keras' defaults (see [`Options`]).
    pub fn new() -> Self {
        Self::default()
    }

    builder_setters! {
        /// Whether to end in the classifier (default true; Keras' `include_top`).
        include_top(include_top: bool);
        /// The per-example input shape `[height, width, channels]` (default: the family's
        /// size, e.g. `[224, 224, 3]`, also without the top, since Kiln's shapes are static).
        input_shape(input_shape: [usize; 3]) => Some;
        /// The global pooling after the last block when `include_top` is false (default none).
        pooling(pooling: Pooling);
        /// Number of classes of the classifier top (default 1000).
        classes(classes: usize);
        /// The classifier's activation (default softmax; `Activation::Linear` for logits,
        /// Keras' `classifier_activation=None`).
        classifier_activation(classifier_activation: Activation);
        /// MobileNets' width multiplier (default 1.0).
        alpha(alpha: f32);
        /// MobileNet's depth multiplier of the depthwise convolutions (default 1).
        depth_multiplier(depth_multiplier: usize);
        /// MobileNet's dropout rate before the classifier (default 1e-3; MobileNetV3's
        /// `dropout_rate`, default 0.2).
        dropout(dropout: f32) => Some;
        /// MobileNetV3's `minimalistic` variant: 3×3 kernels, ReLU, no squeeze-and-excitation
        /// (default false).
        minimalistic(minimalistic: bool);
        /// Whether MobileNetV3 and EfficientNetV2 start with their own rescaling (and
        /// normalization) of the input (default true).
        include_preprocessing(include_preprocessing: bool);
    }

    /// Whether MobileNetV3 is the minimalistic variant.
    pub fn is_minimalistic(&self) -> bool {
        self.minimalistic
    }

    /// Whether MobileNetV3 rescales its input itself.
    pub fn preprocesses(&self) -> bool {
        self.include_preprocessing
    }

    /// Whether the model ends in the classifier.
    pub fn has_top(&self) -> bool {
        self.include_top
    }

    /// The pooling of a model without its top.
    pub fn pooling_kind(&self) -> Pooling {
        self.pooling
    }

    /// Number of classes of the classifier.
    pub fn class_count(&self) -> usize {
        self.classes
    }

    /// The classifier's activation.
    pub fn classifier(&self) -> Activation {
        self.classifier_activation
    }

    /// The width multiplier.
    pub fn width(&self) -> f32 {
        self.alpha
    }

    /// The depth multiplier.
    pub fn depth(&self) -> usize {
        self.depth_multiplier
    }

    /// The dropout rate for `family` (its own default unless set).
    pub(crate) fn dropout_rate(&self, family: &Family) -> f32 {
        self.dropout.or(family.dropout).unwrap_or(0.0)
    }

    /// The input shape for `family`, checked as Keras' `obtain_input_shape` checks it: at
    /// least `min_size` high and wide, at least one channel; also the options `family` does
    /// not take are refused, and the classes and multipliers must be positive.
    pub(crate) fn checked_input(&self, family: &Family) -> Result<[usize; 3]> {
        let invalid = |name: &'static str, msg: String| Error::InvalidArgument {
            name,
            msg: format!("{}: {msg}", family.name),
        };
        let shape = self
            .input_shape
            .unwrap_or([family.default_size, family.default_size, 3]);
        let [h, w, c] = shape;
        if h < family.min_size || w < family.min_size || c == 0 {
            return Err(invalid(
                "input_shape",
                format!(
                    "({h}, {w}, {c}): the input must be at least {0}x{0} with at least one channel",
                    family.min_size
                ),
            ));
        }
        if self.include_top && self.classes == 0 {
            return Err(invalid("classes", "must be at least 1".into()));
        }
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return Err(invalid("alpha", format!("{} is not positive", self.alpha)));
        }
        if !family.alpha && self.alpha != 1.0 {
            return Err(invalid(
                "alpha",
                "only MobileNets take a width multiplier".into(),
            ));
        }
        if self.depth_multiplier == 0 || (!family.depth_multiplier && self.depth_multiplier != 1) {
            return Err(invalid(
                "depth_multiplier",
                format!(
                    "{} is not allowed (only MobileNet takes one, at least 1)",
                    self.depth_multiplier
                ),
            ));
        }
        if let Some(rate) = self.dropout
            && (family.dropout.is_none() || !(0.0..1.0).contains(&rate))
        {
            return Err(invalid(
                "dropout",
                format!("{rate} is not allowed (only MobileNet takes one, in [0, 1))"),
            ));
        }
        if !family.v3 && (self.minimalistic || !self.include_preprocessing) {
            return Err(invalid(
                "minimalistic",
                "`minimalistic` and `include_preprocessing` are MobileNetV3's arguments".into(),
            ));
        }
        Ok(shape)
    }
}

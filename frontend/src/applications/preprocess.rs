//! Keras' `imagenet_utils.preprocess_input` on a batch of NHWC images ([`Mode`]: `caffe`,
//! `tf`, `torch`), in `f32` step by step as NumPy computes it in place, so values match
//! tf-keras bit for bit; and which mode each family's `preprocess_input` uses. Data
//! preparation on the host, before `predict` — no layer, no graph.

use ir::Tensor;

use crate::error::{Error, Result};

/// The three preprocessing modes of Keras' `imagenet_utils.preprocess_input`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// RGB → BGR, then each channel minus the ImageNet mean (103.939, 116.779, 123.68 in BGR
    /// order), no scaling: VGG16, VGG19, ResNet50/101/152.
    Caffe,
    /// `x / 127.5 - 1`, into [-1, 1]: ResNetV2, InceptionV3, Xception, MobileNet,
    /// MobileNetV2, NASNet.
    Tf,
    /// `x / 255`, then each channel minus the ImageNet mean (0.485, 0.456, 0.406) divided
    /// by its standard deviation (0.229, 0.224, 0.225): DenseNet.
    Torch,
}

impl Mode {
    /// The mode of the `preprocess_input` of the family of the builder called `builder`
    /// (`"resnet50"`, `"mobilenet_v2"`, `"densenet121"`, …), or `None` for an unknown name.
    ///
    /// ```
    /// use kiln::applications::Mode;
    /// assert_eq!(Mode::of("resnet50"), Some(Mode::Caffe));
    /// assert_eq!(Mode::of("resnet50_v2"), Some(Mode::Tf));
    /// assert_eq!(Mode::of("densenet201"), Some(Mode::Torch));
    /// ```
    pub fn of(builder: &str) -> Option<Mode> {
        const TABLE: [(&str, Mode); 16] = [
            ("vgg16", Mode::Caffe),
            ("vgg19", Mode::Caffe),
            ("resnet50", Mode::Caffe),
            ("resnet101", Mode::Caffe),
            ("resnet152", Mode::Caffe),
            ("resnet50_v2", Mode::Tf),
            ("resnet101_v2", Mode::Tf),
            ("resnet152_v2", Mode::Tf),
            ("inception_v3", Mode::Tf),
            ("xception", Mode::Tf),
            ("mobilenet", Mode::Tf),
            ("mobilenet_v2", Mode::Tf),
            ("nasnet_mobile", Mode::Tf),
            ("densenet121", Mode::Torch),
            ("densenet169", Mode::Torch),
            ("densenet201", Mode::Torch),
        ];
        TABLE
            .iter()
            .find(|(name, _)| *name == builder)
            .map(|&(_, mode)| mode)
    }
}

/// ImageNet's channel means in BGR order (the `caffe` mode).
const CAFFE_MEAN: [f32; 3] = [103.939, 116.779, 123.68];
/// ImageNet's channel means and standard deviations in RGB order (the `torch` mode).
const TORCH_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const TORCH_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Keras' `preprocess_input(x, mode=...)` for channels-last images `x` (any rank ≥ 1, the
/// last axis the channels: 3 of them for `caffe` and `torch`), pixel values in [0, 255].
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// use kiln::applications::{preprocess_input, Mode};
/// let x = kiln::Tensor::new([1, 1, 1, 3], vec![255.0, 0.0, 127.5]).unwrap();
/// assert_eq!(preprocess_input(&x, Mode::Tf)?.data, [1.0, -1.0, 0.0]);
/// assert_eq!(preprocess_input(&x, Mode::Caffe)?.data, [127.5 - 103.939, 0.0 - 116.779, 255.0 - 123.68]);
/// # Ok(())
/// # }
/// ```
pub fn preprocess_input(x: &Tensor, mode: Mode) -> Result<Tensor> {
    let channels = x.shape.dims().last().copied().unwrap_or(0);
    if mode != Mode::Tf && channels != 3 {
        return Err(Error::InvalidArgument {
            name: "x",
            msg: format!(
                "preprocess_input in {mode:?} mode needs 3 channels on the last axis, got shape {}",
                x.shape
            ),
        });
    }
    let mut out = x.clone();
    match mode {
        Mode::Tf => out.data.iter_mut().for_each(|v| *v = *v / 127.5 - 1.0),
        Mode::Caffe => {
            for (pixel, source) in out.data.chunks_exact_mut(3).zip(x.data.chunks_exact(3)) {
                for c in 0..3 {
                    pixel[c] = source[2 - c] - CAFFE_MEAN[c];
                }
            }
        }
        Mode::Torch => {
            for pixel in out.data.chunks_exact_mut(3) {
                for c in 0..3 {
                    pixel[c] = (pixel[c] / 255.0 - TORCH_MEAN[c]) / TORCH_STD[c];
                }
            }
        }
    }
    Ok(out)
}

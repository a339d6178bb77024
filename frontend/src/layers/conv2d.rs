//! The `Conv2D` layer (NHWC images, HWIO kernels) and what windowed layers share: the
//! [`Size2D`] argument, Keras' [`Padding`] names, and the image-shape checks.

use std::str::FromStr;

use ir::{Conv2dAttrs, Graph, NodeId, Shape};
use serde_json::{Value, json};

use crate::builder::builder_setters;
use crate::error::{Error, Result};
use crate::layers::grouped_conv::grouped_conv2d;
use crate::layers::kernel_options::{KernelOptions, kernel_option_setters};
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};

/// A (height, width) pair: Keras accepts an int for both or a tuple. `3.into()` is `3×3`,
/// `[2, 3].into()` and `(2, 3).into()` are `2×3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size2D(pub [usize; 2]);

impl From<usize> for Size2D {
    fn from(both: usize) -> Self {
        Size2D([both, both])
    }
}

impl From<[usize; 2]> for Size2D {
    fn from(pair: [usize; 2]) -> Self {
        Size2D(pair)
    }
}

impl From<(usize, usize)> for Size2D {
    fn from((h, w): (usize, usize)) -> Self {
        Size2D([h, w])
    }
}

/// Keras' padding of a windowed layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Padding {
    /// `"valid"`: no padding; windows that do not fit are dropped.
    #[default]
    Valid,
    /// `"same"` with TensorFlow's rule: output size `ceil(in / stride)`, the odd padding
    /// row/column at the bottom/right.
    Same,
}

impl Padding {
    /// The Keras name (`"valid"`, `"same"`).
    pub fn keras_name(self) -> &'static str {
        match self {
            Padding::Valid => "valid",
            Padding::Same => "same",
        }
    }

    /// The IR padding.
    pub fn to_ir(self) -> ir::Padding {
        match self {
            Padding::Valid => ir::Padding::Valid,
            Padding::Same => ir::Padding::Same,
        }
    }
}

impl FromStr for Padding {
    type Err = Error;

    /// `"valid"` or `"same"` (any case, like Keras).
    fn from_str(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "valid" => Ok(Padding::Valid),
            "same" => Ok(Padding::Same),
            _ => Err(Error::UnknownName {
                kind: "padding",
                name: name.to_string(),
                known: "valid, same".into(),
            }),
        }
    }
}

/// The `padding` field of a layer config (`"valid"` when absent).
pub(crate) fn read_padding(c: &ConfigReader) -> Result<Padding> {
    c.str_or("padding", "valid")?
        .parse()
        .map_err(|e: Error| c.error("padding", e.to_string()))
}

/// The `(height, width, channels)` of a per-example image shape; any other rank is an error
/// naming `layer` and the shape.
pub(crate) fn image_dims(layer: &(impl Layer + ?Sized), input: &Shape) -> Result<[usize; 3]> {
    match *input.dims() {
        [h, w, c] => Ok([h, w, c]),
        _ => Err(layer_error(
            layer,
            format!(
                "expects a 3-D input per example (height, width, channels), got {}",
                keras_shape(input)
            ),
        )),
    }
}

/// Checks that every entry of a (height, width) argument is at least 1.
pub(crate) fn check_positive(
    layer: &(impl Layer + ?Sized),
    what: &str,
    size: Size2D,
) -> Result<()> {
    if size.0.contains(&0) {
        return Err(layer_error(
            layer,
            format!("{what} must be at least 1, got {:?}", size.0),
        ));
    }
    Ok(())
}

/// The output `(height, width)` of a window of `window` (already dilated) moved by `strides`
/// over `[h, w]` with `padding`; an error naming `layer` when the window does not fit.
pub(crate) fn window_output(
    layer: &(impl Layer + ?Sized),
    input: &Shape,
    window: [usize; 2],
    strides: [usize; 2],
    padding: Padding,
) -> Result<[usize; 2]> {
    let [h, w, _] = image_dims(layer, input)?;
    let resolve = |axis: usize, size: usize| {
        padding
            .to_ir()
            .resolve(axis, size, window[axis], strides[axis])
            .map(|a| a.out)
    };
    match (resolve(0, h), resolve(1, w)) {
        (Some(oh), Some(ow)) if oh > 0 && ow > 0 => Ok([oh, ow]),
        _ => Err(layer_error(
            layer,
            format!(
                "a {}x{} window with strides {:?} and {} padding does not fit the input {}",
                window[0],
                window[1],
                strides,
                padding.keras_name(),
                keras_shape(input)
            ),
        )),
    }
}

/// A kernel's extent once dilated: `(k - 1)·d + 1` per axis (0 for an empty kernel).
pub(crate) fn dilated(kernel_size: Size2D, dilation_rate: Size2D) -> [usize; 2] {
    let [kh, kw] = kernel_size.0;
    let [dh, dw] = dilation_rate.0;
    // Saturating: sizes come from configs; a window that large is refused by the shape checks.
    let extent = |k: usize, d: usize| k.saturating_sub(1).saturating_mul(d).saturating_add(1);
    [extent(kh, dh), extent(kw, dw)]
}

/// Refuses strides above 1 together with a dilation rate above 1 (TensorFlow's rule).
pub(crate) fn check_strides_with_dilation(
    layer: &(impl Layer + ?Sized),
    strides: Size2D,
    dilation_rate: Size2D,
) -> Result<()> {
    if strides.0.iter().any(|&s| s > 1) && dilation_rate.0.iter().any(|&d| d > 1) {
        return Err(layer_error(
            layer,
            format!(
                "strides {:?} > 1 cannot be combined with dilation_rate {:?} > 1",
                strides.0, dilation_rate.0
            ),
        ));
    }
    Ok(())
}

/// Keras' 2-D convolution with its defaults: strides 1, `valid` padding, no dilation,
/// linear activation, bias on, `glorot_uniform` kernel, `zeros` bias, no regularizers.
/// Input `(None, h, w, c)`, kernel `[kh, kw, c, filters]`, output `(None, oh, ow, filters)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2D {
    pub(crate) window: ConvWindow,
    /// Keras' `groups`: channels and filters split into this many groups.
    pub(crate) groups: usize,
    pub(crate) options: KernelOptions,
    pub(crate) name: Option<String>,
}

/// What `Conv2D` and `Conv2DTranspose` share: the filter count and the window (kernel size,
/// strides, padding, dilation) with Keras' defaults, their config fields and their checks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConvWindow {
    pub(crate) filters: usize,
    pub(crate) kernel_size: Size2D,
    pub(crate) strides: Size2D,
    pub(crate) padding: Padding,
    pub(crate) dilation_rate: Size2D,
}

impl ConvWindow {
    /// `filters` from a `kernel_size` window, strides 1, `valid` padding, no dilation.
    pub(crate) fn new(filters: usize, kernel_size: Size2D) -> Self {
        ConvWindow {
            filters,
            kernel_size,
            strides: Size2D([1, 1]),
            padding: Padding::Valid,
            dilation_rate: Size2D([1, 1]),
        }
    }

    /// The shared fields of a Keras config (Keras' defaults for missing ones), refusing
    /// unsupported kernel options and a data format other than `channels_last` (`groups`
    /// is the layer's: [`read_groups`]).
    pub(crate) fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_null(&KernelOptions::UNSUPPORTED)?;
        c.require_str("data_format", "channels_last")?;
        Ok(ConvWindow {
            filters: c.usize("filters")?,
            kernel_size: Size2D(c.usize_pair_or("kernel_size", [0, 0])?),
            strides: Size2D(c.usize_pair_or("strides", [1, 1])?),
            padding: read_padding(c)?,
            dilation_rate: Size2D(c.usize_pair_or("dilation_rate", [1, 1])?),
        })
    }

    /// The shared fields of the Keras config.
    pub(crate) fn config(&self) -> Value {
        json!({
            "filters": self.filters,
            "kernel_size": self.kernel_size.0,
            "strides": self.strides.0,
            "padding": self.padding.keras_name(),
            "data_format": "channels_last",
            "dilation_rate": self.dilation_rate.0,
            "groups": 1,
        })
    }

    /// Refuses zero filters, zero sizes and strides with dilation, naming `layer`.
    pub(crate) fn check(&self, layer: &(impl Layer + ?Sized)) -> Result<()> {
        if self.filters == 0 {
            return Err(layer_error(layer, "filters must be at least 1"));
        }
        check_positive(layer, "kernel_size", self.kernel_size)?;
        check_positive(layer, "strides", self.strides)?;
        check_positive(layer, "dilation_rate", self.dilation_rate)?;
        check_strides_with_dilation(layer, self.strides, self.dilation_rate)
    }

    /// The IR attributes of the (forward) convolution.
    pub(crate) fn attrs(&self) -> Conv2dAttrs {
        Conv2dAttrs {
            strides: self.strides.0,
            dilation: self.dilation_rate.0,
            padding: self.padding.to_ir(),
        }
    }

    /// The kernel's extent once dilated: `(k - 1)·d + 1` per axis.
    pub(crate) fn dilated_kernel(&self) -> [usize; 2] {
        dilated(self.kernel_size, self.dilation_rate)
    }
}

/// The `groups` field of a convolution config (1 when absent; at least 1).
pub(crate) fn read_groups(c: &ConfigReader) -> Result<usize> {
    match c.usize_or("groups", 1)? {
        0 => Err(c.error("groups", "must be at least 1")),
        groups => Ok(groups),
    }
}

/// The setters of a layer's [`ConvWindow`] field `window`.
macro_rules! conv_window_setters {
    () => {
        builder_setters! {
            /// Set the strides (default 1).
            strides(window.strides: impl Into<Size2D>) => Into::into;
            /// Set the padding (default `valid`).
            padding(window.padding: Padding);
            /// Set the dilation rate (default 1; more than 1 needs strides of 1, as in Keras).
            dilation_rate(window.dilation_rate: impl Into<Size2D>) => Into::into;
        }

        /// Number of output channels.
        pub fn filters(&self) -> usize {
            self.window.filters
        }
    };
}
pub(crate) use conv_window_setters;

impl Conv2D {
    /// `filters` output channels from a `kernel_size` window (`3` or `[3, 5]`).
    pub fn new(filters: usize, kernel_size: impl Into<Size2D>) -> Self {
        Conv2D {
            window: ConvWindow::new(filters, kernel_size.into()),
            groups: 1,
            options: KernelOptions::default(),
            name: None,
        }
    }

    conv_window_setters!();

    kernel_option_setters!();

    named_builder!();

    /// Split the input channels and the filters into `groups` groups (Keras' `groups`,
    /// default 1; both counts must be divisible by it).
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    /// The layer a Keras `Conv2D` config describes (Keras' defaults for missing fields).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        Ok(Conv2D {
            window: ConvWindow::from_config(c)?,
            groups: read_groups(c)?,
            options: KernelOptions::from_config(c)?,
            name: Some(c.name().to_string()),
        })
    }

    /// The kernel's extent once dilated: `(k - 1)·d + 1` per axis.
    pub(crate) fn dilated_kernel(&self) -> [usize; 2] {
        self.window.dilated_kernel()
    }
}

impl Layer for Conv2D {
    fn class_name(&self) -> &'static str {
        "Conv2D"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        let w = &self.window;
        w.check(self)?;
        let channels = input.dims().last().copied().unwrap_or(0);
        if self.groups == 0
            || !channels.is_multiple_of(self.groups)
            || !w.filters.is_multiple_of(self.groups)
        {
            return Err(layer_error(
                self,
                format!(
                    "groups {} must divide the {channels} input channels and the {} filters",
                    self.groups, w.filters
                ),
            ));
        }
        let [oh, ow] = window_output(self, input, w.dilated_kernel(), w.strides.0, w.padding)?;
        Ok(Shape::from([oh, ow, w.filters]))
    }

    fn params(&self, input: &Shape) -> Vec<ParamSpec> {
        let channels = input.dims().last().copied().unwrap_or(0);
        let ([kh, kw], filters) = (self.window.kernel_size.0, self.window.filters);
        self.options.params(
            Shape::from([kh, kw, channels / self.groups.max(1), filters]),
            filters,
        )
    }

    fn config(&self) -> Value {
        let mut fields = self.window.config();
        fields["groups"] = json!(self.groups);
        layer_config(self, self.options.with_config_fields(fields))
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        self.options.build(self, g, x, ctx, |g, x, kernel| {
            grouped_conv2d(g, x, kernel, self.window.attrs(), self.groups)
        })
    }
}

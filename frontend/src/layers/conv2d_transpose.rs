//! The `Conv2DTranspose` layer: the transpose (input gradient) of a 2-D convolution, lowered
//! to the IR's `Conv2dBackpropInput` with the layer input as `dy` and the kernel as stored
//! (Keras' layout `[kh, kw, filters, in_channels]`). The output size is Keras'
//! `deconv_output_length`. It does not own the 1-D form (`Conv1DTranspose`, see `one_d.rs`).

use ir::{Graph, NodeId, Op, Shape};
use serde_json::{Value, json};

use crate::builder::builder_setters;
use crate::error::Result;
use crate::layers::conv2d::{ConvWindow, Padding, Size2D, conv_window_setters, image_dims};
use crate::layers::kernel_options::{KernelOptions, kernel_option_setters};
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};

/// Keras' transposed 2-D convolution with its defaults: strides 1, `valid` padding, no
/// output padding, no dilation, linear activation, bias on, `glorot_uniform` kernel, `zeros`
/// bias. Input `(None, h, w, c)`, kernel `[kh, kw, filters, c]`, output
/// `(None, oh, ow, filters)` where, per axis with the dilated kernel `k`:
/// `valid`: `in·s + max(k - s, 0)`, `same`: `in·s`; with an output padding `p`:
/// `(in - 1)·s + k - 2·pad + p` (`pad` = 0 for `valid`, `k / 2` for `same`).
///
/// ```
/// use kiln::layers::{Conv2DTranspose, Layer, Padding};
/// use kiln::Shape;
/// let up = Conv2DTranspose::new(8, 3).strides(2).padding(Padding::Same);
/// assert_eq!(up.output_shape(&Shape::from([8, 8, 3])).unwrap(), Shape::from([16, 16, 8]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2DTranspose {
    pub(crate) window: ConvWindow,
    pub(crate) output_padding: Option<Size2D>,
    pub(crate) options: KernelOptions,
    pub(crate) name: Option<String>,
}

impl Conv2DTranspose {
    /// `filters` output channels from a `kernel_size` window (`3` or `[3, 5]`).
    pub fn new(filters: usize, kernel_size: impl Into<Size2D>) -> Self {
        Conv2DTranspose {
            window: ConvWindow::new(filters, kernel_size.into()),
            output_padding: None,
            options: KernelOptions::default(),
            name: None,
        }
    }

    conv_window_setters!();

    /// Set the output padding (default none): extra rows/columns at the bottom/right, each
    /// smaller than its stride.
    pub fn output_padding(mut self, output_padding: impl Into<Size2D>) -> Self {
        self.output_padding = Some(output_padding.into());
        self
    }

    kernel_option_setters!();

    named_builder!();

    /// The layer a Keras `Conv2DTranspose` config describes (Keras' defaults for missing
    /// fields).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        let window = ConvWindow::from_config(c)?;
        if super::conv2d::read_groups(c)? != 1 {
            return Err(c.error("groups", "only 1 group is supported"));
        }
        let output_padding = match c.get("output_padding") {
            None => None,
            Some(_) => Some(Size2D(c.usize_pair_or("output_padding", [0, 0])?)),
        };
        Ok(Conv2DTranspose {
            window,
            output_padding,
            options: KernelOptions::from_config(c)?,
            name: Some(c.name().to_string()),
        })
    }

    /// Keras' `deconv_output_length` of one axis.
    fn output_length(&self, axis: usize, input: usize) -> usize {
        let k = self.window.dilated_kernel()[axis];
        let s = self.window.strides.0[axis];
        match (self.output_padding, self.window.padding) {
            (None, Padding::Valid) => input * s + k.saturating_sub(s),
            (None, Padding::Same) => input * s,
            (Some(p), padding) => {
                let pad = if padding == Padding::Same { k / 2 } else { 0 };
                ((input.max(1) - 1) * s + k + p.0[axis]).saturating_sub(2 * pad)
            }
        }
    }

    /// Checks the options that do not depend on the input.
    fn check_options(&self) -> Result<()> {
        self.window.check(self)?;
        let strides = self.window.strides.0;
        if let Some(p) = self.output_padding
            && (0..2).any(|a| p.0[a] >= strides[a])
        {
            return Err(layer_error(
                self,
                format!(
                    "output_padding {:?} must be smaller than strides {:?} on every axis",
                    p.0, strides
                ),
            ));
        }
        Ok(())
    }
}

impl Layer for Conv2DTranspose {
    fn class_name(&self) -> &'static str {
        "Conv2DTranspose"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        self.check_options()?;
        let [h, w, _] = image_dims(self, input)?;
        let out = [self.output_length(0, h), self.output_length(1, w)];
        let cw = &self.window;
        let window = cw.dilated_kernel();
        // The forward convolution of the output must give the input back (the IR's rule).
        let fits = (0..2).all(|a| {
            cw.padding
                .to_ir()
                .resolve(a, out[a], window[a], cw.strides.0[a])
                .is_some_and(|r| r.out == [h, w][a])
        });
        if !fits || out.contains(&0) {
            return Err(layer_error(
                self,
                format!(
                    "kernel {:?}, strides {:?}, {} padding and output_padding {:?} give an \
                     output of {out:?} for the input {}, whose convolution does not give the \
                     input back",
                    cw.kernel_size.0,
                    cw.strides.0,
                    cw.padding.keras_name(),
                    self.output_padding.map(|p| p.0),
                    keras_shape(input)
                ),
            ));
        }
        Ok(Shape::from([out[0], out[1], cw.filters]))
    }

    fn params(&self, input: &Shape) -> Vec<ParamSpec> {
        let channels = input.dims().last().copied().unwrap_or(0);
        let ([kh, kw], filters) = (self.window.kernel_size.0, self.window.filters);
        self.options
            .params(Shape::from([kh, kw, filters, channels]), filters)
    }

    fn config(&self) -> Value {
        let mut fields = self.window.config();
        fields["output_padding"] = json!(self.output_padding.map(|p| p.0));
        layer_config(self, self.options.with_config_fields(fields))
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        let dims = g.shape(x).dims().to_vec();
        let per_example = Shape::from(&dims[1..]);
        let out = self.output_shape(&per_example)?;
        let mut input_shape = vec![dims[0]];
        input_shape.extend_from_slice(out.dims());
        self.options.build(self, g, x, ctx, |g, x, kernel| {
            let op = Op::Conv2dBackpropInput {
                attrs: self.window.attrs(),
                input_shape: Shape::from(input_shape.as_slice()),
            };
            Ok(g.add(op, &[x, kernel])?)
        })
    }
}

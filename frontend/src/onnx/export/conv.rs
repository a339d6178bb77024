//! The 2-D convolutions as ONNX `Conv` in channels-first layout: `Conv2D` (kernel
//! `(kh, kw, in, out)` written once as `(out, in, kh, kw)`), `DepthwiseConv2D` (kernel
//! `(kh, kw, c, m)` as `(c·m, 1, kh, kw)`, `group = c`) and `SeparableConv2D` (that
//! depthwise `Conv` without bias, then a 1×1 `Conv` with the pointwise kernel and the
//! bias), and `Conv2DTranspose` as `ConvTranspose`. Each is followed by its activation.
//!
//! Padding is always explicit `pads`: `valid` is none; `same` is TensorFlow's split (the
//! odd pixel after), [`same_pads`], shared with pooling. No `auto_pad`, whose `SAME_UPPER`
//! agrees but which importers handle less uniformly.

use ir::Tensor;

use super::activation;
use super::graph::{Emitter, Layout, Value, int, ints};
use super::rules::Site;
use crate::activations::Activation;
use crate::error::Result;

/// `t` with its axes permuted by `perm` (output axis `i` is input axis `perm[i]`):
/// `(dims, data)` of the result.
pub(crate) fn permuted(t: &Tensor, perm: &[usize]) -> (Vec<usize>, Vec<f32>) {
    let dims = t.shape.dims();
    let strides = t.shape.strides();
    let out_dims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
    let out_strides: Vec<usize> = perm.iter().map(|&p| strides[p]).collect();
    let mut data = Vec::with_capacity(t.data.len());
    let mut index = vec![0usize; out_dims.len()];
    for _ in 0..t.data.len() {
        let offset: usize = index.iter().zip(&out_strides).map(|(i, s)| i * s).sum();
        data.push(t.data[offset]);
        for axis in (0..index.len()).rev() {
            index[axis] += 1;
            if index[axis] < out_dims[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    (out_dims, data)
}

/// ONNX `pads` `[top, left, bottom, right]` of a window of `window` pixels (after dilation)
/// moved by `strides` over `[h, w]`: zeros for `valid`; TensorFlow's `same` split (total
/// `max((ceil(n/s) - 1)·s + k - n, 0)`, the smaller half before) for `same`.
pub(crate) fn same_pads(
    site: &Site<'_>,
    padding: &str,
    size: [usize; 2],
    window: [usize; 2],
    strides: [usize; 2],
) -> Result<Vec<i64>> {
    match padding {
        "valid" => Ok(vec![0; 4]),
        "same" => {
            let total = |i: usize| {
                let out = size[i].div_ceil(strides[i]);
                ((out - 1) * strides[i] + window[i]).saturating_sub(size[i]) as i64
            };
            let (th, tw) = (total(0), total(1));
            Ok(vec![th / 2, tw / 2, th - th / 2, tw - tw / 2])
        }
        other => Err(site.error(format!("padding \"{other}\""))),
    }
}

/// The options the three convolutions share, from the layer's config.
struct ConvOptions {
    kernel: [usize; 2],
    strides: [usize; 2],
    dilations: [usize; 2],
    padding: String,
    activation: Activation,
}

impl ConvOptions {
    fn read(site: &Site<'_>) -> Result<Self> {
        let c = site.reader()?;
        if c.usize_or("groups", 1)? != 1 {
            return Err(site.error("groups other than 1"));
        }
        Ok(ConvOptions {
            kernel: c.usize_pair_or("kernel_size", [1, 1])?,
            strides: c.usize_pair_or("strides", [1, 1])?,
            dilations: c.usize_pair_or("dilation_rate", [1, 1])?,
            padding: c.str_or("padding", "valid")?,
            activation: c.activation_or("activation", Activation::Linear)?,
        })
    }

    /// `Conv` attributes for an input of `[h, w]` with `group` groups.
    fn attributes(
        &self,
        site: &Site<'_>,
        size: [usize; 2],
        group: usize,
    ) -> Result<Vec<kiln_onnx_proto::AttributeProto>> {
        let window = [0, 1].map(|i| (self.kernel[i] - 1) * self.dilations[i] + 1);
        let pads = same_pads(site, &self.padding, size, window, self.strides)?;
        let as_i64 = |v: [usize; 2]| v.map(|x| x as i64);
        Ok(vec![
            ints("kernel_shape", &as_i64(self.kernel)),
            ints("strides", &as_i64(self.strides)),
            ints("dilations", &as_i64(self.dilations)),
            ints("pads", &pads),
            int("group", group as i64),
        ])
    }
}

/// The bias initializer, when the layer has one.
fn bias(e: &mut Emitter, site: &Site<'_>) -> Option<String> {
    site.maybe_param("bias")
        .map(|b| e.floats(&site.named("bias"), b.shape.dims(), &b.data))
}

/// `Conv(x, w, bias?)` then the activation.
fn finish(
    e: &mut Emitter,
    site: &Site<'_>,
    inputs: &[&str],
    attrs: Vec<kiln_onnx_proto::AttributeProto>,
    act: Activation,
) -> Value {
    let base = if act == Activation::Linear {
        site.name.to_string()
    } else {
        site.named("conv")
    };
    let y = e.node("Conv", inputs, &base, attrs);
    activation::apply(e, site.output(y, Layout::ChannelsFirst), act, site.name)
}

/// Keras' `Conv2D`.
pub(crate) fn conv2d(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let o = ConvOptions::read(site)?;
    let (x, [h, w, _]) = site.image_input(e)?;
    let (dims, data) = permuted(site.param("kernel")?, &[3, 2, 0, 1]);
    let kernel = e.floats(&site.named("kernel"), &dims, &data);
    let attrs = o.attributes(site, [h, w], 1)?;
    let b = bias(e, site);
    let mut inputs = vec![x.name.as_str(), kernel.as_str()];
    inputs.extend(b.as_deref());
    Ok(finish(e, site, &inputs, attrs, o.activation))
}

/// The depthwise kernel `(kh, kw, c, m)` as a grouped `Conv` weight `(c·m, 1, kh, kw)`.
fn depthwise_kernel(e: &mut Emitter, site: &Site<'_>) -> Result<(String, usize)> {
    let k = site.param("depthwise_kernel")?;
    let (dims, data) = permuted(k, &[2, 3, 0, 1]);
    let weight = [dims[0] * dims[1], 1, dims[2], dims[3]];
    Ok((
        e.floats(&site.named("depthwise_kernel"), &weight, &data),
        dims[0],
    ))
}

/// Keras' `DepthwiseConv2D`.
pub(crate) fn depthwise_conv2d(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let o = ConvOptions::read(site)?;
    let (x, [h, w, _]) = site.image_input(e)?;
    let (kernel, channels) = depthwise_kernel(e, site)?;
    let attrs = o.attributes(site, [h, w], channels)?;
    let b = bias(e, site);
    let mut inputs = vec![x.name.as_str(), kernel.as_str()];
    inputs.extend(b.as_deref());
    Ok(finish(e, site, &inputs, attrs, o.activation))
}

/// Keras' `SeparableConv2D`: depthwise `Conv`, then pointwise 1×1 `Conv` with the bias.
pub(crate) fn separable_conv2d(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let o = ConvOptions::read(site)?;
    let (x, [h, w, _]) = site.image_input(e)?;
    let (kernel, channels) = depthwise_kernel(e, site)?;
    let attrs = o.attributes(site, [h, w], channels)?;
    let depthwise = e.node("Conv", &[&x.name, &kernel], &site.named("depthwise"), attrs);
    let (dims, data) = permuted(site.param("pointwise_kernel")?, &[3, 2, 0, 1]);
    let pointwise = e.floats(&site.named("pointwise_kernel"), &dims, &data);
    let b = bias(e, site);
    let mut inputs = vec![depthwise.as_str(), pointwise.as_str()];
    inputs.extend(b.as_deref());
    let one = [1i64, 1];
    let attrs = vec![ints("kernel_shape", &one), ints("strides", &one)];
    Ok(finish(e, site, &inputs, attrs, o.activation))
}

/// Keras' `Conv2DTranspose`: ONNX `ConvTranspose` (kernel `(kh, kw, out, in)` written as
/// `(in, out, kh, kw)`), the adjoint of the forward convolution from the layer's output to
/// its input: the full result cropped by that convolution's padding before (`pads`), the
/// rest cropped after or, where the output is longer, added by `output_padding`.
pub(crate) fn conv2d_transpose(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let o = ConvOptions::read(site)?;
    let (x, [h, w, _]) = site.image_input(e)?;
    let out = [site.output.dims()[0], site.output.dims()[1]];
    let window = [0, 1].map(|i| (o.kernel[i] - 1) * o.dilations[i] + 1);
    let forward = same_pads(site, &o.padding, out, window, o.strides)?;
    let mut pads = vec![forward[0], forward[1], 0, 0];
    let mut output_padding = [0i64; 2];
    for (a, size) in [h, w].into_iter().enumerate() {
        let full = ((size - 1) * o.strides[a] + window[a]) as i64;
        let rest = full - pads[a] - out[a] as i64;
        pads[a + 2] = rest.max(0);
        output_padding[a] = (-rest).max(0);
    }
    let (dims, data) = permuted(site.param("kernel")?, &[3, 2, 0, 1]);
    let kernel = e.floats(&site.named("kernel"), &dims, &data);
    let as_i64 = |v: [usize; 2]| v.map(|x| x as i64);
    let attrs = vec![
        ints("kernel_shape", &as_i64(o.kernel)),
        ints("strides", &as_i64(o.strides)),
        ints("dilations", &as_i64(o.dilations)),
        ints("pads", &pads),
        ints("output_padding", &output_padding),
    ];
    let b = bias(e, site);
    let mut inputs = vec![x.name.as_str(), kernel.as_str()];
    inputs.extend(b.as_deref());
    let base = if o.activation == Activation::Linear {
        site.name.to_string()
    } else {
        site.named("conv")
    };
    let y = e.node("ConvTranspose", &inputs, &base, attrs);
    Ok(activation::apply(
        e,
        site.output(y, Layout::ChannelsFirst),
        o.activation,
        site.name,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permuted_moves_axes() {
        let t = Tensor::new([2, 3], (0..6).map(|v| v as f32).collect()).unwrap();
        let (dims, data) = permuted(&t, &[1, 0]);
        assert_eq!(dims, [3, 2]);
        assert_eq!(data, [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }
}

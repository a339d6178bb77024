//! The lowering of a grouped 2-D convolution (Keras' `Conv2D(groups=G)`): the input's
//! channels and the filters split into `G` groups, group `k`'s filters seeing only group
//! `k`'s channels. Kernel `[kh, kw, c / G, filters]` (Keras' layout). One group per input
//! channel (ConvNeXt's `groups=c`) is a depthwise convolution with the same kernel bytes;
//! other counts (RegNet) are `G` convolutions of channel slices, joined by one concat.
//! It does NOT own `Conv2D`'s options (bias, activation): the layer adds those.

use ir::{Conv2dAttrs, Graph, NodeId, Op, Shape};

use crate::error::Result;

/// `x` `[n, h, w, c]` convolved with `kernel` `[kh, kw, c / groups, filters]` in `groups`
/// groups (both `c` and `filters` divisible by `groups`, checked by the layer).
pub(crate) fn grouped_conv2d(
    g: &mut Graph,
    x: NodeId,
    kernel: NodeId,
    attrs: Conv2dAttrs,
    groups: usize,
) -> Result<NodeId> {
    if groups == 1 {
        return Ok(g.add(Op::Conv2d(attrs), &[x, kernel])?);
    }
    let dims = g.shape(x).dims().to_vec();
    let kdims = g.shape(kernel).dims().to_vec();
    let (channels, filters) = (dims[3], kdims[3]);
    let (kh, kw) = (kdims[0], kdims[1]);
    if groups == channels {
        // Output channel o = c·m + k reads channel c: the depthwise layout [kh, kw, c, m].
        let depthwise = g.reshape(kernel, Shape::from([kh, kw, channels, filters / channels]))?;
        return Ok(g.add(Op::DepthwiseConv2d(attrs), &[x, depthwise])?);
    }
    let (per_in, per_out) = (channels / groups, filters / groups);
    let mut outputs = Vec::with_capacity(groups);
    for k in 0..groups {
        let part = g.add(
            Op::Slice {
                starts: vec![0, 0, 0, k * per_in],
                ends: vec![dims[0], dims[1], dims[2], (k + 1) * per_in],
            },
            &[x],
        )?;
        let weights = g.add(
            Op::Slice {
                starts: vec![0, 0, 0, k * per_out],
                ends: vec![kh, kw, per_in, (k + 1) * per_out],
            },
            &[kernel],
        )?;
        outputs.push(g.add(Op::Conv2d(attrs.clone()), &[part, weights])?);
    }
    Ok(g.add(Op::Concat { axis: 3 }, &outputs)?)
}

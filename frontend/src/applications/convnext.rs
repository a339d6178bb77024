//! ConvNeXt Tiny (Liu et al., 2022) as tf-keras 2.21 builds it: the optional
//! `{model}_prestem_normalization` (ImageNet's mean and variance in pixel units, no weights),
//! the stem and three downsampling blocks, the stages of ConvNeXt blocks
//! `{model}_stage_{i}_block_{j}_` (grouped 7×7 `depthwise_conv`, `layernorm`,
//! `pointwise_conv_1` (a Dense), `gelu`, `pointwise_conv_2`, `layer_scale`, `identity` — the
//! drop path rate is 0 — and the residual sum as Keras records it, a `TFOpLambda`
//! `tf.__operators__.add`), then `{model}_head_gap`, `_head_layernorm`, `_head_dense`, or
//! without the top the pooling and an auto-named `layer_normalization`.
//!
//! Keras wraps the stem (`{model}_stem`: `_stem_conv`, `_stem_layernorm`) and each
//! downsampling block (`{model}_downsampling_block_{i}`: `_downsampling_layernorm_{i}`,
//! `_downsampling_conv_{i}`) in a nested `Sequential`. Kiln's models do not nest: the builder
//! adds the inner layers directly, in their order and with their names — exactly the model
//! Kiln loads from Keras' own config or `.h5` file, which inlines nested models
//! (`keras/nested.rs`) — so Keras' weights load layer by layer.

use serde_json::{Map, Value};

use crate::activations::Activation;
use crate::error::{Error, Result};
use crate::layers::{
    Conv2D, Dense, GlobalAveragePooling2D, LayerNormalization, LayerScale, Normalization, Padding,
    TFOpLambda,
};
use crate::model::Model;

use super::common::{Net, Node, PoolNames, activation};
use super::options::{Family, Options};

/// ConvNeXtTiny (Keras' `keras.applications.ConvNeXtTiny`): 28,589,128 parameters with the
/// top at 224×224; takes `include_preprocessing`.
pub fn convnext_tiny(options: &Options) -> Result<Model> {
    convnext("convnext_tiny", [3, 3, 9, 3], [96, 192, 384, 768], options)
}

/// ConvNeXtSmall (Keras' `ConvNeXtSmall`): ConvNeXtTiny's code, 27 blocks in stage 3.
pub fn convnext_small(options: &Options) -> Result<Model> {
    convnext(
        "convnext_small",
        [3, 3, 27, 3],
        [96, 192, 384, 768],
        options,
    )
}

/// ConvNeXtBase (Keras' `ConvNeXtBase`): ConvNeXtSmall's depths, wider.
pub fn convnext_base(options: &Options) -> Result<Model> {
    convnext(
        "convnext_base",
        [3, 3, 27, 3],
        [128, 256, 512, 1024],
        options,
    )
}

/// ConvNeXtLarge (Keras' `ConvNeXtLarge`).
pub fn convnext_large(options: &Options) -> Result<Model> {
    convnext(
        "convnext_large",
        [3, 3, 27, 3],
        [192, 384, 768, 1536],
        options,
    )
}

/// ConvNeXtXLarge (Keras' `ConvNeXtXLarge`).
pub fn convnext_xlarge(options: &Options) -> Result<Model> {
    convnext(
        "convnext_xlarge",
        [3, 3, 27, 3],
        [256, 512, 1024, 2048],
        options,
    )
}

/// Keras' `LayerNormalization(epsilon=1e-6)` for `x`, its axis written as Keras writes it
/// once built: the last axis' positive index, as a list.
fn layer_norm(net: &Net, x: Node) -> LayerNormalization {
    let last = net.shape(x).dims().len() as i64;
    LayerNormalization::new().epsilon(1e-6).axes(&[last])
}

/// Keras' `ConvNeXt(depths, projection_dims, ...)` with drop path rate 0 and layer scale
/// 1e-6.
fn convnext(
    m: &'static str,
    depths: [usize; 4],
    dims: [usize; 4],
    options: &Options,
) -> Result<Model> {
    let family = Family {
        v3: true,
        ..Family::plain(m, 224, 32)
    };
    if options.is_minimalistic() {
        return Err(Error::InvalidArgument {
            name: "minimalistic",
            msg: format!("{m}: only MobileNetV3 takes it"),
        });
    }
    let mut net = Net::start(m, family, options)?;
    let mut x = net.input;
    if net.options.preprocesses() && net.shape(x).dims()[2] == 3 {
        let mean = [0.485f64, 0.456, 0.406]
            .map(|v| (v * 255.0) as f32)
            .to_vec();
        let var = [0.229f64, 0.224, 0.225].map(|s| ((s * 255.0) * (s * 255.0)) as f32);
        let norm = Normalization::new().statistics(mean, var.to_vec());
        x = net.add(norm.named(format!("{m}_prestem_normalization")), x)?;
    }
    let stem = Conv2D::new(dims[0], 4).strides(4);
    x = net.add(stem.named(format!("{m}_stem_conv")), x)?;
    x = net.add(layer_norm(&net, x).named(format!("{m}_stem_layernorm")), x)?;
    let mut adds = 0;
    for (i, (&depth, &dim)) in depths.iter().zip(&dims).enumerate() {
        if i > 0 {
            let d = i - 1;
            x = net.add(
                layer_norm(&net, x).named(format!("{m}_downsampling_layernorm_{d}")),
                x,
            )?;
            let down = Conv2D::new(dim, 2).strides(2);
            x = net.add(down.named(format!("{m}_downsampling_conv_{d}")), x)?;
        }
        for j in 0..depth {
            x = block(
                &mut net,
                x,
                dim,
                &format!("{m}_stage_{i}_block_{j}"),
                &mut adds,
            )?;
        }
    }
    if net.options.has_top() {
        x = net.add(
            GlobalAveragePooling2D::new().named(format!("{m}_head_gap")),
            x,
        )?;
        x = net.add(layer_norm(&net, x).named(format!("{m}_head_layernorm")), x)?;
        let dense = Dense::new(net.options.class_count()).activation(net.options.classifier());
        let y = net.add(dense.named(format!("{m}_head_dense")), x)?;
        return net.finish(y);
    }
    x = net.pool(x, PoolNames::AUTO)?;
    let y = net.add(layer_norm(&net, x), x)?;
    net.finish(y)
}

/// `ConvNeXtBlock` named `p` on `input` with `dim` channels; `adds` counts the
/// `tf.__operators__.add` layers so far.
fn block(net: &mut Net, input: Node, dim: usize, p: &str, adds: &mut usize) -> Result<Node> {
    let dw = Conv2D::new(dim, 7).padding(Padding::Same).groups(dim);
    let mut x = net.add(dw.named(format!("{p}_depthwise_conv")), input)?;
    x = net.add(layer_norm(net, x).named(format!("{p}_layernorm")), x)?;
    x = net.add(
        Dense::new(4 * dim).named(format!("{p}_pointwise_conv_1")),
        x,
    )?;
    x = net.add(activation(Activation::Gelu, format!("{p}_gelu")), x)?;
    x = net.add(Dense::new(dim).named(format!("{p}_pointwise_conv_2")), x)?;
    x = net.add(
        LayerScale::new(1e-6, dim).named(format!("{p}_layer_scale")),
        x,
    )?;
    x = net.add(activation(Activation::Linear, format!("{p}_identity")), x)?;
    let name = match *adds {
        0 => "tf.__operators__.add".to_string(),
        n => format!("tf.__operators__.add_{n}"),
    };
    *adds += 1;
    let mut kwargs = Map::new();
    kwargs.insert("name".into(), Value::Null);
    let add = TFOpLambda::new("__operators__.add")?
        .with_call_kwargs(&kwargs)?
        .named(name);
    net.merge(add, &[input, x])
}

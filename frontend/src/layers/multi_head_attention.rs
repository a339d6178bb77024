//! The `MultiHeadAttention` layer (Keras 2's, on rank-3 inputs `(batch, steps, features)`):
//! project query, key and value per head, scaled dot-product attention over the steps, and
//! an output projection back to the query's feature size (or `output_shape`).
//!
//! Inputs, in Keras' order: `query`, `value`, `key` (`key` defaults to `value`, and with a
//! single input Kiln attends the query to itself: `value = key = query`). A Keras 2 file
//! records `mha(query, value=...)` as one inbound node with the value as a keyword
//! argument; the model config reader turns that into the second input. `use_causal_mask` is
//! a call argument in Keras (recorded in the inbound node's kwargs); here it is a builder
//! option, read from and written to those kwargs by the config reader.
//!
//! Lowering (all existing IR ops): each projection is one matrix product of `[batch·steps,
//! features]` with the kernel viewed as `[features, heads·dim]`, plus the bias; the heads
//! move in front of the steps (`[batch, heads, steps, dim]`); the query is scaled by
//! `1/√key_dim` after its projection (as Keras does); scores are a batched product over
//! `(batch, heads)`; a causal mask adds `-1e9` to masked scores before the softmax (Keras'
//! `Softmax` with a mask); the softmax is the `softmax` activation's; attention dropout
//! drops probabilities while training, as Keras does.
//!
//! It does NOT support `attention_axes` other than the steps axis of rank-3 inputs, an
//! `attention_mask` tensor, `return_attention_scores=True`, Keras masking, or constraints:
//! each is refused with an error naming the option.

use std::ops::RangeInclusive;

use ir::{BinaryOp, Graph, NodeId, Shape, Tensor};
use serde_json::{Map, Value, json};

use crate::activations::Activation;
use crate::builder::builder_setters;
use crate::config_json::f32_json;
use crate::error::Result;
use crate::initializers::{Initializer, initializer_json};
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Dropout, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};
use crate::regularizers::{Regularizer, regularizer_json};

/// The score masked positions get before the softmax (Keras' `_large_compatible_negative`
/// for float32).
const MASKED_SCORE: f32 = -1e9;

/// Keras' `MultiHeadAttention(num_heads, key_dim)` with its defaults: `value_dim = key_dim`,
/// no dropout, biases on, output projected to the query's feature size, `glorot_uniform`
/// kernels, `zeros` biases, no causal mask.
///
/// Parameters, in Keras' order and shapes: `query/kernel` `(d_query, heads, key_dim)`,
/// `query/bias` `(heads, key_dim)`, `key/kernel` `(d_key, heads, key_dim)`, `key/bias`,
/// `value/kernel` `(d_value, heads, value_dim)`, `value/bias` `(heads, value_dim)`,
/// `attention_output/kernel` `(heads, value_dim, d_out)`, `attention_output/bias` `(d_out,)`
/// (no biases without `use_bias`).
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// use kiln::prelude::*;
/// use kiln::layers::MultiHeadAttention;
/// let mut f = Functional::builder("cross");
/// let a = f.input(Input::new([5, 8]));
/// let b = f.input(Input::new([7, 6]));
/// let y = f.apply_many(MultiHeadAttention::new(2, 4).use_causal_mask(true), &[a, b])?;
/// assert_eq!(f.shape(y)?.dims(), [5, 8]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MultiHeadAttention {
    num_heads: usize,
    key_dim: usize,
    value_dim: Option<usize>,
    dropout: f32,
    use_bias: bool,
    /// The output's trailing shape; `None`: the query's feature size.
    output_shape: Option<Vec<usize>>,
    /// Whether `output_shape` was given as a list (written back the same way).
    output_shape_is_list: bool,
    attention_axes: Option<Vec<i64>>,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    kernel_regularizer: Option<Regularizer>,
    bias_regularizer: Option<Regularizer>,
    use_causal_mask: bool,
    /// `query_shape`, `key_shape`, `value_shape` as a Keras config gave them (written back).
    signature: [Value; 3],
    name: Option<String>,
}

/// The sizes one call works with (per example).
#[derive(Debug, Clone, Copy)]
struct Sizes {
    /// Query steps.
    t: usize,
    /// Feature sizes of query, value and key.
    dq: usize,
    dv: usize,
    dk: usize,
}

impl MultiHeadAttention {
    /// Attention with `num_heads` heads of `key_dim` query/key features each.
    pub fn new(num_heads: usize, key_dim: usize) -> Self {
        MultiHeadAttention {
            num_heads,
            key_dim,
            value_dim: None,
            dropout: 0.0,
            use_bias: true,
            output_shape: None,
            output_shape_is_list: false,
            attention_axes: None,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: None,
            bias_regularizer: None,
            use_causal_mask: false,
            signature: [Value::Null, Value::Null, Value::Null],
            name: None,
        }
    }

    builder_setters! {
        /// Value features per head (default `key_dim`).
        value_dim(value_dim: usize) => Some;
        /// Dropout rate on the attention probabilities while training (default 0).
        dropout(dropout: f32);
        /// Whether the projections add biases (default true).
        use_bias(use_bias: bool);
        /// The kernels' initializer (default `glorot_uniform`).
        kernel_initializer(kernel_initializer: Initializer);
        /// The biases' initializer (default `zeros`).
        bias_initializer(bias_initializer: Initializer);
        /// Penalise every kernel (default none).
        kernel_regularizer(kernel_regularizer: Regularizer) => Some;
        /// Penalise every bias (default none).
        bias_regularizer(bias_regularizer: Regularizer) => Some;
        /// Keras' call argument `use_causal_mask`: query step `i` attends to source steps
        /// `0..=i` only (default false).
        use_causal_mask(use_causal_mask: bool);
    }

    /// The output's feature size (default: the query's).
    pub fn output_features(mut self, features: usize) -> Self {
        self.output_shape = Some(vec![features]);
        self.output_shape_is_list = false;
        self
    }

    named_builder!();

    /// Value features per head.
    fn value_size(&self) -> usize {
        self.value_dim.unwrap_or(self.key_dim)
    }

    /// The layer a Keras `MultiHeadAttention` config describes.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_null(&[
            "activity_regularizer",
            "kernel_constraint",
            "bias_constraint",
        ])?;
        let list = |field: &str| -> Result<Option<(Vec<i64>, bool)>> {
            match c.get(field) {
                None => Ok(None),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| {
                        v.as_i64()
                            .ok_or_else(|| c.error(field, format!("expected integers, got {v}")))
                    })
                    .collect::<Result<Vec<_>>>()
                    .map(|v| Some((v, true))),
                Some(v) => v.as_i64().map(|n| Some((vec![n], false))).ok_or_else(|| {
                    c.error(field, format!("expected an integer or a list, got {v}"))
                }),
            }
        };
        let output = list("output_shape")?;
        if let Some((dims, _)) = &output
            && dims.iter().any(|&d| d < 1)
        {
            return Err(c.error("output_shape", "sizes must be positive"));
        }
        let mut layer = MultiHeadAttention::new(c.usize("num_heads")?, c.usize("key_dim")?);
        layer.value_dim = c
            .get("value_dim")
            .map(|_| c.usize("value_dim"))
            .transpose()?;
        layer.dropout = c.f32_or("dropout", 0.0)?;
        layer.use_bias = c.bool_or("use_bias", true)?;
        layer.output_shape_is_list = output.as_ref().is_some_and(|o| o.1);
        layer.output_shape = output.map(|(d, _)| d.iter().map(|&n| n as usize).collect());
        layer.attention_axes = list("attention_axes")?.map(|a| a.0);
        layer.kernel_initializer =
            c.initializer_or("kernel_initializer", Initializer::GlorotUniform)?;
        layer.bias_initializer = c.initializer_or("bias_initializer", Initializer::Zeros)?;
        layer.kernel_regularizer = c.regularizer("kernel_regularizer")?;
        layer.bias_regularizer = c.regularizer("bias_regularizer")?;
        // Robust masking only changes how masked scores get -1e9; both give the same result.
        c.bool_or("softmax_robust_masking", false)?;
        for (k, field) in ["query_shape", "key_shape", "value_shape"]
            .iter()
            .enumerate()
        {
            layer.signature[k] = c.get(field).cloned().unwrap_or(Value::Null);
        }
        layer.name = Some(c.name().to_string());
        Ok(layer)
    }

    /// The per-example sizes of a call on `inputs` (query, value, key), or an error naming
    /// the option or shape at fault.
    fn sizes(&self, inputs: &[Shape]) -> Result<Sizes> {
        let err = |msg: String| layer_error(self, msg);
        if self.num_heads == 0 || self.key_dim == 0 || self.value_size() == 0 {
            return Err(err(
                "num_heads, key_dim and value_dim must be at least 1".into()
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(err(format!(
                "dropout must lie in [0, 1), got {}",
                self.dropout
            )));
        }
        if !(1..=3).contains(&inputs.len()) {
            return Err(err(format!(
                "takes query, value and key (1 to 3 inputs), got {}",
                inputs.len()
            )));
        }
        for (k, shape) in inputs.iter().enumerate() {
            if shape.rank() != 2 {
                return Err(err(format!(
                    "expects rank-3 inputs (batch, steps, features); {} is {}",
                    ["query", "value", "key"][k],
                    keras_shape(shape)
                )));
            }
        }
        if let Some(axes) = &self.attention_axes
            && axes.as_slice() != [1]
            && axes.as_slice() != [-2]
        {
            return Err(err(format!(
                "attention_axes {axes:?} is not supported: only the steps axis [1] of rank-3 inputs"
            )));
        }
        let query = &inputs[0];
        let value = inputs.get(1).unwrap_or(query);
        let key = inputs.get(2).unwrap_or(value);
        if key.dims()[0] != value.dims()[0] {
            return Err(err(format!(
                "key {} and value {} must have the same number of steps",
                keras_shape(key),
                keras_shape(value)
            )));
        }
        Ok(Sizes {
            t: query.dims()[0],
            dq: query.dims()[1],
            dv: value.dims()[1],
            dk: key.dims()[1],
        })
    }

    /// The output's trailing dims (after the steps axis).
    fn out_dims(&self, sizes: Sizes) -> Vec<usize> {
        self.output_shape.clone().unwrap_or_else(|| vec![sizes.dq])
    }

    /// `x` `[batch, steps, features]` projected by `kernel` `[features, heads, dim]` (and
    /// `bias` `[heads, dim]`) to `[batch, heads, steps, dim]`.
    fn project(
        &self,
        g: &mut Graph,
        x: NodeId,
        kernel: NodeId,
        bias: Option<NodeId>,
        dim: usize,
    ) -> Result<NodeId> {
        let dims = g.shape(x).dims().to_vec();
        let (batch, steps, features) = (dims[0], dims[1], dims[2]);
        let heads = self.num_heads;
        let rows = g.reshape(x, [batch * steps, features])?;
        let kernel = g.reshape(kernel, [features, heads * dim])?;
        let mut y = g.matmul(rows, kernel, false, false)?;
        if let Some(bias) = bias {
            let bias = g.reshape(bias, [heads * dim])?;
            y = g.binary(BinaryOp::Add, y, bias)?;
        }
        let y = g.reshape(y, [batch, steps, heads, dim])?;
        Ok(g.add(ir::Op::Transpose(vec![0, 2, 1, 3]), &[y])?)
    }

    /// The constant added to the `[.., t, s]` scores: 0 where query step `i` may see source
    /// step `j <= i`, `-1e9` elsewhere.
    fn causal_mask(g: &mut Graph, t: usize, s: usize) -> NodeId {
        let data = (0..t)
            .flat_map(|i| (0..s).map(move |j| if j <= i { 0.0 } else { MASKED_SCORE }))
            .collect();
        g.constant(Tensor {
            shape: Shape::new(vec![1, 1, t, s]),
            data,
        })
    }

    /// Softmax attention of the projected `q`, `k`, `v` (`[batch, heads, steps, dim]`):
    /// `[batch, heads, t, value_dim]`.
    fn attend(
        &self,
        g: &mut Graph,
        [q, k, v]: [NodeId; 3],
        ctx: LayerContext<'_>,
    ) -> Result<NodeId> {
        let scale = g.scalar(1.0 / (self.key_dim as f32).sqrt());
        let q = g.binary(BinaryOp::Mul, q, scale)?;
        let mut scores = g.matmul(q, k, false, true)?;
        if self.use_causal_mask {
            let dims = g.shape(scores).dims().to_vec();
            let mask = Self::causal_mask(g, dims[2], dims[3]);
            scores = g.binary(BinaryOp::Add, scores, mask)?;
        }
        let mut probs = Activation::Softmax.build(g, scores)?;
        if self.dropout > 0.0 {
            let no_params = LayerContext { params: &[], ..ctx };
            probs = Dropout::new(self.dropout).build(g, probs, no_params)?;
        }
        Ok(g.matmul(probs, v, false, false)?)
    }

    /// The parameter spec `name` of `shape`, a kernel or a bias.
    fn spec(&self, name: &'static str, shape: Vec<usize>, kernel: bool) -> ParamSpec {
        let (initializer, regularizer) = if kernel {
            (self.kernel_initializer, self.kernel_regularizer)
        } else {
            (self.bias_initializer, self.bias_regularizer)
        };
        ParamSpec {
            name,
            shape: Shape::new(shape),
            initializer,
            trainable: true,
            regularizer,
        }
    }
}

impl Layer for MultiHeadAttention {
    fn class_name(&self) -> &'static str {
        "MultiHeadAttention"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        self.output_shape_many(std::slice::from_ref(input))
    }

    fn params(&self, input: &Shape) -> Vec<ParamSpec> {
        self.params_many(std::slice::from_ref(input))
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        self.build_many(g, &[x], ctx)
    }

    fn arity(&self) -> Option<usize> {
        None
    }

    fn input_counts(&self) -> RangeInclusive<usize> {
        1..=3
    }

    fn output_shape_many(&self, inputs: &[Shape]) -> Result<Shape> {
        let sizes = self.sizes(inputs)?;
        let mut dims = vec![sizes.t];
        dims.extend(self.out_dims(sizes));
        Ok(Shape::new(dims))
    }

    fn params_many(&self, inputs: &[Shape]) -> Vec<ParamSpec> {
        let Ok(sizes) = self.sizes(inputs) else {
            return Vec::new();
        };
        let (h, kd, vd) = (self.num_heads, self.key_dim, self.value_size());
        let out = self.out_dims(sizes);
        let mut params = Vec::with_capacity(8);
        for (kernel, bias, features, dim) in [
            ("query/kernel", "query/bias", sizes.dq, kd),
            ("key/kernel", "key/bias", sizes.dk, kd),
            ("value/kernel", "value/bias", sizes.dv, vd),
        ] {
            params.push(self.spec(kernel, vec![features, h, dim], true));
            if self.use_bias {
                params.push(self.spec(bias, vec![h, dim], false));
            }
        }
        let mut kernel = vec![h, vd];
        kernel.extend(&out);
        params.push(self.spec("attention_output/kernel", kernel, true));
        if self.use_bias {
            params.push(self.spec("attention_output/bias", out, false));
        }
        params
    }

    fn build_many(&self, g: &mut Graph, xs: &[NodeId], ctx: LayerContext<'_>) -> Result<NodeId> {
        let per_example: Vec<Shape> = xs
            .iter()
            .map(|&x| Shape::new(g.shape(x).dims().get(1..).unwrap_or_default().to_vec()))
            .collect();
        let sizes = self.sizes(&per_example)?;
        let per = if self.use_bias { 2 } else { 1 };
        if ctx.params.len() != 4 * per {
            return Err(layer_error(
                self,
                format!(
                    "given {} parameter nodes, needs {}",
                    ctx.params.len(),
                    4 * per
                ),
            ));
        }
        let param = |k: usize| {
            (
                ctx.params[k * per],
                (per == 2).then(|| ctx.params[k * per + 1]),
            )
        };
        let query = xs[0];
        let value = xs.get(1).copied().unwrap_or(query);
        let key = xs.get(2).copied().unwrap_or(value);
        let (kd, vd) = (self.key_dim, self.value_size());
        let (qk, qb) = param(0);
        let q = self.project(g, query, qk, qb, kd)?;
        let (kk, kb) = param(1);
        let k = self.project(g, key, kk, kb, kd)?;
        let (vk, vb) = param(2);
        let v = self.project(g, value, vk, vb, vd)?;
        let context = self.attend(g, [q, k, v], ctx)?;
        // [batch, heads, t, vd] -> [batch·t, heads·vd] times the output kernel.
        let batch = g.shape(query).dims()[0];
        let context = g.add(ir::Op::Transpose(vec![0, 2, 1, 3]), &[context])?;
        let rows = g.reshape(context, [batch * sizes.t, self.num_heads * vd])?;
        let out = self.out_dims(sizes);
        let width: usize = out.iter().product();
        let (ok, ob) = param(3);
        let kernel = g.reshape(ok, [self.num_heads * vd, width])?;
        let mut y = g.matmul(rows, kernel, false, false)?;
        if let Some(bias) = ob {
            let bias = g.reshape(bias, [width])?;
            y = g.binary(BinaryOp::Add, y, bias)?;
        }
        let mut dims = vec![batch, sizes.t];
        dims.extend(out);
        Ok(g.reshape(y, Shape::new(dims))?)
    }

    fn config(&self) -> Value {
        let output_shape = match &self.output_shape {
            None => Value::Null,
            Some(dims) if dims.len() == 1 && !self.output_shape_is_list => json!(dims[0]),
            Some(dims) => json!(dims),
        };
        layer_config(
            self,
            json!({
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_size(),
                "dropout": f32_json(self.dropout),
                "use_bias": self.use_bias,
                "output_shape": output_shape,
                "attention_axes": self.attention_axes,
                "kernel_initializer": initializer_json(self.kernel_initializer),
                "bias_initializer": initializer_json(self.bias_initializer),
                "kernel_regularizer": regularizer_json(self.kernel_regularizer),
                "bias_regularizer": regularizer_json(self.bias_regularizer),
                "activity_regularizer": null,
                "kernel_constraint": null,
                "bias_constraint": null,
                "query_shape": self.signature[0],
                "key_shape": self.signature[1],
                "value_shape": self.signature[2],
                "softmax_robust_masking": false,
            }),
        )
    }

    fn keyword_inputs(&self) -> &'static [&'static str] {
        &["value", "key"]
    }

    fn call_kwargs(&self) -> Map<String, Value> {
        let mut kwargs = Map::new();
        if self.use_causal_mask {
            kwargs.insert("use_causal_mask".into(), json!(true));
        }
        kwargs
    }

    fn set_call_kwargs(&mut self, kwargs: &Map<String, Value>) -> Result<()> {
        let mut causal = self.use_causal_mask;
        for (key, value) in kwargs {
            let unsupported = |what: &str| {
                layer_error(
                    &*self,
                    format!("call argument `{key}`: {what} (got {value})"),
                )
            };
            match key.as_str() {
                "use_causal_mask" => {
                    causal = value
                        .as_bool()
                        .ok_or_else(|| unsupported("expected true or false"))?;
                }
                "return_attention_scores" if value != &json!(true) => {}
                "return_attention_scores" => {
                    return Err(unsupported(
                        "only false is supported (one output per layer)",
                    ));
                }
                "attention_mask" if value.is_null() => {}
                "attention_mask" => return Err(unsupported("attention masks are not supported")),
                "training" => {}
                _ => return Err(unsupported("not supported")),
            }
        }
        self.use_causal_mask = causal;
        Ok(())
    }
}

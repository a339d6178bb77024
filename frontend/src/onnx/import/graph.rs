//! [`Importer`]: the state of one import — every ONNX value by name (a known [`Const`] or a
//! [`Dyn`] tensor of the Kiln model under construction, with its [`Layout`]), the
//! `Functional` builder, and the weights collected for its layers. It names layers, applies
//! them (errors name the ONNX node) and converts a tensor between the ONNX layout and Kiln's
//! channels-last layout. It does not know any op: the files of `ops/` do.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use ir::{Shape, Tensor};

use super::attrs::NodeCtx;
use super::error::ImportResult;
use super::tensor::Const;
use crate::layers::{Layer, Permute, Reshape};
use crate::model::{Functional, TensorRef};

/// How a 4-D ONNX tensor `[N, C, H, W]` is held in the Kiln model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// As ONNX has it (the batch axis first, then the ONNX axes in order).
    Onnx,
    /// Kiln's `[N, H, W, C]` for an ONNX `[N, C, H, W]`.
    ChannelsLast,
}

/// A layer whose output channels an elementwise constant may be folded into: the layer's
/// name, and where the output channel sits in its kernel (`channel = (i / stride) % n`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Producer {
    /// The layer.
    pub layer: String,
    /// The kernel parameter's local name.
    pub kernel: &'static str,
    /// Stride of the output-channel axis in the flat kernel.
    pub stride: usize,
    /// Number of output channels.
    pub channels: usize,
}

/// A tensor computed by the Kiln model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Dyn {
    /// The builder's tensor.
    pub t: TensorRef,
    /// Its layout.
    pub layout: Layout,
    /// The layer that made it, when constants may be folded into that layer's weights.
    pub producer: Option<Producer>,
}

/// An ONNX value.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// Known at import.
    Const(Const),
    /// Computed from the model's inputs.
    Tensor(Dyn),
}

/// The state of one import.
pub(crate) struct Importer<'a> {
    /// The model under construction.
    pub f: Functional,
    /// Weights of the layers applied so far, by parameter name (`layer/kernel`).
    pub weights: BTreeMap<String, Tensor>,
    /// Every value defined so far.
    pub values: HashMap<String, Value>,
    /// How many nodes (and graph outputs) read each value.
    pub uses: HashMap<String, usize>,
    /// The batch size the file was exported with (1 when symbolic).
    pub batch: usize,
    /// The `.onnx` file's folder.
    pub dir: &'a Path,
    /// The most elements a folded constant may have.
    pub limit: usize,
    /// Whether a constant batch size in a per-example `Reshape` is let go (see
    /// `ImportOptions::free_batch`).
    pub free_batch: bool,
    /// Layer names given so far.
    names: HashSet<String>,
}

impl<'a> Importer<'a> {
    /// An empty import of a model called `name`.
    pub(crate) fn new(name: &str, dir: &'a Path, limit: usize) -> Self {
        Importer {
            f: Functional::builder(name),
            weights: BTreeMap::new(),
            values: HashMap::new(),
            uses: HashMap::new(),
            batch: 1,
            dir,
            limit,
            free_batch: false,
            names: HashSet::new(),
        }
    }

    /// The value called `name`, read by `ctx`.
    pub(crate) fn value(&self, ctx: &NodeCtx<'_>, name: &str) -> ImportResult<&Value> {
        self.values.get(name).ok_or_else(|| {
            ctx.error(format!(
                "reads `{name}`, which no earlier node, graph input or initializer defines"
            ))
        })
    }

    /// Input `i` of `ctx` if it is known at import (`None` when absent).
    pub(crate) fn const_input(&self, ctx: &NodeCtx<'_>, i: usize) -> ImportResult<Option<&Const>> {
        let Some(name) = ctx.input(i) else {
            return Ok(None);
        };
        match self.value(ctx, name)? {
            Value::Const(c) => Ok(Some(c)),
            Value::Tensor(_) => Err(ctx.error(format!(
                "input {i} (`{name}`) must be known at import, but it depends on the model's \
                 input"
            ))),
        }
    }

    /// Input `i` of `ctx`, required to be a constant.
    pub(crate) fn required_const(&self, ctx: &NodeCtx<'_>, i: usize) -> ImportResult<&Const> {
        self.const_input(ctx, i)?
            .ok_or_else(|| ctx.error(format!("input {i} is missing")))
    }

    /// Input `i` of `ctx`, required to be computed by the model.
    pub(crate) fn dyn_input(&self, ctx: &NodeCtx<'_>, i: usize) -> ImportResult<Dyn> {
        let name = ctx.required_input(i)?;
        match self.value(ctx, name)? {
            Value::Tensor(d) => Ok(d.clone()),
            Value::Const(_) => Err(ctx.error(format!(
                "input {i} (`{name}`) is a constant; Kiln maps this op on the model's data only"
            ))),
        }
    }

    /// Defines output `i` of `ctx`.
    pub(crate) fn set_output(
        &mut self,
        ctx: &NodeCtx<'_>,
        i: usize,
        value: Value,
    ) -> ImportResult<()> {
        let name = ctx.output(i)?;
        self.values.insert(name.to_string(), value);
        Ok(())
    }

    /// Defines output 0 of `ctx` as a model tensor.
    pub(crate) fn set_dyn(&mut self, ctx: &NodeCtx<'_>, d: Dyn) -> ImportResult<()> {
        self.set_output(ctx, 0, Value::Tensor(d))
    }

    /// Whether output 0 of `ctx`'s input `i` is read by this node only.
    pub(crate) fn single_use(&self, ctx: &NodeCtx<'_>, i: usize) -> bool {
        ctx.input(i)
            .is_some_and(|name| self.uses.get(name).copied() == Some(1))
    }

    /// Kiln's per-example dims of `d`.
    pub(crate) fn kiln_dims(&self, d: &Dyn) -> Vec<usize> {
        self.f
            .shape(d.t)
            .map(|s| s.dims().to_vec())
            .unwrap_or_default()
    }

    /// ONNX's per-example dims of `d` (without the batch axis).
    pub(crate) fn onnx_dims(&self, d: &Dyn) -> Vec<usize> {
        let k = self.kiln_dims(d);
        match (d.layout, k.as_slice()) {
            (Layout::ChannelsLast, &[h, w, c]) => vec![c, h, w],
            _ => k,
        }
    }

    /// The Kiln axis (batch axis 0 included) of ONNX axis `axis` of `d` (negative counts from
    /// the end, batch included).
    pub(crate) fn kiln_axis(&self, ctx: &NodeCtx<'_>, d: &Dyn, axis: i64) -> ImportResult<usize> {
        let rank = self.kiln_dims(d).len() + 1;
        let r = rank as i64;
        let a = if axis < 0 { axis + r } else { axis };
        if !(0..r).contains(&a) {
            return Err(ctx.error(format!("axis {axis} is out of range for rank {rank}")));
        }
        Ok(match d.layout {
            Layout::ChannelsLast => [0, 3, 1, 2][a as usize],
            Layout::Onnx => a as usize,
        })
    }

    /// A fresh layer name from `raw` (letters, digits and `_`; `fallback` when empty).
    pub(crate) fn fresh_name(&mut self, raw: &str, fallback: &str) -> String {
        let clean: String = raw
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let base = match clean.trim_matches('_') {
            "" => fallback.to_ascii_lowercase(),
            b if b.starts_with(|c: char| c.is_ascii_digit()) => format!("n_{b}"),
            b => b.to_string(),
        };
        let mut name = base.clone();
        let mut k = 1;
        while self.names.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.names.insert(name.clone());
        name
    }

    /// Applies `layer`, named after the node, to `inputs`; its weights are `params`
    /// (local name → tensor). Layer errors become errors of the node.
    pub(crate) fn apply(
        &mut self,
        ctx: &NodeCtx<'_>,
        mut layer: Box<dyn Layer>,
        inputs: &[TensorRef],
        params: Vec<(&str, Tensor)>,
    ) -> ImportResult<(TensorRef, String)> {
        let name = self.fresh_name(&ctx.name(), ctx.op());
        layer.set_name(name.clone());
        let t = self
            .f
            .apply_many(layer, inputs)
            .map_err(|e| ctx.error(e.to_string()))?;
        for (local, value) in params {
            self.weights.insert(format!("{name}/{local}"), value);
        }
        Ok((t, name))
    }

    /// Applies a parameter-free helper layer (a layout change) with an automatic name.
    pub(crate) fn apply_helper(
        &mut self,
        ctx: &NodeCtx<'_>,
        layer: impl Into<Box<dyn Layer>>,
        x: TensorRef,
    ) -> ImportResult<TensorRef> {
        let mut layer = layer.into();
        let name = self.fresh_name("", &format!("onnx_{}", layer.name_prefix()));
        layer.set_name(name);
        self.f.apply(layer, x).map_err(|e| ctx.error(e.to_string()))
    }

    /// `d` in the ONNX layout (a `Permute` from channels-last; a `Reshape` when the image is
    /// 1×1, where both orders agree).
    pub(crate) fn onnx_layout(&mut self, ctx: &NodeCtx<'_>, d: Dyn) -> ImportResult<Dyn> {
        if d.layout == Layout::Onnx {
            return Ok(d);
        }
        let onnx = self.onnx_dims(&d);
        let t = if onnx[1] == 1 && onnx[2] == 1 {
            let target = onnx.iter().map(|&x| x as i64);
            self.apply_helper(ctx, Reshape::new(target), d.t)?
        } else {
            self.apply_helper(ctx, Permute::new([3, 1, 2]), d.t)?
        };
        Ok(Dyn {
            t,
            layout: Layout::Onnx,
            producer: None,
        })
    }

    /// A 4-D `d` in Kiln's channels-last layout (a `Permute` from the ONNX layout).
    pub(crate) fn channels_last(&mut self, ctx: &NodeCtx<'_>, d: Dyn) -> ImportResult<Dyn> {
        if d.layout == Layout::ChannelsLast {
            return Ok(d);
        }
        let dims = self.kiln_dims(&d);
        if dims.len() != 3 {
            return Err(ctx.error(format!(
                "expects a 4-D input [N, C, H, W], got one of per-example shape {dims:?}"
            )));
        }
        let t = self.apply_helper(ctx, Permute::new([2, 3, 1]), d.t)?;
        Ok(Dyn {
            t,
            layout: Layout::ChannelsLast,
            producer: None,
        })
    }
}

/// A tensor of `dims` from f32 values (the caller checked the count).
pub(crate) fn tensor(dims: &[usize], data: Vec<f32>) -> Tensor {
    Tensor {
        shape: Shape::new(dims.to_vec()),
        data,
    }
}

//! `Add`, `Sub`, `Mul`, `Div`. Two model tensors of one shape → Kiln's merge layers (`Add`,
//! `Subtract`, `Multiply`). With a constant operand, a per-channel constant is folded into
//! the weights of the `Dense`/`Conv` that made the other operand when nothing else reads that
//! output (bias += c; kernel and bias ×= c); otherwise it becomes a `ConstantOperand` layer
//! (the constant rearranged once into the tensor's layout).

use crate::layers::{Add, ConstantArithmetic, ConstantOperand, Layer, Multiply, Subtract};
use crate::onnx::import::attrs::NodeCtx;
use crate::onnx::import::error::ImportResult;
use crate::onnx::import::fold::strides;
use crate::onnx::import::graph::{Dyn, Importer, Layout, Value, tensor};
use crate::onnx::import::tensor::Const;

/// An elementwise binary node.
pub(crate) fn binary(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let (a, b) = (ctx.required_input(0)?, ctx.required_input(1)?);
    let (va, vb) = (imp.value(ctx, a)?.clone(), imp.value(ctx, b)?.clone());
    match (va, vb) {
        (Value::Tensor(x), Value::Tensor(y)) => two_tensors(imp, ctx, x, y),
        (Value::Tensor(x), Value::Const(c)) => with_constant(imp, ctx, x, &c, false),
        (Value::Const(c), Value::Tensor(x)) => with_constant(imp, ctx, x, &c, true),
        (Value::Const(_), Value::Const(_)) => Err(ctx.error("both operands are constants")),
    }
}

/// Two model tensors → a merge layer.
fn two_tensors(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>, x: Dyn, y: Dyn) -> ImportResult<()> {
    let (x, y) = if x.layout == y.layout {
        (x, y)
    } else {
        (imp.onnx_layout(ctx, x)?, imp.onnx_layout(ctx, y)?)
    };
    if imp.kiln_dims(&x) != imp.kiln_dims(&y) {
        return Err(ctx.error(format!(
            "operands of shapes {:?} and {:?}: broadcasting between two model tensors is not \
             supported",
            imp.onnx_dims(&x),
            imp.onnx_dims(&y)
        )));
    }
    let layer: Box<dyn Layer> = match ctx.op() {
        "Add" => Box::new(Add::new()),
        "Sub" => Box::new(Subtract::new()),
        "Mul" => Box::new(Multiply::new()),
        _ => return Err(ctx.error("dividing two model tensors is not supported")),
    };
    let (t, _) = imp.apply(ctx, layer, &[x.t, y.t], Vec::new())?;
    imp.set_dyn(
        ctx,
        Dyn {
            t,
            layout: x.layout,
            producer: None,
        },
    )
}

/// `x ∘ c` (or `c ∘ x` when `const_first`).
fn with_constant(
    imp: &mut Importer<'_>,
    ctx: &NodeCtx<'_>,
    x: Dyn,
    c: &Const,
    const_first: bool,
) -> ImportResult<()> {
    let op = ctx.op();
    let foldable = matches!(
        (op, const_first),
        ("Add" | "Mul", _) | ("Sub" | "Div", false)
    );
    let data_input = usize::from(const_first);
    if foldable
        && imp.single_use(ctx, data_input)
        && let Some(p) = x.producer.clone()
        && let Some(v) = per_channel(imp, &x, c, p.channels)
    {
        fold_into(imp, &p, op, &v);
        return imp.set_dyn(ctx, x);
    }
    let kind = match (op, const_first) {
        ("Add", _) => ConstantArithmetic::Add,
        ("Mul", _) => ConstantArithmetic::Multiply,
        ("Sub", false) => ConstantArithmetic::Subtract,
        ("Sub", true) => ConstantArithmetic::SubtractFrom,
        ("Div", false) => ConstantArithmetic::Divide,
        _ => ConstantArithmetic::DivideInto,
    };
    let value = per_example(imp, ctx, &x, c)?;
    let layer = ConstantOperand::new(kind, value.shape.clone());
    let (t, _) = imp.apply(ctx, Box::new(layer), &[x.t], vec![("constant", value)])?;
    imp.set_dyn(
        ctx,
        Dyn {
            t,
            layout: x.layout,
            producer: None,
        },
    )
}

/// The ONNX axis holding `x`'s channels (what a producer's bias indexes).
fn channel_axis(imp: &Importer<'_>, x: &Dyn) -> usize {
    match x.layout {
        Layout::ChannelsLast => 1,
        Layout::Onnx => imp.onnx_dims(x).len(),
    }
}

/// `c` as one value per channel, when it is constant along every other axis.
fn per_channel(imp: &Importer<'_>, x: &Dyn, c: &Const, channels: usize) -> Option<Vec<f32>> {
    let rank = imp.onnx_dims(x).len() + 1;
    if c.dims.len() > rank || c.depends_on_batch() {
        return None;
    }
    let axis = channel_axis(imp, x);
    let off = rank - c.dims.len();
    let along = (0..c.dims.len())
        .filter(|&j| c.dims[j] != 1)
        .collect::<Vec<_>>();
    let values = c.to_f32();
    match along.as_slice() {
        [] => Some(vec![values[0]; channels]),
        [j] if j + off == axis && c.dims[*j] == channels => Some(values),
        _ => None,
    }
}

/// Folds a per-channel `v` into `p`'s weights: `Add`/`Sub` into the bias, `Mul`/`Div` into
/// the kernel and the bias.
fn fold_into(
    imp: &mut Importer<'_>,
    p: &crate::onnx::import::graph::Producer,
    op: &str,
    v: &[f32],
) {
    let bias = format!("{}/bias", p.layer);
    let kernel = format!("{}/{}", p.layer, p.kernel);
    let scale: Vec<f32> = match op {
        "Mul" => v.to_vec(),
        "Div" => v.iter().map(|&s| 1.0 / s).collect(),
        _ => {
            let sign = if op == "Sub" { -1.0 } else { 1.0 };
            if let Some(b) = imp.weights.get_mut(&bias) {
                b.data.iter_mut().zip(v).for_each(|(b, &c)| *b += sign * c);
            }
            return;
        }
    };
    if let Some(k) = imp.weights.get_mut(&kernel) {
        for (i, w) in k.data.iter_mut().enumerate() {
            *w *= scale[(i / p.stride) % p.channels];
        }
    }
    if let Some(b) = imp.weights.get_mut(&bias) {
        b.data.iter_mut().zip(&scale).for_each(|(b, &s)| *b *= s);
    }
}

/// `c` broadcast against one example of `x` and laid out as `x` is held: right-aligned to
/// the batched rank, the batch axis (of size 1) dropped, channels moved last for images.
fn per_example(
    imp: &Importer<'_>,
    ctx: &NodeCtx<'_>,
    x: &Dyn,
    c: &Const,
) -> ImportResult<ir::Tensor> {
    let rank = imp.onnx_dims(x).len() + 1;
    if c.dims.len() > rank || (c.dims.len() == rank && c.dims[0] != 1) {
        return Err(ctx.error(format!(
            "the constant of dims {:?} varies along the batch axis",
            c.dims
        )));
    }
    if c.depends_on_batch() {
        return Err(ctx.error("the constant depends on the batch size"));
    }
    let mut dims = vec![1; rank - c.dims.len()];
    dims.extend_from_slice(&c.dims);
    dims.remove(0);
    let values = c.to_f32();
    if x.layout == Layout::ChannelsLast && dims.len() == 3 {
        let [ch, h, w] = [dims[0], dims[1], dims[2]];
        let s = strides(&dims);
        let data = (0..values.len())
            .map(|i| {
                let (k, j, r) = (i % ch, (i / ch) % w, i / (ch * w));
                values[k * s[0] + r * s[1] + j * s[2]]
            })
            .collect();
        return Ok(tensor(&[h, w, ch], data));
    }
    Ok(tensor(&dims, values))
}

//! NaN-propagation cases shared by the interpreter's, the CPU backend's and the GPU backend's
//! tests (each includes this file with `#[path]`): small graphs of every op that takes a
//! maximum or a minimum or selects on a comparison (ReLU, sign, ReLU6, thresholded ReLU, clip,
//! hard sigmoid, leaky ReLU, ELU, max/min of two tensors in both operand orders, max/min
//! reductions over rows, columns and everything, max pooling 2-D with and without padding,
//! 1-D and global), an MLP and a CNN with max pooling — each with an all-NaN input and a
//! single-NaN input, and the exact set of outputs that must be NaN (numpy's `np.maximum`
//! semantics: a NaN reaches every output that depends on it).
//!
//! The expected sets come from each graph's dependency structure (which outputs read which
//! inputs), never from running an implementation. This file builds graphs and expectations
//! only; running them and comparing is each backend's test ([`check`] is the comparison).

#![allow(dead_code)]

use std::collections::HashMap;

use ir::{
    BinaryOp, Conv2dAttrs, Graph, NodeId, Op, Padding, Pool2dAttrs, PoolKind, ReduceOp, Tensor,
    UnaryOp,
};

/// One graph with input `x` (the one that holds the NaN; other inputs and params are finite)
/// and output `y`.
pub struct Case {
    /// Op or model, and which input (`all NaN` / `one NaN`).
    pub name: String,
    pub graph: Graph,
    /// Every input and param of `graph`.
    pub bindings: HashMap<String, Tensor>,
    /// Per element of `y`: whether it must be NaN.
    pub must_be_nan: Vec<bool>,
    /// Whether a backend may make more outputs NaN than `must_be_nan` (a kernel may spread a
    /// NaN over a tile, e.g. Winograd convolution) — never into another sample (batch row)
    /// whose input holds no NaN.
    pub may_spread: bool,
}

/// Which elements of `x` are NaN.
#[derive(Clone, Copy)]
enum Fill {
    All,
    /// The element at this flat index (taken modulo the size).
    One(usize),
}

const FILLS: [(Fill, &str); 2] = [(Fill::All, "all NaN"), (Fill::One(29), "one NaN")];

/// Deterministic finite values in `[-2, 2)` with exact zeros sprinkled in.
fn finite(n: usize, seed: u32) -> Vec<f32> {
    (0..n as u32)
        .map(|i| {
            if i % 7 == 3 {
                0.0
            } else {
                -2.0 + 4.0 * ir::random::uniform(seed, i)
            }
        })
        .collect()
}

/// A NaN mask over a shape (row-major) and the dependency rules the cases need.
#[derive(Clone)]
struct Mask {
    dims: Vec<usize>,
    bits: Vec<bool>,
}

impl Mask {
    fn of(t: &Tensor) -> Mask {
        Mask {
            dims: t.shape.dims().to_vec(),
            bits: t.data.iter().map(|v| v.is_nan()).collect(),
        }
    }

    fn or(&self, other: &Mask) -> Mask {
        assert_eq!(self.dims, other.dims);
        let bits = self
            .bits
            .iter()
            .zip(&other.bits)
            .map(|(a, b)| *a || *b)
            .collect();
        Mask {
            dims: self.dims.clone(),
            bits,
        }
    }

    /// Reduce `axes` away (keep_dims false): a result is NaN when any element it reads is.
    fn reduce(&self, axes: &[usize]) -> Mask {
        let kept: Vec<usize> = (0..self.dims.len()).filter(|a| !axes.contains(a)).collect();
        let out_dims: Vec<usize> = kept.iter().map(|&a| self.dims[a]).collect();
        let mut bits = vec![false; out_dims.iter().product()];
        for (flat, &b) in self.bits.iter().enumerate() {
            let index = unflatten(flat, &self.dims);
            let o = kept.iter().fold(0, |acc, &a| acc * self.dims[a] + index[a]);
            bits[o] |= b;
        }
        Mask {
            dims: out_dims,
            bits,
        }
    }

    /// Each sample (axis 0) wholly NaN if any of its elements is, as `width` outputs.
    fn per_sample(&self, width: usize) -> Mask {
        let n = self.dims[0];
        let rows = self.reduce(&(1..self.dims.len()).collect::<Vec<_>>());
        Mask {
            dims: vec![n, width],
            bits: (0..n * width).map(|i| rows.bits[i / width]).collect(),
        }
    }

    /// An NHWC window op: output `(b, oy, ox, co)` reads the window's cells of channel `co`
    /// (pooling) or of every channel (`mix`: convolution with `out_c` outputs).
    fn window(
        &self,
        window: [usize; 2],
        strides: [usize; 2],
        padding: Padding,
        mix: Option<usize>,
    ) -> Mask {
        let [n, h, w, c] = [self.dims[0], self.dims[1], self.dims[2], self.dims[3]];
        let ay = padding.resolve(0, h, window[0], strides[0]).unwrap();
        let ax = padding.resolve(1, w, window[1], strides[1]).unwrap();
        let out_c = mix.unwrap_or(c);
        let mut bits = vec![false; n * ay.out * ax.out * out_c];
        for (b, oy, ox, co) in iproduct4(n, ay.out, ax.out, out_c) {
            let mut hit = false;
            for (ky, kx) in (0..window[0]).flat_map(|ky| (0..window[1]).map(move |kx| (ky, kx))) {
                let y = (oy * strides[0] + ky).checked_sub(ay.pad_before);
                let x = (ox * strides[1] + kx).checked_sub(ax.pad_before);
                let (Some(y), Some(x)) = (y, x) else { continue };
                if y >= h || x >= w {
                    continue;
                }
                let channels = if mix.is_some() { 0..c } else { co..co + 1 };
                hit |= channels
                    .into_iter()
                    .any(|ci| self.bits[((b * h + y) * w + x) * c + ci]);
            }
            bits[((b * ay.out + oy) * ax.out + ox) * out_c + co] = hit;
        }
        Mask {
            dims: vec![n, ay.out, ax.out, out_c],
            bits,
        }
    }
}

fn unflatten(mut flat: usize, dims: &[usize]) -> Vec<usize> {
    let mut index = vec![0; dims.len()];
    for a in (0..dims.len()).rev() {
        index[a] = flat % dims[a];
        flat /= dims[a];
    }
    index
}

fn iproduct4(
    a: usize,
    b: usize,
    c: usize,
    d: usize,
) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    (0..a).flat_map(move |i| {
        (0..b).flat_map(move |j| (0..c).flat_map(move |k| (0..d).map(move |l| (i, j, k, l))))
    })
}

/// A case under construction: the graph, its bindings, and `x`'s NaN mask.
struct Builder {
    g: Graph,
    bindings: HashMap<String, Tensor>,
    x: NodeId,
    mask: Mask,
    seed: u32,
}

impl Builder {
    fn new(dims: &[usize], fill: Fill) -> Builder {
        let mut g = Graph::new();
        let x = g.input("x", ir::Shape::from(dims));
        let n: usize = dims.iter().product();
        let mut data = finite(n, 1);
        match fill {
            Fill::All => data.iter_mut().for_each(|v| *v = f32::NAN),
            Fill::One(i) => data[i % n] = f32::NAN,
        }
        let t = Tensor::new(ir::Shape::from(dims), data).unwrap();
        let mask = Mask::of(&t);
        let mut bindings = HashMap::new();
        bindings.insert("x".to_string(), t);
        Builder {
            g,
            bindings,
            x,
            mask,
            seed: 2,
        }
    }

    /// A finite param (`kind` "input" makes it a second input instead).
    fn leaf(&mut self, name: &str, dims: &[usize], input: bool) -> NodeId {
        let id = if input {
            self.g.input(name, ir::Shape::from(dims))
        } else {
            self.g.param(name, ir::Shape::from(dims))
        };
        self.seed += 1;
        let n = dims.iter().product();
        let scale = if input { 1.0 } else { 0.5 };
        let data = finite(n, self.seed)
            .into_iter()
            .map(|v| v * scale)
            .collect();
        self.bindings.insert(
            name.to_string(),
            Tensor::new(ir::Shape::from(dims), data).unwrap(),
        );
        id
    }

    fn un(&mut self, op: UnaryOp, a: NodeId) -> NodeId {
        self.g.unary(op, a).unwrap()
    }

    fn bin(&mut self, op: BinaryOp, a: NodeId, b: NodeId) -> NodeId {
        self.g.binary(op, a, b).unwrap()
    }

    fn bin_c(&mut self, op: BinaryOp, a: NodeId, c: f32) -> NodeId {
        let c = self.g.scalar(c);
        self.bin(op, a, c)
    }

    fn select(&mut self, c: NodeId, a: NodeId, b: NodeId) -> NodeId {
        self.g.add(Op::Select, &[c, a, b]).unwrap()
    }

    /// `x [n, k] · w [k, units] + b`, then ReLU.
    fn dense_relu(&mut self, x: NodeId, k: usize, units: usize, name: &str) -> NodeId {
        let w = self.leaf(&format!("{name}_w"), &[k, units], false);
        let b = self.leaf(&format!("{name}_b"), &[units], false);
        let y = self.g.matmul(x, w, false, false).unwrap();
        let y = self.bin(BinaryOp::Add, y, b);
        self.un(UnaryOp::Relu, y)
    }

    fn finish(mut self, name: String, y: NodeId, must: Mask, may_spread: bool) -> Case {
        self.g.add_output("y", y).unwrap();
        assert_eq!(must.dims, self.g.shape(y).dims(), "{name}: mask shape");
        Case {
            name,
            graph: self.g,
            bindings: self.bindings,
            must_be_nan: must.bits,
            may_spread,
        }
    }
}

/// An elementwise case: `f(builder, x)` over `x [3, 7]`, NaN exactly where `x` is.
type Elementwise = fn(&mut Builder, NodeId) -> NodeId;

fn elementwise_ops() -> Vec<(&'static str, Elementwise)> {
    vec![
        ("relu", |b, x| b.un(UnaryOp::Relu, x)),
        ("sign", |b, x| b.un(UnaryOp::Sign, x)),
        ("relu6", |b, x| {
            let r = b.un(UnaryOp::Relu, x);
            b.bin_c(BinaryOp::Min, r, 6.0)
        }),
        ("max with a constant", |b, x| b.bin_c(BinaryOp::Max, x, 0.5)),
        ("min with a constant", |b, x| {
            b.bin_c(BinaryOp::Min, x, -0.5)
        }),
        ("max(x, z)", |b, x| {
            let z = b.leaf("z", &[3, 7], true);
            b.bin(BinaryOp::Max, x, z)
        }),
        ("max(z, x)", |b, x| {
            let z = b.leaf("z", &[3, 7], true);
            b.bin(BinaryOp::Max, z, x)
        }),
        ("min(x, z)", |b, x| {
            let z = b.leaf("z", &[3, 7], true);
            b.bin(BinaryOp::Min, x, z)
        }),
        ("min(z, x)", |b, x| {
            let z = b.leaf("z", &[3, 7], true);
            b.bin(BinaryOp::Min, z, x)
        }),
        ("clip", |b, x| {
            let lo = b.bin_c(BinaryOp::Max, x, -1.0);
            b.bin_c(BinaryOp::Min, lo, 1.0)
        }),
        ("hard sigmoid", |b, x| {
            let s = b.bin_c(BinaryOp::Mul, x, 0.2);
            let s = b.bin_c(BinaryOp::Add, s, 0.5);
            let s = b.bin_c(BinaryOp::Max, s, 0.0);
            b.bin_c(BinaryOp::Min, s, 1.0)
        }),
        ("leaky relu", |b, x| {
            let pos = b.bin_c(BinaryOp::Gt, x, 0.0);
            let neg = b.bin_c(BinaryOp::Mul, x, 0.3);
            b.select(pos, x, neg)
        }),
        ("elu", |b, x| {
            let pos = b.bin_c(BinaryOp::Gt, x, 0.0);
            let m = b.bin_c(BinaryOp::Min, x, 0.0);
            let e = b.un(UnaryOp::Expm1, m);
            b.select(pos, x, e)
        }),
        ("thresholded relu capped at 1", |b, x| {
            // Keras' ReLU(threshold=0.5, negative_slope=0, max_value=1) as the frontend
            // lowers it (no `NaN · 0`: a GPU compiler may fold it to 0).
            let below_threshold = b.bin_c(BinaryOp::Lt, x, 0.5);
            let zero = b.g.scalar(0.0);
            let y = b.select(below_threshold, zero, x);
            let capped = b.bin_c(BinaryOp::Ge, x, 1.0);
            let cap = b.g.scalar(1.0);
            b.select(capped, cap, y)
        }),
    ]
}

fn elementwise_case(name: &str, f: Elementwise, fill: (Fill, &str)) -> Case {
    let mut b = Builder::new(&[3, 7], fill.0);
    let x = b.x;
    let y = f(&mut b, x);
    let must = b.mask.clone();
    b.finish(format!("{name} ({})", fill.1), y, must, false)
}

/// A reduction of `x [dims]` over `axes`.
fn reduce_case(op: ReduceOp, dims: &[usize], axes: &[usize], fill: (Fill, &str)) -> Case {
    let mut b = Builder::new(dims, fill.0);
    let x = b.x;
    let y = b.g.reduce(op, x, axes, false).unwrap();
    let must = b.mask.reduce(axes);
    let name = format!(
        "reduce {} over {axes:?} of {dims:?} ({})",
        op.name(),
        fill.1
    );
    b.finish(name, y, must, false)
}

/// Max pooling of `x [dims]` (five channels: four-lane vectors and a tail).
fn pool_case(
    dims: &[usize],
    window: [usize; 2],
    strides: [usize; 2],
    padding: Padding,
    fill: (Fill, &str),
) -> Case {
    let mut b = Builder::new(dims, fill.0);
    let attrs = Pool2dAttrs {
        kind: PoolKind::Max,
        window,
        strides,
        padding,
    };
    let x = b.x;
    let y = b.g.add(Op::Pool2d(attrs), &[x]).unwrap();
    let must = b.mask.window(window, strides, padding, None);
    let name = format!(
        "max pool {window:?}/{strides:?} {padding:?} of {dims:?} ({})",
        fill.1
    );
    b.finish(name, y, must, false)
}

/// An MLP `x [3, 6]` → 5 → 4 (ReLU each) → 3 logits → softmax.
fn mlp_case(fill: (Fill, &str)) -> Case {
    let mut b = Builder::new(&[3, 6], fill.0);
    let x = b.x;
    let h = b.dense_relu(x, 6, 5, "d1");
    let h = b.dense_relu(h, 5, 4, "d2");
    let w = b.leaf("d3_w", &[4, 3], false);
    let logits = b.g.matmul(h, w, false, false).unwrap();
    let max = b.g.reduce(ReduceOp::Max, logits, &[1], true).unwrap();
    let shifted = b.bin(BinaryOp::Sub, logits, max);
    let e = b.un(UnaryOp::Exp, shifted);
    let sum = b.g.reduce(ReduceOp::Sum, e, &[1], true).unwrap();
    let y = b.bin(BinaryOp::Div, e, sum);
    let must = b.mask.per_sample(3);
    b.finish(format!("mlp ({})", fill.1), y, must, false)
}

/// A CNN `x [2, 6, 6, 2]`: 3×3 SAME convolution to 4 channels + bias, ReLU, 2×2 max pool;
/// `features` ends there (`[2, 3, 3, 4]`), else global max pool and a dense layer to 3.
fn cnn_case(features: bool, fill: (Fill, &str)) -> Case {
    let mut b = Builder::new(&[2, 6, 6, 2], fill.0);
    let f = b.leaf("conv_w", &[3, 3, 2, 4], false);
    let bias = b.leaf("conv_b", &[4], false);
    let conv = Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding: Padding::Same,
    };
    let x = b.x;
    let y = b.g.add(Op::Conv2d(conv), &[x, f]).unwrap();
    let y = b.bin(BinaryOp::Add, y, bias);
    let y = b.un(UnaryOp::Relu, y);
    let pool = Pool2dAttrs {
        kind: PoolKind::Max,
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
    };
    let pooled = b.g.add(Op::Pool2d(pool), &[y]).unwrap();
    let conv_mask = b.mask.window([3, 3], [1, 1], Padding::Same, Some(4));
    let pooled_mask = conv_mask.window([2, 2], [2, 2], Padding::Valid, None);
    if features {
        return b.finish(
            format!("cnn features ({})", fill.1),
            pooled,
            pooled_mask,
            true,
        );
    }
    let global = b.g.reduce(ReduceOp::Max, pooled, &[1, 2], false).unwrap();
    let w = b.leaf("dense_w", &[4, 3], false);
    let y = b.g.matmul(global, w, false, false).unwrap();
    let must = pooled_mask.reduce(&[1, 2]).per_sample(3);
    b.finish(format!("cnn ({})", fill.1), y, must, false)
}

/// Every case, each with an all-NaN and a single-NaN input.
pub fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    for fill in FILLS {
        for (name, f) in elementwise_ops() {
            all.push(elementwise_case(name, f, fill));
        }
        for op in [ReduceOp::Max, ReduceOp::Min] {
            all.push(reduce_case(op, &[3, 7], &[1], fill));
            all.push(reduce_case(op, &[3, 7], &[0], fill));
            all.push(reduce_case(op, &[3, 7], &[0, 1], fill));
        }
        all.push(pool_case(
            &[2, 4, 4, 5],
            [2, 2],
            [2, 2],
            Padding::Valid,
            fill,
        ));
        all.push(pool_case(
            &[2, 5, 5, 5],
            [3, 3],
            [1, 1],
            Padding::Same,
            fill,
        ));
        // 1-D max pooling is 2-D pooling of a height-1 image (Keras' MaxPooling1D).
        all.push(pool_case(
            &[2, 1, 8, 5],
            [1, 2],
            [1, 2],
            Padding::Valid,
            fill,
        ));
        // Global max pooling is a max over H and W.
        all.push(reduce_case(ReduceOp::Max, &[2, 4, 4, 5], &[1, 2], fill));
        all.push(mlp_case(fill));
        all.push(cnn_case(false, fill));
        all.push(cnn_case(true, fill));
    }
    all
}

/// Compare a backend's `y` with the case: exactly the required outputs NaN (at least them
/// where the case allows spreading, and never in a sample whose input holds no NaN); every
/// other output finite and close to the interpreter's (`want`) within `tol` (relative,
/// absolute near zero).
pub fn check(case: &Case, got: &[f32], want: &[f32], tol: f32) {
    let name = &case.name;
    assert_eq!(got.len(), case.must_be_nan.len(), "{name}: output size");
    // Whether output `i` belongs to a sample whose input holds a NaN (cases that may spread
    // keep the batch axis first).
    let x = &case.bindings["x"];
    let samples = x.shape.dims()[0];
    let (x_per, y_per) = (x.data.len() / samples, got.len() / samples);
    let poisoned = |i: usize| {
        let sample = i / y_per;
        x.data[sample * x_per..(sample + 1) * x_per]
            .iter()
            .any(|v| v.is_nan())
    };
    for (i, (&g, &must)) in got.iter().zip(&case.must_be_nan).enumerate() {
        if must {
            assert!(g.is_nan(), "{name}: y[{i}] = {g} must be NaN");
        } else if g.is_nan() {
            assert!(
                case.may_spread && poisoned(i),
                "{name}: y[{i}] is NaN but reads no NaN"
            );
        } else {
            let w = want[i];
            assert!(w.is_finite(), "{name}: y[{i}] = {g}, reference {w}");
            assert!(
                (g - w).abs() <= tol * w.abs().max(1.0),
                "{name}: y[{i}] = {g}, reference {w}"
            );
        }
    }
}

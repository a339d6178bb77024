//! Gradient checks: `passes::autodiff::grad` against central finite differences on the
//! reference interpreter, for every differentiable primitive op, a few double-backward
//! graphs, an MLP and a small conv net.
//!
//! Each case builds a tiny graph from inputs (the `wrt` nodes, filled with deterministic
//! pseudo-random values chosen away from kinks and ties) and returns a node `out`; the
//! harness appends `loss = sum(out * fixed_random_weights)` and compares `grad(loss, inputs)`
//! against `(loss(x + eps) - loss(x - eps)) / 2 eps` element by element.
//!
//! Tolerance (f32 throughout): `eps = 1e-2`, and an analytic value `a` matches a numeric
//! value `n` when `|a - n| <= 3e-3 + 1e-2 * max(|a|, |n|)`.

use std::collections::HashMap;

use ir::interp::{Bindings, eval};
use ir::op::{Conv2dAttrs, Padding, Pool2dAttrs, PoolKind};
use ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Shape, Tensor, UnaryOp};
use passes::PassError;
use passes::autodiff::grad;

const EPS: f32 = 1e-3;
const ABS_TOL: f32 = 3e-3;
const REL_TOL: f32 = 1e-2;

/// How a case's input values are drawn.
#[derive(Clone, Copy)]
enum Init {
    /// Uniform in `[lo, hi)`.
    Uniform(f32, f32),
    /// Magnitude in `[0.2, 1.5)` with a random sign: away from the kink at 0.
    AwayFromZero,
    /// `k + f` with integer `k` in `[-2, 2]` and `f` in `[0.2, 0.8)`: away from integers.
    Fractional,
    /// Distinct values `offset + 0.1 * k` in shuffled order: no two elements (and no two
    /// inputs with different offsets) within `0.05` of each other, so max/min/argmax/compare
    /// never tie within `eps`.
    Spaced(f32),
}

/// A small deterministic generator (64-bit LCG, top bits).
struct Lcg(u64);

impl Lcg {
    fn next_f32(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }

    fn below(&mut self, n: usize) -> usize {
        ((self.next_f32() * n as f32) as usize).min(n - 1)
    }

    fn tensor(&mut self, shape: impl Into<Shape>, init: Init) -> Tensor {
        let shape = shape.into();
        let n = shape.numel();
        let data = match init {
            Init::Uniform(lo, hi) => (0..n).map(|_| lo + (hi - lo) * self.next_f32()).collect(),
            Init::AwayFromZero => (0..n)
                .map(|_| {
                    let m = 0.2 + 1.3 * self.next_f32();
                    if self.next_f32() < 0.5 { -m } else { m }
                })
                .collect(),
            Init::Fractional => (0..n)
                .map(|_| self.below(5) as f32 - 2.0 + 0.2 + 0.6 * self.next_f32())
                .collect(),
            Init::Spaced(offset) => {
                let mut v: Vec<f32> = (0..n)
                    .map(|k| offset + 0.1 * (k as f32 - (n / 2) as f32))
                    .collect();
                for i in (1..n).rev() {
                    v.swap(i, self.below(i + 1));
                }
                v
            }
        };
        Tensor { shape, data }
    }
}

/// What a case builds into: the graph, its differentiable inputs and their values.
struct Ctx {
    g: Graph,
    wrt: Vec<NodeId>,
    values: Bindings,
    rng: Lcg,
}

impl Ctx {
    /// A differentiable input.
    fn input(&mut self, shape: impl Into<Shape>, init: Init) -> NodeId {
        let name = format!("x{}", self.wrt.len());
        let value = self.rng.tensor(shape, init);
        let id = self.g.input(name.clone(), value.shape.clone());
        self.values.insert(name, value);
        self.wrt.push(id);
        id
    }

    /// A constant (not differentiated).
    fn constant(&mut self, shape: impl Into<Shape>, init: Init) -> NodeId {
        let value = self.rng.tensor(shape, init);
        self.g.constant(value)
    }

    fn op(&mut self, op: Op, operands: &[NodeId]) -> NodeId {
        self.g.add(op, operands).unwrap()
    }
}

/// One gradient check: a name and a builder returning the node the loss is taken of.
struct Case {
    name: String,
    build: Box<dyn Fn(&mut Ctx) -> NodeId>,
}

fn case(name: impl Into<String>, build: impl Fn(&mut Ctx) -> NodeId + 'static) -> Case {
    Case {
        name: name.into(),
        build: Box::new(build),
    }
}

/// Build the case, take the gradient, and compare against finite differences.
fn check(case: &Case) {
    let seed = case.name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let mut ctx = Ctx {
        g: Graph::new(),
        wrt: Vec::new(),
        values: HashMap::new(),
        rng: Lcg(seed),
    };
    let out = (case.build)(&mut ctx);
    let weights = ctx.constant(ctx.g.shape(out).clone(), Init::Uniform(-1.0, 1.0));
    let weighted = ctx.op(Op::Binary(BinaryOp::Mul), &[out, weights]);
    let axes: Vec<usize> = (0..ctx.g.shape(out).rank()).collect();
    let loss = if axes.is_empty() {
        weighted
    } else {
        ctx.g.reduce(ReduceOp::Sum, weighted, &axes, false).unwrap()
    };

    let (gg, grads) =
        grad(&ctx.g, loss, &ctx.wrt).unwrap_or_else(|e| panic!("{}: grad failed: {e}", case.name));
    let analytic = eval(&gg, &ctx.values)
        .unwrap_or_else(|e| panic!("{}: evaluating the gradient graph: {e}", case.name));

    let loss_at = |values: &Bindings| eval(&ctx.g, values).unwrap()[loss.index()].data[0];
    for (&x, &dx) in ctx.wrt.iter().zip(&grads) {
        let name = match ctx.g.op(x) {
            Op::Input { name, .. } => name.clone(),
            _ => unreachable!("wrt nodes are inputs"),
        };
        let got = &analytic[dx.index()];
        assert_eq!(
            got.shape,
            *ctx.g.shape(x),
            "{}: gradient shape of {name}",
            case.name
        );
        let mut values = ctx.values.clone();
        for k in 0..got.data.len() {
            let base = ctx.values[&name].data[k];
            values.get_mut(&name).unwrap().data[k] = base + EPS;
            let up = loss_at(&values);
            values.get_mut(&name).unwrap().data[k] = base - EPS;
            let down = loss_at(&values);
            values.get_mut(&name).unwrap().data[k] = base;
            let numeric = (up - down) / (2.0 * EPS);
            let a = got.data[k];
            let tol = ABS_TOL + REL_TOL * a.abs().max(numeric.abs());
            assert!(
                (a - numeric).abs() <= tol,
                "{}: d loss / d {name}[{k}]: autodiff {a}, finite difference {numeric} (tolerance {tol})",
                case.name
            );
        }
    }
}

fn run_all(cases: &[Case]) {
    for c in cases {
        check(c);
    }
}

/// The input init that keeps each unary op away from its domain edges and kinks.
fn unary_init(u: UnaryOp) -> Init {
    use UnaryOp::*;
    match u {
        Log | Sqrt | Rsqrt | Recip | Log1p => Init::Uniform(0.5, 2.0),
        Abs | Relu | Sign => Init::AwayFromZero,
        Floor => Init::Fractional,
        Neg | Exp | Expm1 | Square | Sigmoid | Tanh | Erf => Init::Uniform(-1.5, 1.5),
    }
}

#[test]
fn every_unary_op() {
    let cases: Vec<Case> = UnaryOp::ALL
        .iter()
        .map(|&u| {
            case(u.name(), move |c| {
                let x = c.input([2, 3], unary_init(u));
                c.op(Op::Unary(u), &[x])
            })
        })
        .collect();
    run_all(&cases);
}

/// Inits for `a` and `b` of each binary op: positive divisors and bases, distinct values for
/// max/min/comparisons.
fn binary_inits(b: BinaryOp) -> (Init, Init) {
    use BinaryOp::*;
    match b {
        Add | Sub | Mul => (Init::Uniform(-1.0, 1.0), Init::Uniform(-1.0, 1.0)),
        Div => (Init::Uniform(-1.0, 1.0), Init::Uniform(0.5, 2.0)),
        Pow => (Init::Uniform(0.5, 2.0), Init::Uniform(-1.0, 2.0)),
        Max | Min | Eq | Ne | Lt | Le | Gt | Ge => (Init::Spaced(0.0), Init::Spaced(0.05)),
    }
}

#[test]
fn every_binary_op_with_broadcasting() {
    // Same shapes, `b` broadcast along the rows, and both operands broadcast.
    let layouts: [(&[usize], &[usize]); 3] =
        [(&[2, 3], &[2, 3]), (&[2, 3], &[3]), (&[2, 1], &[1, 3])];
    let mut cases = Vec::new();
    for &b in &BinaryOp::ALL {
        for (sa, sb) in layouts {
            let (ia, ib) = binary_inits(b);
            cases.push(case(format!("{} {sa:?} {sb:?}", b.name()), move |c| {
                let x = c.input(sa, ia);
                let y = c.input(sb, ib);
                c.op(Op::Binary(b), &[x, y])
            }));
        }
    }
    cases.push(case("mul by a scalar", |c| {
        let x = c.input([2, 3], Init::Uniform(-1.0, 1.0));
        let s = c.input(Shape::scalar(), Init::Uniform(0.5, 1.5));
        c.op(Op::Binary(BinaryOp::Mul), &[s, x])
    }));
    run_all(&cases);
}

#[test]
fn select_routes_by_condition() {
    run_all(&[
        case("select", |c| {
            let cond =
                c.g.constant(Tensor::new([2, 3], vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0]).unwrap());
            let a = c.input([2, 3], Init::Uniform(-1.0, 1.0));
            let b = c.input([3], Init::Uniform(-1.0, 1.0));
            c.op(Op::Select, &[cond, a, b])
        }),
        case("select broadcast cond", |c| {
            let cond = c.g.constant(Tensor::new([2, 1], vec![0.0, 1.0]).unwrap());
            let a = c.input([1, 3], Init::Uniform(-1.0, 1.0));
            let b = c.input([2, 3], Init::Uniform(-1.0, 1.0));
            c.op(Op::Select, &[cond, a, b])
        }),
    ]);
}

#[test]
fn every_reduction() {
    let mut cases = Vec::new();
    for op in [
        ReduceOp::Sum,
        ReduceOp::Mean,
        ReduceOp::Max,
        ReduceOp::Min,
        ReduceOp::ArgMax,
    ] {
        let variants: &[(&[usize], bool)] = if op == ReduceOp::ArgMax {
            &[(&[1], false), (&[2], true)]
        } else {
            &[(&[1], false), (&[0, 2], true), (&[0, 1, 2], false)]
        };
        for &(axes, keep) in variants {
            cases.push(case(
                format!("reduce.{} {axes:?} keep={keep}", op.name()),
                move |c| {
                    let x = c.input([2, 3, 4], Init::Spaced(0.0));
                    c.g.reduce(op, x, axes, keep).unwrap()
                },
            ));
        }
    }
    run_all(&cases);
}

#[test]
fn matmul_all_transposes_and_batches() {
    let mut cases = Vec::new();
    for batch in [vec![], vec![2]] {
        for ta in [false, true] {
            for tb in [false, true] {
                let (m, k, n) = (2, 3, 4);
                let mut sa = batch.clone();
                sa.extend(if ta { [k, m] } else { [m, k] });
                let mut sb = batch.clone();
                sb.extend(if tb { [n, k] } else { [k, n] });
                cases.push(case(
                    format!("matmul batch={batch:?} ta={ta} tb={tb}"),
                    move |c| {
                        let a = c.input(sa.as_slice(), Init::Uniform(-1.0, 1.0));
                        let b = c.input(sb.as_slice(), Init::Uniform(-1.0, 1.0));
                        c.g.matmul(a, b, ta, tb).unwrap()
                    },
                ));
            }
        }
    }
    run_all(&cases);
}

fn conv_variants() -> Vec<(&'static str, Conv2dAttrs)> {
    vec![
        (
            "valid",
            Conv2dAttrs {
                strides: [1, 1],
                dilation: [1, 1],
                padding: Padding::Valid,
            },
        ),
        (
            "same stride 2",
            Conv2dAttrs {
                strides: [2, 2],
                dilation: [1, 1],
                padding: Padding::Same,
            },
        ),
        // Kernel width 2, stride 2 over 5 columns: the last column is in no window (what a
        // transposed convolution's output_padding makes).
        (
            "valid stride 2 uncovered column",
            Conv2dAttrs {
                strides: [2, 2],
                dilation: [1, 1],
                padding: Padding::Valid,
            },
        ),
        (
            "explicit dilated",
            Conv2dAttrs {
                strides: [1, 2],
                dilation: [2, 1],
                padding: Padding::Explicit([1, 0, 0, 2]),
            },
        ),
    ]
}

/// A convolution op and its two backprops as constructors, with a filter shape to test at.
struct ConvFamily {
    name: &'static str,
    filter: [usize; 4],
    forward: fn(Conv2dAttrs) -> Op,
    backprop_input: fn(Conv2dAttrs, Shape) -> Op,
    backprop_filter: fn(Conv2dAttrs, Shape) -> Op,
}

const CONV_FAMILIES: [ConvFamily; 2] = [
    ConvFamily {
        name: "conv2d",
        filter: [3, 2, 2, 3],
        forward: Op::Conv2d,
        backprop_input: |attrs, input_shape| Op::Conv2dBackpropInput { attrs, input_shape },
        backprop_filter: |attrs, filter_shape| Op::Conv2dBackpropFilter {
            attrs,
            filter_shape,
        },
    },
    // Depthwise with multiplier 2: 2 input channels, 4 output channels.
    ConvFamily {
        name: "depthwise_conv2d",
        filter: [3, 2, 2, 2],
        forward: Op::DepthwiseConv2d,
        backprop_input: |attrs, input_shape| Op::DepthwiseConv2dBackpropInput {
            attrs,
            input_shape,
        },
        backprop_filter: |attrs, filter_shape| Op::DepthwiseConv2dBackpropFilter {
            attrs,
            filter_shape,
        },
    },
];

#[test]
fn convolutions_and_their_backprops() {
    let mut cases = Vec::new();
    for family in &CONV_FAMILIES {
        let (forward, backprop_input, backprop_filter) = (
            family.forward,
            family.backprop_input,
            family.backprop_filter,
        );
        for (name, attrs) in conv_variants() {
            let (xs, ws) = (Shape::from([2, 5, 5, 2]), Shape::from(family.filter));
            let ys = ir::infer::infer_shape(&forward(attrs), &[&xs, &ws]).unwrap();
            let (xs1, ws1) = (xs.clone(), ws.clone());
            cases.push(case(format!("{} {name}", family.name), move |c| {
                let x = c.input(xs1.clone(), Init::Uniform(-1.0, 1.0));
                let w = c.input(ws1.clone(), Init::Uniform(-1.0, 1.0));
                c.op(forward(attrs), &[x, w])
            }));
            let (xs2, ws2, ys2) = (xs.clone(), ws.clone(), ys.clone());
            cases.push(case(
                format!("{}_backprop_input {name}", family.name),
                move |c| {
                    let dy = c.input(ys2.clone(), Init::Uniform(-1.0, 1.0));
                    let w = c.input(ws2.clone(), Init::Uniform(-1.0, 1.0));
                    c.op(backprop_input(attrs, xs2.clone()), &[dy, w])
                },
            ));
            cases.push(case(
                format!("{}_backprop_filter {name}", family.name),
                move |c| {
                    let x = c.input(xs.clone(), Init::Uniform(-1.0, 1.0));
                    let dy = c.input(ys.clone(), Init::Uniform(-1.0, 1.0));
                    c.op(backprop_filter(attrs, ws.clone()), &[x, dy])
                },
            ));
        }
    }
    run_all(&cases);
}

#[test]
fn pooling_and_pool_grad() {
    let max = Pool2dAttrs {
        kind: PoolKind::Max,
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
    };
    let max_same = Pool2dAttrs {
        kind: PoolKind::Max,
        window: [3, 3],
        strides: [2, 2],
        padding: Padding::Same,
    };
    let avg = Pool2dAttrs {
        kind: PoolKind::Avg,
        window: [3, 3],
        strides: [2, 2],
        padding: Padding::Same,
    };
    let avg_valid = Pool2dAttrs {
        kind: PoolKind::Avg,
        window: [2, 3],
        strides: [1, 2],
        padding: Padding::Valid,
    };
    let mut cases = Vec::new();
    for (name, attrs) in [
        ("max valid", max),
        ("max same", max_same),
        ("avg same", avg),
        ("avg valid", avg_valid),
    ] {
        cases.push(case(format!("pool2d {name}"), move |c| {
            let x = c.input([2, 5, 5, 2], Init::Spaced(0.0));
            c.op(Op::Pool2d(attrs), &[x])
        }));
    }
    // Max pooling's pool2d_grad is differentiable in dy for non-overlapping windows.
    let max_same_tiled = Pool2dAttrs {
        kind: PoolKind::Max,
        window: [2, 2],
        strides: [2, 3],
        padding: Padding::Same,
    };
    for (name, attrs) in [
        ("avg same", avg),
        ("avg valid", avg_valid),
        ("max valid", max),
        ("max same tiled", max_same_tiled),
    ] {
        cases.push(case(format!("pool2d_grad {name}"), move |c| {
            let x = c.input([2, 5, 5, 2], Init::Spaced(0.0));
            let ys = ir::infer::pool2d_shape(c.g.shape(x), &attrs).unwrap();
            let dy = c.input(ys, Init::Uniform(-1.0, 1.0));
            c.op(Op::Pool2dGrad(attrs), &[x, dy])
        }));
    }
    run_all(&cases);
}

#[test]
fn data_movement_ops() {
    run_all(&[
        case("reshape", |c| {
            let x = c.input([2, 3, 2], Init::Uniform(-1.0, 1.0));
            c.op(Op::Reshape(Shape::from([3, 4])), &[x])
        }),
        case("transpose", |c| {
            let x = c.input([2, 3, 4], Init::Uniform(-1.0, 1.0));
            c.op(Op::Transpose(vec![2, 0, 1]), &[x])
        }),
        case("broadcast", |c| {
            let x = c.input([3, 1], Init::Uniform(-1.0, 1.0));
            c.op(Op::Broadcast(Shape::from([2, 3, 4])), &[x])
        }),
        case("slice", |c| {
            let x = c.input([4, 5], Init::Uniform(-1.0, 1.0));
            c.op(
                Op::Slice {
                    starts: vec![1, 0],
                    ends: vec![3, 4],
                },
                &[x],
            )
        }),
        case("concat", |c| {
            let a = c.input([2, 1, 3], Init::Uniform(-1.0, 1.0));
            let b = c.input([2, 2, 3], Init::Uniform(-1.0, 1.0));
            let d = c.input([2, 3, 3], Init::Uniform(-1.0, 1.0));
            c.op(Op::Concat { axis: 1 }, &[a, b, d])
        }),
        case("concat of one operand used twice", |c| {
            let a = c.input([2, 3], Init::Uniform(-1.0, 1.0));
            c.op(Op::Concat { axis: 0 }, &[a, a])
        }),
        case("pad", |c| {
            let x = c.input([2, 3], Init::Uniform(-1.0, 1.0));
            c.op(
                Op::Pad {
                    before: vec![1, 0],
                    after: vec![2, 1],
                    value: 0.5,
                },
                &[x],
            )
        }),
        case("random_uniform seed", |c| {
            let seed = c.input(Shape::scalar(), Init::Uniform(5.3, 5.7));
            let r = c.op(Op::RandomUniform(Shape::from([2, 3])), &[seed]);
            let x = c.input([2, 3], Init::Uniform(-1.0, 1.0));
            c.op(Op::Binary(BinaryOp::Mul), &[r, x])
        }),
    ]);
}

/// `sum(grad_x(sum(inner(x) * w)) * w2)`: the gradient graph differentiated again.
fn double_backward(
    c: &mut Ctx,
    inner: impl Fn(&mut Ctx, &[NodeId]) -> NodeId,
    n_inputs: usize,
) -> NodeId {
    let out = inner(c, &c.wrt.clone()[c.wrt.len() - n_inputs..]);
    let w = c.constant(c.g.shape(out).clone(), Init::Uniform(-1.0, 1.0));
    let weighted = c.op(Op::Binary(BinaryOp::Mul), &[out, w]);
    let axes: Vec<usize> = (0..c.g.shape(out).rank()).collect();
    let loss = c.g.reduce(ReduceOp::Sum, weighted, &axes, false).unwrap();
    let (g2, grads) = grad(&c.g, loss, &c.wrt).unwrap();
    c.g = g2;
    let parts: Vec<NodeId> = grads
        .iter()
        .map(|&d| {
            let rank = c.g.shape(d).rank();
            c.g.reduce(ReduceOp::Sum, d, &(0..rank).collect::<Vec<_>>(), false)
                .unwrap()
        })
        .collect();
    parts
        .into_iter()
        .reduce(|a, b| c.op(Op::Binary(BinaryOp::Add), &[a, b]))
        .unwrap()
}

#[test]
fn double_backward_through_elementwise_matmul_and_reduce_rules() {
    run_all(&[
        case("d2 tanh*x", |c| {
            c.input([2, 3], Init::Uniform(-1.0, 1.0));
            double_backward(
                c,
                |c, x| {
                    let t = c.op(Op::Unary(UnaryOp::Tanh), &[x[0]]);
                    c.op(Op::Binary(BinaryOp::Mul), &[t, x[0]])
                },
                1,
            )
        }),
        case("d2 matmul", |c| {
            c.input([2, 3], Init::Uniform(-1.0, 1.0));
            c.input([4, 3], Init::Uniform(-1.0, 1.0));
            double_backward(
                c,
                |c, x| {
                    let m = c.g.matmul(x[0], x[1], false, true).unwrap();
                    c.op(Op::Unary(UnaryOp::Square), &[m])
                },
                2,
            )
        }),
        case("d2 reduce.max and divide", |c| {
            c.input([3, 4], Init::Spaced(1.5));
            double_backward(
                c,
                |c, x| {
                    let m = c.g.reduce(ReduceOp::Max, x[0], &[1], true).unwrap();
                    c.op(Op::Binary(BinaryOp::Div), &[x[0], m])
                },
                1,
            )
        }),
    ]);
}

#[test]
fn double_backward_through_convolution_and_pooling_rules() {
    let conv = Conv2dAttrs {
        strides: [2, 1],
        dilation: [1, 1],
        padding: Padding::Same,
    };
    run_all(&[
        case("d2 conv2d", move |c| {
            c.input([1, 4, 4, 2], Init::Uniform(-1.0, 1.0));
            c.input([2, 2, 2, 2], Init::Uniform(-1.0, 1.0));
            double_backward(
                c,
                move |c, x| {
                    let y = c.op(Op::Conv2d(conv), &[x[0], x[1]]);
                    c.op(Op::Unary(UnaryOp::Square), &[y])
                },
                2,
            )
        }),
        case("d2 depthwise_conv2d", move |c| {
            c.input([1, 4, 4, 2], Init::Uniform(-1.0, 1.0));
            c.input([2, 2, 2, 3], Init::Uniform(-1.0, 1.0));
            double_backward(
                c,
                move |c, x| {
                    let y = c.op(Op::DepthwiseConv2d(conv), &[x[0], x[1]]);
                    c.op(Op::Unary(UnaryOp::Square), &[y])
                },
                2,
            )
        }),
        case("d2 max pool", |c| {
            c.input([1, 4, 6, 2], Init::Spaced(0.0));
            double_backward(
                c,
                |c, x| {
                    let pool = Pool2dAttrs {
                        kind: PoolKind::Max,
                        window: [2, 3],
                        strides: [2, 3],
                        padding: Padding::Valid,
                    };
                    let p = c.op(Op::Pool2d(pool), &[x[0]]);
                    c.op(Op::Unary(UnaryOp::Square), &[p])
                },
                1,
            )
        }),
    ]);
}

/// `mean_rows(-sum(onehot * log_softmax(logits)))` built from primitives.
fn softmax_cross_entropy(c: &mut Ctx, logits: NodeId, labels: &[usize]) -> NodeId {
    let s = c.g.shape(logits).clone();
    let (rows, classes) = (s.0[0], s.0[1]);
    let mut onehot = Tensor::zeros([rows, classes]);
    for (r, &l) in labels.iter().enumerate() {
        onehot.data[r * classes + l] = 1.0;
    }
    let onehot = c.g.constant(onehot);
    let m = c.g.reduce(ReduceOp::Max, logits, &[1], true).unwrap();
    let z = c.op(Op::Binary(BinaryOp::Sub), &[logits, m]);
    let e = c.op(Op::Unary(UnaryOp::Exp), &[z]);
    let se = c.g.reduce(ReduceOp::Sum, e, &[1], true).unwrap();
    let lse = c.op(Op::Unary(UnaryOp::Log), &[se]);
    let logp = c.op(Op::Binary(BinaryOp::Sub), &[z, lse]);
    let picked = c.op(Op::Binary(BinaryOp::Mul), &[onehot, logp]);
    let per_row = c.g.reduce(ReduceOp::Sum, picked, &[1], false).unwrap();
    let mean = c.g.reduce(ReduceOp::Mean, per_row, &[0], false).unwrap();
    c.op(Op::Unary(UnaryOp::Neg), &[mean])
}

/// `relu(x @ w + b)`.
fn dense(c: &mut Ctx, x: NodeId, w: NodeId, b: NodeId, relu: bool) -> NodeId {
    let m = c.g.matmul(x, w, false, false).unwrap();
    let y = c.op(Op::Binary(BinaryOp::Add), &[m, b]);
    if relu {
        c.op(Op::Unary(UnaryOp::Relu), &[y])
    } else {
        y
    }
}

#[test]
fn mlp_with_softmax_cross_entropy() {
    run_all(&[case("mlp", |c| {
        let x = c.constant([4, 5], Init::Uniform(-1.0, 1.0));
        let w1 = c.input([5, 8], Init::Uniform(-0.7, 0.7));
        let b1 = c.input([8], Init::Uniform(-0.1, 0.1));
        let w2 = c.input([8, 3], Init::Uniform(-0.7, 0.7));
        let b2 = c.input([3], Init::Uniform(-0.1, 0.1));
        let h = dense(c, x, w1, b1, true);
        let logits = dense(c, h, w2, b2, false);
        softmax_cross_entropy(c, logits, &[0, 2, 1, 2])
    })]);
}

#[test]
fn conv_pool_net() {
    let cases: Vec<Case> = [PoolKind::Avg, PoolKind::Max]
        .into_iter()
        .map(|kind| {
            case(format!("conv net {kind:?} pool"), move |c| {
                let x = c.constant([2, 6, 6, 1], Init::Uniform(-1.0, 1.0));
                let f = c.input([3, 3, 1, 4], Init::Uniform(-0.7, 0.7));
                let fb = c.input([4], Init::Uniform(-0.1, 0.1));
                let w = c.input([36, 3], Init::Uniform(-0.5, 0.5));
                let b = c.input([3], Init::Uniform(-0.1, 0.1));
                let conv = c.op(
                    Op::Conv2d(Conv2dAttrs {
                        strides: [1, 1],
                        dilation: [1, 1],
                        padding: Padding::Same,
                    }),
                    &[x, f],
                );
                let biased = c.op(Op::Binary(BinaryOp::Add), &[conv, fb]);
                let act = c.op(Op::Unary(UnaryOp::Tanh), &[biased]);
                let pool = Pool2dAttrs {
                    kind,
                    window: [2, 2],
                    strides: [2, 2],
                    padding: Padding::Valid,
                };
                let pooled = c.op(Op::Pool2d(pool), &[act]);
                let flat = c.g.reshape(pooled, [2, 36]).unwrap();
                let logits = dense(c, flat, w, b, false);
                softmax_cross_entropy(c, logits, &[1, 2])
            })
        })
        .collect();
    run_all(&cases);
}

/// Analytic gradient values of a graph at `values`.
fn gradient_values(g: &Graph, loss: NodeId, wrt: &[NodeId], values: &Bindings) -> Vec<Tensor> {
    let (gg, grads) = grad(g, loss, wrt).unwrap();
    let all = eval(&gg, values).unwrap();
    grads.iter().map(|d| all[d.index()].clone()).collect()
}

#[test]
fn ties_follow_the_documented_convention() {
    let mut g = Graph::new();
    let a = g.input("a", [4]);
    let b = g.input("b", [4]);
    let mx = g.binary(BinaryOp::Max, a, b).unwrap();
    let mn = g.binary(BinaryOp::Min, a, b).unwrap();
    let both = g.binary(BinaryOp::Add, mx, mn).unwrap();
    let loss = g.reduce(ReduceOp::Sum, both, &[0], false).unwrap();
    let values: Bindings = [
        (
            "a".to_string(),
            Tensor::new([4], vec![1.0, 2.0, 3.0, 0.0]).unwrap(),
        ),
        (
            "b".to_string(),
            Tensor::new([4], vec![1.0, 0.0, 5.0, 0.0]).unwrap(),
        ),
    ]
    .into();
    // Binary max/min: a tie sends the whole gradient to `a` (both max and min: 2 to `a`).
    let d = gradient_values(&g, loss, &[a, b], &values);
    assert_eq!(d[0].data, vec![2.0, 1.0, 1.0, 2.0]);
    assert_eq!(d[1].data, vec![0.0, 1.0, 1.0, 0.0]);

    // Reduce max/min: the gradient is split evenly among tied elements.
    let mut g = Graph::new();
    let x = g.input("x", [2, 3]);
    let m = g.reduce(ReduceOp::Max, x, &[1], false).unwrap();
    let loss = g.reduce(ReduceOp::Sum, m, &[0], false).unwrap();
    let values: Bindings = [(
        "x".to_string(),
        Tensor::new([2, 3], vec![4.0, 1.0, 4.0, 7.0, 7.0, 7.0]).unwrap(),
    )]
    .into();
    let d = gradient_values(&g, loss, &[x], &values);
    let third = 1.0 / 3.0;
    assert_eq!(d[0].data, vec![0.5, 0.0, 0.5, third, third, third]);
}

#[test]
fn pow_base_gradient_is_zero_where_the_base_is_not_positive() {
    let mut g = Graph::new();
    let a = g.input("a", [2]);
    let b = g.input("b", [2]);
    let p = g.binary(BinaryOp::Pow, a, b).unwrap();
    let loss = g.reduce(ReduceOp::Sum, p, &[0], false).unwrap();
    let values: Bindings = [
        ("a".to_string(), Tensor::new([2], vec![-2.0, 0.0]).unwrap()),
        ("b".to_string(), Tensor::new([2], vec![2.0, 3.0]).unwrap()),
    ]
    .into();
    let d = gradient_values(&g, loss, &[a, b], &values);
    // d/da of a^b = b a^(b-1): 2 * -2 = -4, 3 * 0 = 0; d/db is taken as 0 for a <= 0.
    assert_eq!(d[0].data, vec![-4.0, 0.0]);
    assert_eq!(d[1].data, vec![0.0, 0.0]);
}

#[test]
fn max_pool_double_backward_with_overlapping_windows_is_a_clear_error() {
    let attrs = Pool2dAttrs {
        kind: PoolKind::Max,
        window: [3, 3],
        strides: [2, 2],
        padding: Padding::Valid,
    };
    let mut g = Graph::new();
    let x = g.input("x", [1, 5, 5, 1]);
    let dy = g.input("dy", [1, 2, 2, 1]);
    let pg = g.add(Op::Pool2dGrad(attrs), &[x, dy]).unwrap();
    let loss = g.reduce(ReduceOp::Sum, pg, &[0, 1, 2, 3], false).unwrap();
    let err = grad(&g, loss, &[dy]).unwrap_err();
    assert!(
        matches!(&err, PassError::Autodiff(m) if m.contains(&pg.to_string()) && m.contains("non-overlapping")),
        "{err}"
    );
    // With respect to `x` alone it is piecewise constant: a zero gradient, no error.
    let d = gradient_values(
        &g,
        loss,
        &[x],
        &[
            ("x".to_string(), Tensor::zeros([1, 5, 5, 1])),
            ("dy".to_string(), Tensor::zeros([1, 2, 2, 1])),
        ]
        .into(),
    );
    assert!(d[0].data.iter().all(|&v| v == 0.0));
}

/// A constant of ids (held fixed: ids get no gradient): repeated ids, one invalid.
fn id_constant(c: &mut Ctx, ids: &[f32], shape: &[usize]) -> NodeId {
    c.g.constant(Tensor::new(Shape::new(shape.to_vec()), ids.to_vec()).unwrap())
}

#[test]
fn gather_and_scatter_add() {
    run_all(&[
        case("gather rows by repeated ids", |c| {
            let table = c.input([5, 3], Init::Uniform(-1.0, 1.0));
            let ids = id_constant(c, &[4.0, 0.0, 4.0, 2.0, 7.0, 0.0], &[2, 3]);
            c.op(Op::Gather, &[table, ids])
        }),
        case("scatter_add of updates", |c| {
            let ids = id_constant(c, &[1.0, 3.0, 1.0, -1.0], &[4]);
            let updates = c.input([4, 2], Init::Uniform(-1.0, 1.0));
            c.op(Op::ScatterAdd { rows: 4 }, &[ids, updates])
        }),
        case("d2 gather squared", |c| {
            c.input([4, 2], Init::Uniform(-1.0, 1.0));
            double_backward(
                c,
                |c, x| {
                    let ids = id_constant(c, &[3.0, 3.0, 1.0], &[3]);
                    let rows = c.op(Op::Gather, &[x[0], ids]);
                    c.op(Op::Unary(UnaryOp::Square), &[rows])
                },
                1,
            )
        }),
    ]);
}

//! Random small graphs from fuzz bytes: [`generate`] reads the bytes as choices (a byte
//! past the end reads as 0, so every input is a graph) and builds a graph over rank-2
//! values of one shape `[r, c]` (`r, c` in 1..=4) and its broadcast forms `[r, 1]`,
//! `[1, c]`: every elementwise op, select, reductions (with and without kept axes, argmax),
//! matmul, conv2d, depthwise conv2d and pooling (over the value as a `[1, r, c, 1]` image),
//! transpose, slice, pad, concat, broadcast and reshape; in training mode its leaves are
//! parameters, autodiff appends the gradient of the sum of the last value and an SGD update.
//!
//! Inputs are kept where both backends must agree to the tolerance: ops with a restricted
//! domain get one (`log(|x| + 0.5)`, `1 / (|x| + 0.5)`, `exp(tanh x)`, …) and ops that are
//! discontinuous (`sign`, `floor`, comparisons, select's condition, argmax) read leaves only,
//! whose values are exact on both sides. It does NOT run anything (see the parent module).

use ir::interp::Bindings;
use ir::{
    BinaryOp, Conv2dAttrs, Graph, IrError, NodeId, Op, Padding, Pool2dAttrs, PoolKind, ReduceOp,
    Shape, Tensor, UnaryOp,
};

/// The choices a fuzz input makes, one byte at a time.
struct Choices<'a> {
    data: &'a [u8],
    at: usize,
}

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn below(&mut self, n: usize) -> usize {
        self.byte() as usize % n
    }
}

/// A value of the graph being built: its node and whether it is a leaf (exact values).
#[derive(Clone, Copy)]
struct Value {
    id: NodeId,
    leaf: bool,
}

/// A generated case: the graph, values for its leaves, and how many steps to compare.
pub struct Case {
    /// The graph (outputs `y`, in training mode also `loss`, and updates).
    pub graph: Graph,
    /// Values for every input and parameter, in `[-2, 2)`.
    pub bindings: Bindings,
    /// Steps to run (2 in training mode: the second step sees the updated parameters).
    pub steps: usize,
}

/// The graph builder: the graph, the values so far and the common shape.
struct Builder<'a> {
    g: Graph,
    values: Vec<Value>,
    rows: usize,
    cols: usize,
    choices: Choices<'a>,
    train: bool,
    leaves: Vec<NodeId>,
}

impl Builder<'_> {
    /// A new leaf of `shape` (a parameter in training mode, else an input).
    fn leaf(&mut self, shape: &[usize]) -> NodeId {
        let name = format!("v{}", self.leaves.len());
        let id = if self.train {
            self.g.param(name, shape)
        } else {
            self.g.input(name, shape)
        };
        self.leaves.push(id);
        id
    }

    fn pick(&mut self, leaf_only: bool) -> NodeId {
        let pool: Vec<NodeId> = self
            .values
            .iter()
            .filter(|v| v.leaf || !leaf_only)
            .map(|v| v.id)
            .collect();
        pool[self.choices.below(pool.len())]
    }

    fn shape(&self, id: NodeId) -> Vec<usize> {
        self.g.shape(id).dims().to_vec()
    }

    fn un(&mut self, op: UnaryOp, x: NodeId) -> Result<NodeId, IrError> {
        self.g.unary(op, x)
    }

    fn bin(&mut self, op: BinaryOp, a: NodeId, b: NodeId) -> Result<NodeId, IrError> {
        self.g.binary(op, a, b)
    }

    /// `|x| + 0.5`: a positive operand, at least 0.5.
    fn positive(&mut self, x: NodeId) -> Result<NodeId, IrError> {
        let a = self.un(UnaryOp::Abs, x)?;
        let half = self.g.scalar(0.5);
        self.bin(BinaryOp::Add, a, half)
    }

    /// A unary op with its domain kept.
    fn unary(&mut self) -> Result<NodeId, IrError> {
        let op = UnaryOp::ALL[self.choices.below(UnaryOp::ALL.len())];
        match op {
            UnaryOp::Sign | UnaryOp::Floor => {
                let x = self.pick(true);
                self.un(op, x)
            }
            UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Rsqrt | UnaryOp::Recip => {
                let x = self.pick(false);
                let p = self.positive(x)?;
                self.un(op, p)
            }
            UnaryOp::Exp | UnaryOp::Expm1 | UnaryOp::Log1p => {
                let x = self.pick(false);
                let t = self.un(UnaryOp::Tanh, x)?;
                self.un(op, t)
            }
            _ => {
                let x = self.pick(false);
                self.un(op, x)
            }
        }
    }

    /// A binary op (with broadcasting) with its domain kept.
    fn binary(&mut self) -> Result<NodeId, IrError> {
        let op = BinaryOp::ALL[self.choices.below(BinaryOp::ALL.len())];
        let comparison = matches!(
            op,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        );
        let (a, b) = (self.pick(comparison), self.pick(comparison));
        match op {
            BinaryOp::Div => {
                let d = self.positive(b)?;
                self.bin(op, a, d)
            }
            BinaryOp::Pow => {
                let base = self.positive(a)?;
                let e = self.un(UnaryOp::Tanh, b)?;
                self.bin(op, base, e)
            }
            _ => self.bin(op, a, b),
        }
    }

    /// A reduction over one or both axes, kept or not (then broadcast back to `[r, c]`).
    fn reduce(&mut self) -> Result<NodeId, IrError> {
        let op = [
            ReduceOp::Sum,
            ReduceOp::Mean,
            ReduceOp::Max,
            ReduceOp::Min,
            ReduceOp::ArgMax,
        ][self.choices.below(5)];
        let x = self.pick(op == ReduceOp::ArgMax);
        let shape = self.shape(x);
        let axis = self.choices.below(2);
        let (axes, keep) = match (op, self.choices.below(3)) {
            (ReduceOp::ArgMax, _) | (_, 0) => (vec![axis], self.choices.below(2) == 0),
            (_, 1) => (vec![axis], true),
            _ => (vec![0, 1], true),
        };
        let r = self.g.reduce(op, x, &axes, keep)?;
        if keep {
            return Ok(r);
        }
        let mut kept = shape.clone();
        kept[axis] = 1;
        self.g.reshape(r, kept.as_slice())
    }

    /// `x` (made `[r, c]`) times a new `[c, c]` leaf, transposed or not.
    fn matmul(&mut self) -> Result<NodeId, IrError> {
        let x = self.full(false)?;
        let c = self.cols;
        let w = self.leaf(&[c, c]);
        let t = self.choices.below(2) == 1;
        self.g.matmul(x, w, false, t)
    }

    /// `x` broadcast to `[r, c]`.
    fn full(&mut self, leaf_only: bool) -> Result<NodeId, IrError> {
        let x = self.pick(leaf_only);
        if self.shape(x) == [self.rows, self.cols] {
            return Ok(x);
        }
        self.g
            .add(Op::Broadcast(Shape::new(vec![self.rows, self.cols])), &[x])
    }
}

impl Builder<'_> {
    /// A convolution, depthwise convolution or pooling of `x` as a `[1, r, c, 1]` image,
    /// `same` padding and stride 1 (so the result is `[r, c]` again); dilation 1 or 2.
    fn window(&mut self) -> Result<NodeId, IrError> {
        let x = self.full(false)?;
        let (r, c) = (self.rows, self.cols);
        let image = self.g.reshape(x, [1, r, c, 1])?;
        let (kh, kw) = (1 + self.choices.below(3), 1 + self.choices.below(3));
        let attrs = Conv2dAttrs {
            strides: [1, 1],
            dilation: [1, 1 + self.choices.below(2)],
            padding: Padding::Same,
        };
        let y = match self.choices.below(4) {
            0 => {
                let k = self.leaf(&[kh, kw, 1, 1]);
                self.g.add(Op::Conv2d(attrs), &[image, k])?
            }
            1 => {
                let k = self.leaf(&[kh, kw, 1, 1]);
                self.g.add(Op::DepthwiseConv2d(attrs), &[image, k])?
            }
            kind => {
                let pool = Pool2dAttrs {
                    kind: if kind == 2 {
                        PoolKind::Max
                    } else {
                        PoolKind::Avg
                    },
                    window: [kh, kw],
                    strides: [1, 1],
                    padding: Padding::Same,
                };
                self.g.add(Op::Pool2d(pool), &[image])?
            }
        };
        self.g.reshape(y, [r, c])
    }

    /// Transpose (square values), slice-and-pad, or concat-and-slice back to `[r, c]`.
    fn movement(&mut self) -> Result<NodeId, IrError> {
        let x = self.full(false)?;
        let (r, c) = (self.rows, self.cols);
        match self.choices.below(3) {
            0 if r == c => self.g.add(Op::Transpose(vec![1, 0]), &[x]),
            1 if r > 1 => {
                let s = self.g.add(
                    Op::Slice {
                        starts: vec![1, 0],
                        ends: vec![r, c],
                    },
                    &[x],
                )?;
                let value = f32::from(self.choices.byte()) / 64.0 - 2.0;
                self.g.add(
                    Op::Pad {
                        before: vec![0, 0],
                        after: vec![1, 0],
                        value,
                    },
                    &[s],
                )
            }
            _ => {
                let y = self.full(false)?;
                let both = self.g.add(Op::Concat { axis: 1 }, &[x, y])?;
                let from = self.choices.below(c + 1);
                self.g.add(
                    Op::Slice {
                        starts: vec![0, from],
                        ends: vec![r, from + c],
                    },
                    &[both],
                )
            }
        }
    }

    /// `select(cond, a, b)`, the condition a comparison of leaves.
    fn select(&mut self) -> Result<NodeId, IrError> {
        let (l, m) = (self.pick(true), self.pick(true));
        let cond = self.bin(BinaryOp::Gt, l, m)?;
        let (a, b) = (self.pick(false), self.pick(false));
        self.g.add(Op::Select, &[cond, a, b])
    }

    /// One more value, of a kind the input picks.
    fn step(&mut self) -> Result<NodeId, IrError> {
        match self.choices.below(7) {
            0 | 1 => self.unary(),
            2 | 3 => self.binary(),
            4 => self.reduce(),
            5 => match self.choices.below(3) {
                0 => self.matmul(),
                1 => self.window(),
                _ => self.select(),
            },
            _ => self.movement(),
        }
    }
}

/// Leaf shapes: the full shape and both broadcast forms.
fn leaf_shapes(rows: usize, cols: usize) -> [Vec<usize>; 3] {
    [vec![rows, cols], vec![rows, 1], vec![1, cols]]
}

/// The case `data` describes, or `None` when autodiff cannot differentiate it.
pub fn generate(data: &[u8]) -> Option<Case> {
    let mut choices = Choices { data, at: 0 };
    let header = choices.byte();
    let (rows, cols) = (1 + (header & 3) as usize, 1 + ((header >> 2) & 3) as usize);
    let train = header & 0x10 != 0;
    let ops = 1 + choices.below(12);
    let mut b = Builder {
        g: Graph::new(),
        values: Vec::new(),
        rows,
        cols,
        choices,
        train,
        leaves: Vec::new(),
    };
    for shape in leaf_shapes(rows, cols) {
        let id = b.leaf(&shape);
        b.values.push(Value { id, leaf: true });
    }
    for _ in 0..ops {
        if let Ok(id) = b.step() {
            b.values.push(Value { id, leaf: false });
        }
    }
    let last = b.full(false).ok()?;
    b.g.add_output("y", last).ok()?;
    let steps = if train {
        add_training(&mut b.g, last, &b.leaves)?
    } else {
        1
    };
    let seed = u32::from_le_bytes([header, data.len() as u8, 0x4b, 0x1f]);
    let bindings = bind(&b.g, seed);
    Some(Case {
        graph: b.g,
        bindings,
        steps,
    })
}

/// Appends `loss = sum(y)`, its gradients and SGD updates of every leaf; the steps to run.
fn add_training(g: &mut Graph, y: NodeId, leaves: &[NodeId]) -> Option<usize> {
    let loss = g.reduce(ReduceOp::Sum, y, &[0, 1], false).ok()?;
    g.add_output("loss", loss).ok()?;
    let (mut t, grads) = passes::autodiff::grad(g, loss, leaves).ok()?;
    let lr = t.scalar(0.1);
    for (&p, d) in leaves.iter().zip(grads) {
        let step = t.binary(BinaryOp::Mul, d, lr).ok()?;
        let new = t.binary(BinaryOp::Sub, p, step).ok()?;
        t.add_update(p, new).ok()?;
    }
    *g = t;
    Some(2)
}

/// Values in `[-2, 2)` for every input and parameter of `graph`.
fn bind(graph: &Graph, seed: u32) -> Bindings {
    graph
        .node_ids()
        .filter_map(|id| match graph.op(id) {
            Op::Input { name, shape } | Op::Param { name, shape } => {
                let n = shape.numel();
                let values = (0..n as u32)
                    .map(|i| -2.0 + 4.0 * ir::random::uniform(seed ^ id.index() as u32, i))
                    .collect();
                Some((name.clone(), Tensor::new(shape.clone(), values)?))
            }
            _ => None,
        })
        .collect()
}

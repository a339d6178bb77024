//! Constant folding at import: a small evaluator over [`Const`] tensors for every op whose
//! inputs are all known (initializers, `Constant` nodes, shapes fixed at import). It is not
//! tied to one exporter: whatever subgraph computes a shape, an axis list, a clip bound or a
//! bias from constants is evaluated here, and only what depends on the model input becomes
//! layers. Movement ops carry each element's [`Mark`] (the batch size stays recognisable);
//! arithmetic on a batch-derived value marks the result [`Mark::FromBatch`]. Every output's
//! size is checked against a limit before it is allocated. It does not map layers.

use super::attrs::NodeCtx;
use super::error::ImportResult;
use super::tensor::{Const, Data, Mark, dtype};

/// Op types this evaluator computes when all their inputs are known.
pub(crate) const FOLDABLE: &[&str] = &[
    "Constant",
    "Identity",
    "Dropout",
    "Shape",
    "Size",
    "Gather",
    "Concat",
    "Unsqueeze",
    "Squeeze",
    "Expand",
    "Cast",
    "CastLike",
    "ConstantOfShape",
    "Reshape",
    "Slice",
    "Range",
    "Flatten",
    "Transpose",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Max",
    "Min",
    "Pow",
    "Equal",
    "Less",
    "Greater",
    "Where",
    "Neg",
    "Abs",
    "Sqrt",
    "Relu",
    "Floor",
    "Ceil",
    "Not",
    "Reciprocal",
];

/// Row-major strides of `dims`.
pub(crate) fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

/// NumPy broadcasting of two shapes.
pub(crate) fn broadcast_dims(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    (0..rank)
        .map(|i| {
            let da = (i + a.len()).checked_sub(rank).map_or(1, |j| a[j]);
            let db = (i + b.len()).checked_sub(rank).map_or(1, |j| b[j]);
            match (da, db) {
                (x, y) if x == y => Some(x),
                (1, y) => Some(y),
                (x, 1) => Some(x),
                _ => None,
            }
        })
        .collect()
}

/// For each element of `out` (row-major), the flat index of the element of an input of
/// dims `inp` that broadcasts to it.
pub(crate) fn broadcast_index(out: &[usize], inp: &[usize]) -> Vec<usize> {
    let n: usize = out.iter().product();
    let (os, is) = (strides(out), strides(inp));
    let off = out.len() - inp.len();
    (0..n)
        .map(|flat| {
            (0..inp.len())
                .map(|j| {
                    let coord = (flat / os[j + off]) % out[j + off];
                    if inp[j] == 1 { 0 } else { coord * is[j] }
                })
                .sum()
        })
        .collect()
}

/// The elements of `src` at `idx`, as a tensor of `dims` (marks follow their elements).
pub(crate) fn take(src: &Const, idx: &[usize], dims: Vec<usize>) -> Const {
    let data = match &src.data {
        Data::F32(v) => Data::F32(idx.iter().map(|&i| v[i]).collect()),
        Data::I64(v) => Data::I64(idx.iter().map(|&i| v[i]).collect()),
    };
    let marks = if src.marks.is_empty() {
        Vec::new()
    } else {
        idx.iter().map(|&i| src.marks[i]).collect()
    };
    Const { dims, data, marks }
}

/// The evaluator's context: the node and the element limit.
pub(crate) struct Folder<'a> {
    /// The node being evaluated.
    pub ctx: NodeCtx<'a>,
    /// The most elements one folded tensor may have.
    pub limit: usize,
}

impl Folder<'_> {
    /// Refuses an output of `dims` over the limit (or overflowing) before it is allocated.
    fn check_size(&self, dims: &[usize]) -> ImportResult<usize> {
        let n = dims
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .filter(|&n| n <= self.limit);
        n.ok_or_else(|| {
            self.ctx.error(format!(
                "a constant of shape {dims:?} is larger than this file justifies (at most {} \
                 elements)",
                self.limit
            ))
        })
    }

    /// A normalised axis of a rank-`rank` tensor.
    pub(crate) fn axis(&self, axis: i64, rank: usize) -> ImportResult<usize> {
        let r = rank as i64;
        let a = if axis < 0 { axis + r } else { axis };
        if (0..r).contains(&a) {
            Ok(a as usize)
        } else {
            Err(self
                .ctx
                .error(format!("axis {axis} is out of range for rank {rank}")))
        }
    }

    /// Input `i`, required.
    fn arg<'c>(&self, ins: &[Option<&'c Const>], i: usize) -> ImportResult<&'c Const> {
        ins.get(i)
            .copied()
            .flatten()
            .ok_or_else(|| self.ctx.error(format!("input {i} is missing")))
    }

    /// Evaluates the node on known inputs; one tensor per output.
    pub(crate) fn eval(&self, ins: &[Option<&Const>]) -> ImportResult<Vec<Const>> {
        let op = self.ctx.op();
        let out = match op {
            "Identity" | "Dropout" => self.arg(ins, 0)?.clone(),
            "Cast" => self.cast(self.arg(ins, 0)?, self.ctx.int_or("to", 1) as i32),
            "CastLike" => {
                let like = self.arg(ins, 1)?;
                let to = match like.data {
                    Data::F32(_) => dtype::FLOAT,
                    Data::I64(_) => dtype::INT64,
                };
                self.cast(self.arg(ins, 0)?, to)
            }
            "Shape" => self.shape_of(&self.arg(ins, 0)?.dims.clone(), &[])?,
            "Size" => Const::i64(Vec::new(), vec![self.arg(ins, 0)?.len() as i64]),
            "Gather" => self.gather(self.arg(ins, 0)?, self.arg(ins, 1)?)?,
            "Concat" => self.concat(ins)?,
            "Unsqueeze" | "Squeeze" => self.squeeze(ins)?,
            "Expand" => self.expand(self.arg(ins, 0)?, self.arg(ins, 1)?)?,
            "ConstantOfShape" => self.constant_of_shape(self.arg(ins, 0)?)?,
            "Reshape" | "Flatten" => self.reshape(ins)?,
            "Transpose" => self.transpose(self.arg(ins, 0)?)?,
            "Slice" => self.slice(ins)?,
            "Range" => self.range(ins)?,
            "Where" => self.select(ins)?,
            _ => self.elementwise(op, ins)?,
        };
        Ok(vec![out])
    }

    /// `Shape` of a tensor of `dims` whose per-element marks are `marks` (the `start`/`end`
    /// attributes of opset 15 applied).
    pub(crate) fn shape_of(&self, dims: &[usize], marks: &[Mark]) -> ImportResult<Const> {
        let r = dims.len() as i64;
        let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
        let start = clamp(self.ctx.int_or("start", 0));
        let end = clamp(self.ctx.int_or("end", r)).max(start);
        let data = dims[start..end].iter().map(|&d| d as i64).collect();
        let mut out = Const::i64(vec![end - start], data);
        if !marks.is_empty() {
            out.marks = marks[start..end].to_vec();
        }
        Ok(out)
    }

    /// `Cast` to ONNX element type `to`.
    fn cast(&self, x: &Const, to: i32) -> Const {
        let data = match to {
            dtype::FLOAT | dtype::DOUBLE | 10 | 16 => Data::F32(x.to_f32()),
            dtype::BOOL => Data::I64(x.to_f32().iter().map(|&v| i64::from(v != 0.0)).collect()),
            _ => Data::I64(x.to_i64()),
        };
        Const {
            dims: x.dims.clone(),
            data,
            marks: x.marks.clone(),
        }
    }

    /// `Gather` along `axis` (negative indices count from the end).
    fn gather(&self, data: &Const, indices: &Const) -> ImportResult<Const> {
        let rank = data.dims.len();
        let axis = self.axis(self.ctx.int_or("axis", 0), rank)?;
        let n = data.dims[axis] as i64;
        let picks = indices
            .to_i64()
            .into_iter()
            .map(|i| {
                let j = if i < 0 { i + n } else { i };
                (0..n).contains(&j).then_some(j as usize).ok_or_else(|| {
                    self.ctx
                        .error(format!("index {i} is out of range for an axis of {n}"))
                })
            })
            .collect::<ImportResult<Vec<usize>>>()?;
        let mut dims = data.dims[..axis].to_vec();
        dims.extend_from_slice(&indices.dims);
        dims.extend_from_slice(&data.dims[axis + 1..]);
        self.check_size(&dims)?;
        let outer: usize = data.dims[..axis].iter().product();
        let inner: usize = data.dims[axis + 1..].iter().product();
        let mut idx = Vec::new();
        for o in 0..outer {
            for &p in &picks {
                let base = (o * data.dims[axis] + p) * inner;
                idx.extend(base..base + inner);
            }
        }
        Ok(take(data, &idx, dims))
    }

    /// `Concat` of known tensors along `axis`.
    fn concat(&self, ins: &[Option<&Const>]) -> ImportResult<Const> {
        let parts: Vec<&Const> = ins.iter().flatten().copied().collect();
        let first = parts
            .first()
            .ok_or_else(|| self.ctx.error("has no inputs"))?;
        let rank = first.dims.len();
        let axis = self.axis(self.ctx.int_or("axis", 0), rank)?;
        let mut dims = first.dims.clone();
        dims[axis] = 0;
        for p in &parts {
            let same =
                p.dims.len() == rank && (0..rank).all(|i| i == axis || p.dims[i] == first.dims[i]);
            if !same || std::mem::discriminant(&p.data) != std::mem::discriminant(&first.data) {
                return Err(self.ctx.error(format!(
                    "inputs of shapes {:?} and {:?} do not concatenate on axis {axis}",
                    first.dims, p.dims
                )));
            }
            dims[axis] += p.dims[axis];
        }
        self.check_size(&dims)?;
        let all = join(&parts);
        let outer: usize = first.dims[..axis].iter().product();
        let mut idx = Vec::new();
        for o in 0..outer {
            let mut start = 0;
            for p in &parts {
                let block: usize = p.dims[axis..].iter().product();
                idx.extend(start + o * block..start + (o + 1) * block);
                start += p.len();
            }
        }
        Ok(take(&all, &idx, dims))
    }

    /// The axes of `Unsqueeze`/`Squeeze`: input 1 from opset 13, else the attribute.
    fn axes_arg(&self, ins: &[Option<&Const>]) -> Option<Vec<i64>> {
        match ins.get(1).copied().flatten() {
            Some(a) => Some(a.to_i64()),
            None => self.ctx.ints("axes").map(<[i64]>::to_vec),
        }
    }

    /// `Unsqueeze` / `Squeeze`: the data unchanged, the dims changed.
    fn squeeze(&self, ins: &[Option<&Const>]) -> ImportResult<Const> {
        let x = self.arg(ins, 0)?;
        let axes = self.axes_arg(ins);
        let dims = squeezed_dims(self, &x.dims, axes.as_deref(), self.ctx.op() == "Unsqueeze")?;
        Ok(Const { dims, ..x.clone() })
    }

    /// `Expand`: broadcast to a shape (both ways, as ONNX).
    fn expand(&self, x: &Const, shape: &Const) -> ImportResult<Const> {
        let target = self.dims_of(shape)?;
        let dims = broadcast_dims(&x.dims, &target).ok_or_else(|| {
            self.ctx
                .error(format!("{:?} does not broadcast to {target:?}", x.dims))
        })?;
        self.check_size(&dims)?;
        let idx = broadcast_index(&dims, &x.dims);
        Ok(take(x, &idx, dims))
    }

    /// Non-negative dims from a known shape tensor.
    fn dims_of(&self, shape: &Const) -> ImportResult<Vec<usize>> {
        shape
            .to_i64()
            .iter()
            .map(|&d| {
                usize::try_from(d).map_err(|_| {
                    self.ctx
                        .error(format!("shape {:?} has a negative dim", shape.to_i64()))
                })
            })
            .collect()
    }

    /// `ConstantOfShape`: the `value` attribute (default f32 zero) repeated.
    fn constant_of_shape(&self, shape: &Const) -> ImportResult<Const> {
        let dims = self.dims_of(shape)?;
        let n = self.check_size(&dims)?;
        let value = match self.ctx.tensor("value") {
            Some(t) => super::tensor::read_tensor(t, std::path::Path::new(""))?,
            None => Const::f32(vec![1], vec![0.0]),
        };
        if value.len() != 1 {
            return Err(self.ctx.error("value must hold one element"));
        }
        Ok(take(&value, &vec![0; n], dims))
    }

    /// `Reshape` (with `allowzero`) and `Flatten` of known data.
    fn reshape(&self, ins: &[Option<&Const>]) -> ImportResult<Const> {
        let x = self.arg(ins, 0)?;
        let dims = if self.ctx.op() == "Flatten" {
            let axis = self.ctx.int_or("axis", 1);
            let a = if axis < 0 {
                axis + x.dims.len() as i64
            } else {
                axis
            };
            let a = (a.max(0) as usize).min(x.dims.len());
            vec![x.dims[..a].iter().product(), x.dims[a..].iter().product()]
        } else {
            let target = self.arg(ins, 1)?.to_i64();
            resolve_reshape(self, &x.dims, &target, self.ctx.int_or("allowzero", 0) != 0)?
        };
        Ok(Const { dims, ..x.clone() })
    }

    /// `Transpose` by `perm` (default: reversed axes).
    fn transpose(&self, x: &Const) -> ImportResult<Const> {
        let rank = x.dims.len();
        let perm: Vec<usize> = match self.ctx.ints("perm") {
            Some(p) => p
                .iter()
                .map(|&a| self.axis(a, rank))
                .collect::<ImportResult<_>>()?,
            None => (0..rank).rev().collect(),
        };
        let mut seen = vec![false; rank];
        if perm.len() != rank || perm.iter().any(|&a| std::mem::replace(&mut seen[a], true)) {
            return Err(self
                .ctx
                .error(format!("perm {perm:?} is not a permutation")));
        }
        let dims: Vec<usize> = perm.iter().map(|&a| x.dims[a]).collect();
        let (is, os) = (strides(&x.dims), strides(&dims));
        let idx = (0..x.len())
            .map(|flat| {
                (0..rank)
                    .map(|i| (flat / os[i]) % dims[i] * is[perm[i]])
                    .sum()
            })
            .collect::<Vec<usize>>();
        Ok(take(x, &idx, dims))
    }

    /// `Slice` (inputs from opset 10, attributes before).
    fn slice(&self, ins: &[Option<&Const>]) -> ImportResult<Const> {
        let x = self.arg(ins, 0)?;
        let list = |i: usize, attr: &str| -> Option<Vec<i64>> {
            match ins.get(i).copied().flatten() {
                Some(c) => Some(c.to_i64()),
                None => self.ctx.ints(attr).map(<[i64]>::to_vec),
            }
        };
        let starts = list(1, "starts").ok_or_else(|| self.ctx.error("starts are missing"))?;
        let ends = list(2, "ends").ok_or_else(|| self.ctx.error("ends are missing"))?;
        let axes = list(3, "axes").unwrap_or_else(|| (0..starts.len() as i64).collect());
        let steps = list(4, "steps").unwrap_or_else(|| vec![1; starts.len()]);
        if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
            return Err(self
                .ctx
                .error("starts, ends, axes and steps differ in length"));
        }
        let rank = x.dims.len();
        let mut ranges: Vec<Vec<usize>> = x.dims.iter().map(|&d| (0..d).collect()).collect();
        for k in 0..starts.len() {
            let axis = self.axis(axes[k], rank)?;
            ranges[axis] = slice_axis(self, x.dims[axis], starts[k], ends[k], steps[k])?;
        }
        let dims: Vec<usize> = ranges.iter().map(Vec::len).collect();
        self.check_size(&dims)?;
        let is = strides(&x.dims);
        let mut idx = vec![0usize];
        for (axis, picks) in ranges.iter().enumerate() {
            let stride = is[axis];
            idx = idx
                .iter()
                .flat_map(|&base| picks.iter().map(move |&p| base + p * stride))
                .collect();
        }
        Ok(take(x, &idx, dims))
    }

    /// `Range(start, limit, delta)`.
    fn range(&self, ins: &[Option<&Const>]) -> ImportResult<Const> {
        let (s, l, d) = (self.arg(ins, 0)?, self.arg(ins, 1)?, self.arg(ins, 2)?);
        let scalar = |c: &Const| c.to_f32().first().copied().map(f64::from);
        let (Some(start), Some(limit), Some(delta)) = (scalar(s), scalar(l), scalar(d)) else {
            return Err(self.ctx.error("start, limit and delta must be scalars"));
        };
        if delta == 0.0 {
            return Err(self.ctx.error("delta is zero"));
        }
        let n = ((limit - start) / delta).ceil().max(0.0);
        if n.is_nan() || n > self.limit as f64 {
            return Err(self
                .ctx
                .error(format!("a range of {n} elements is too large")));
        }
        let n = n as usize;
        let mut out = match s.data {
            Data::F32(_) => Const::f32(
                vec![n],
                (0..n).map(|i| (start + i as f64 * delta) as f32).collect(),
            ),
            Data::I64(_) => {
                let (st, de) = (s.to_i64()[0], d.to_i64()[0]);
                Const::i64(vec![n], (0..n as i64).map(|i| st + i * de).collect())
            }
        };
        if s.depends_on_batch() || l.depends_on_batch() || d.depends_on_batch() {
            out.marks = vec![Mark::FromBatch; n];
        }
        Ok(out)
    }

    /// `Where(condition, x, y)`.
    fn select(&self, ins: &[Option<&Const>]) -> ImportResult<Const> {
        let (c, x, y) = (self.arg(ins, 0)?, self.arg(ins, 1)?, self.arg(ins, 2)?);
        let dims = broadcast_dims(&c.dims, &x.dims)
            .and_then(|d| broadcast_dims(&d, &y.dims))
            .ok_or_else(|| self.ctx.error("inputs do not broadcast"))?;
        self.check_size(&dims)?;
        let (ci, xi, yi) = (
            broadcast_index(&dims, &c.dims),
            broadcast_index(&dims, &x.dims),
            broadcast_index(&dims, &y.dims),
        );
        let cond = c.to_f32();
        let all = join(&[x, y]);
        let idx: Vec<usize> = (0..ci.len())
            .map(|k| {
                if cond[ci[k]] != 0.0 {
                    xi[k]
                } else {
                    x.len() + yi[k]
                }
            })
            .collect();
        Ok(take(&all, &idx, dims))
    }

    /// Unary and binary elementwise arithmetic with NumPy broadcasting.
    fn elementwise(&self, op: &str, ins: &[Option<&Const>]) -> ImportResult<Const> {
        let a = self.arg(ins, 0)?;
        if let Some(f) = unary_fn(op) {
            let mut out = a.clone();
            out.data = match &a.data {
                Data::F32(v) => Data::F32(v.iter().map(|&x| f(f64::from(x)) as f32).collect()),
                Data::I64(v) => Data::I64(v.iter().map(|&x| f(x as f64) as i64).collect()),
            };
            if a.depends_on_batch() {
                out.marks = vec![Mark::FromBatch; a.len()];
            }
            return Ok(out);
        }
        let b = self.arg(ins, 1)?;
        let f = binary_fn(op).ok_or_else(|| self.ctx.error("cannot be evaluated at import"))?;
        let dims = broadcast_dims(&a.dims, &b.dims).ok_or_else(|| {
            self.ctx.error(format!(
                "shapes {:?} and {:?} do not broadcast",
                a.dims, b.dims
            ))
        })?;
        self.check_size(&dims)?;
        let (ai, bi) = (
            broadcast_index(&dims, &a.dims),
            broadcast_index(&dims, &b.dims),
        );
        let data = match (&a.data, &b.data) {
            (Data::I64(x), Data::I64(y)) => Data::I64(
                ai.iter()
                    .zip(&bi)
                    .map(|(&i, &j)| {
                        int_op(op, x[i], y[j])
                            .ok_or_else(|| self.ctx.error("integer division by zero"))
                    })
                    .collect::<ImportResult<_>>()?,
            ),
            _ => {
                let (x, y) = (a.to_f32(), b.to_f32());
                Data::F32(
                    ai.iter()
                        .zip(&bi)
                        .map(|(&i, &j)| f(f64::from(x[i]), f64::from(y[j])) as f32)
                        .collect(),
                )
            }
        };
        let marks = if a.depends_on_batch() || b.depends_on_batch() {
            ai.iter()
                .zip(&bi)
                .map(|(&i, &j)| {
                    if a.mark(i) == Mark::Plain && b.mark(j) == Mark::Plain {
                        Mark::Plain
                    } else {
                        Mark::FromBatch
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Const { dims, data, marks })
    }
}

/// All elements of `parts` one after another (flat), keeping marks.
fn join(parts: &[&Const]) -> Const {
    let any_marks = parts.iter().any(|p| !p.marks.is_empty());
    let marks = if any_marks {
        parts
            .iter()
            .flat_map(|p| (0..p.len()).map(|i| p.mark(i)))
            .collect()
    } else {
        Vec::new()
    };
    let data = match parts[0].data {
        Data::F32(_) => Data::F32(parts.iter().flat_map(|p| p.to_f32()).collect()),
        Data::I64(_) => Data::I64(parts.iter().flat_map(|p| p.to_i64()).collect()),
    };
    Const {
        dims: Vec::new(),
        data,
        marks,
    }
}

/// The dims after `Unsqueeze` (`insert`) or `Squeeze` of `axes`.
fn squeezed_dims(
    f: &Folder<'_>,
    dims: &[usize],
    axes: Option<&[i64]>,
    insert: bool,
) -> ImportResult<Vec<usize>> {
    if insert {
        let axes = axes.ok_or_else(|| f.ctx.error("axes are missing"))?;
        let rank = dims.len() + axes.len();
        let mut set = axes
            .iter()
            .map(|&a| f.axis(a, rank))
            .collect::<ImportResult<Vec<_>>>()?;
        set.sort_unstable();
        set.dedup();
        if set.len() != axes.len() {
            return Err(f.ctx.error(format!("axes {axes:?} repeat an axis")));
        }
        let mut rest = dims.iter();
        return Ok((0..rank)
            .map(|i| {
                if set.contains(&i) {
                    1
                } else {
                    *rest.next().unwrap_or(&1)
                }
            })
            .collect());
    }
    let set = match axes {
        Some(axes) => axes
            .iter()
            .map(|&a| f.axis(a, dims.len()))
            .collect::<ImportResult<Vec<_>>>()?,
        None => (0..dims.len()).filter(|&i| dims[i] == 1).collect(),
    };
    if let Some(&a) = set.iter().find(|&&a| dims[a] != 1) {
        return Err(f
            .ctx
            .error(format!("cannot squeeze axis {a} of size {}", dims[a])));
    }
    Ok((0..dims.len())
        .filter(|i| !set.contains(i))
        .map(|i| dims[i])
        .collect())
}

/// ONNX `Reshape`'s target resolved against input dims: `0` copies (unless `allowzero`),
/// one `-1` is inferred.
pub(crate) fn resolve_reshape(
    f: &Folder<'_>,
    dims: &[usize],
    target: &[i64],
    allowzero: bool,
) -> ImportResult<Vec<usize>> {
    let total: usize = dims.iter().product();
    let mut out = Vec::with_capacity(target.len().min(64));
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(*dims.get(i).ok_or_else(|| {
                f.ctx
                    .error(format!("target {target:?} copies a dim the input lacks"))
            })?),
            t if t >= 0 => out.push(t as usize),
            _ => return Err(f.ctx.error(format!("target shape {target:?} is invalid"))),
        }
    }
    let known = out
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| f.ctx.error(format!("target shape {target:?} overflows")))?;
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(f.ctx.error(format!(
                "cannot reshape {dims:?} ({total} elements) to {target:?}"
            )));
        }
        out[i] = total / known;
    } else if known != total {
        return Err(f.ctx.error(format!(
            "cannot reshape {dims:?} ({total} elements) to {target:?}"
        )));
    }
    Ok(out)
}

/// The indices one `Slice` axis of size `n` keeps.
fn slice_axis(
    f: &Folder<'_>,
    n: usize,
    start: i64,
    end: i64,
    step: i64,
) -> ImportResult<Vec<usize>> {
    if step == 0 {
        return Err(f.ctx.error("a slice step is zero"));
    }
    let n = n as i64;
    let norm = |v: i64| if v < 0 { v.saturating_add(n) } else { v };
    let (mut i, end) = if step > 0 {
        (norm(start).clamp(0, n), norm(end).clamp(0, n))
    } else {
        (norm(start).clamp(-1, n - 1), norm(end).clamp(-1, n - 1))
    };
    let mut out = Vec::new();
    while (step > 0 && i < end) || (step < 0 && i > end) {
        out.push(i as usize);
        i += step;
    }
    Ok(out)
}

/// The scalar function of a unary op.
fn unary_fn(op: &str) -> Option<fn(f64) -> f64> {
    Some(match op {
        "Neg" => |x| -x,
        "Abs" => f64::abs,
        "Sqrt" => f64::sqrt,
        "Relu" => |x| x.max(0.0),
        "Floor" => f64::floor,
        "Ceil" => f64::ceil,
        "Not" => |x| f64::from(u8::from(x == 0.0)),
        "Reciprocal" => |x| 1.0 / x,
        _ => return None,
    })
}

/// The scalar function of a binary op on floats.
fn binary_fn(op: &str) -> Option<fn(f64, f64) -> f64> {
    Some(match op {
        "Add" => |a, b| a + b,
        "Sub" => |a, b| a - b,
        "Mul" => |a, b| a * b,
        "Div" => |a, b| a / b,
        "Max" => f64::max,
        "Min" => f64::min,
        "Pow" => f64::powf,
        "Equal" => |a, b| f64::from(u8::from(a == b)),
        "Less" => |a, b| f64::from(u8::from(a < b)),
        "Greater" => |a, b| f64::from(u8::from(a > b)),
        _ => return None,
    })
}

/// A binary op on integers (ONNX truncating division); `None` on division by zero.
fn int_op(op: &str, a: i64, b: i64) -> Option<i64> {
    Some(match op {
        "Add" => a.wrapping_add(b),
        "Sub" => a.wrapping_sub(b),
        "Mul" => a.wrapping_mul(b),
        "Div" => a.checked_div(b)?,
        "Max" => a.max(b),
        "Min" => a.min(b),
        "Pow" => a.checked_pow(u32::try_from(b).ok()?)?,
        "Equal" => i64::from(a == b),
        "Less" => i64::from(a < b),
        "Greater" => i64::from(a > b),
        _ => return None,
    })
}

//! Flat per-element kernels: one invocation per result element reads each operand through
//! a strided view of the result's coordinates. Elementwise programs (fused or single ops)
//! and the movement ops (reshape copies, transpose, broadcast, slice) are the same
//! template with different views; concat, pad and random add a condition or a generator.

use ir::{Op, Program, Shape};

use super::layout::{coords, flat_main, offset};
use super::module::Module;
use super::scalar::{self, Helper};
use crate::error::Result;

/// A read of an operand: buffer, base offset and a stride per result axis.
struct View {
    buf: String,
    base: usize,
    strides: Vec<usize>,
}

impl View {
    /// The read expression at result coordinates `c{k}` (or the flat index `i` when the
    /// view is the result's own row-major layout).
    fn read(&self, out: &Shape) -> String {
        if self.strides == out.strides() && !self.strides.is_empty() {
            if self.base == 0 {
                format!("{}[i]", self.buf)
            } else {
                format!("{}[{}u + i]", self.buf, self.base)
            }
        } else {
            format!("{}[{}]", self.buf, offset(self.base, &self.strides, "c"))
        }
    }
}

/// `program` over all operands, each broadcast to the result.
pub(super) fn program(m: &mut Module, program: &Program) -> Result<(String, [u32; 3])> {
    if program.n_inputs() > m.n_operands() {
        return Err(m.unsupported(&format!(
            "the program reads {} inputs but the node has {} operands",
            program.n_inputs(),
            m.n_operands()
        )));
    }
    let out = m.shape().clone();
    let views = (0..m.n_operands())
        .map(|k| {
            let (buf, base) = m.operand(k)?;
            Ok(View {
                buf,
                base,
                strides: m.operand_shape(k).broadcast_strides(&out),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    strided(m, &out, &views, program)
}

/// Reshape (a copy when the plan does not alias it), transpose, broadcast, slice or
/// `stop_gradient` (a copy).
pub(super) fn movement(m: &mut Module) -> Result<(String, [u32; 3])> {
    let out = m.shape().clone();
    let input = m.operand_shape(0);
    let own = input.strides();
    let (buf, base) = m.operand(0)?;
    let view = match m.graph.op(m.node) {
        Op::Transpose(perm) => View {
            buf,
            base,
            strides: perm.iter().map(|&p| own[p]).collect(),
        },
        Op::Broadcast(_) => View {
            buf,
            base,
            strides: input.broadcast_strides(&out),
        },
        Op::Slice { starts, .. } => View {
            buf,
            base: base + starts.iter().zip(&own).map(|(s, st)| s * st).sum::<usize>(),
            strides: own,
        },
        _ => View {
            buf,
            base,
            strides: out.strides(),
        },
    };
    strided(m, &out, &[view], &Program::identity())
}

/// The shared template: coordinates of `i`, the reads, the program, the store.
fn strided(
    m: &mut Module,
    out: &Shape,
    views: &[View],
    program: &Program,
) -> Result<(String, [u32; 3])> {
    let (obuf, obase) = m.output()?;
    let mut body = String::new();
    if views
        .iter()
        .any(|v| v.strides != out.strides() || v.strides.is_empty())
    {
        body.push_str(&coords(out.dims(), "i", "c", "    "));
    }
    let reads: Vec<String> = views.iter().map(|v| v.read(out)).collect();
    let (stmts, result) =
        scalar::program(program, "r", "    ", &mut m.helpers, |n| reads[n].clone());
    body.push_str(&stmts);
    body.push_str(&format!("    {obuf}[{obase}u + i] = {result};\n"));
    Ok(flat_main(out.numel(), &body))
}

/// Operands joined along `axis`.
pub(super) fn concat(m: &mut Module, axis: usize) -> Result<(String, [u32; 3])> {
    let out = m.shape().clone();
    let (obuf, obase) = m.output()?;
    let mut body = coords(out.dims(), "i", "c", "    ");
    body.push_str("    var v = 0.0;\n");
    let mut start = 0;
    for k in 0..m.n_operands() {
        let shape = m.operand_shape(k);
        let (buf, base) = m.operand(k)?;
        let strides = shape.strides();
        let extent = shape.dims()[axis];
        // Within this part, axis `axis` is `c{axis} - start`.
        let at = offset(base, &strides, "c");
        let at = if start == 0 || strides[axis] == 0 {
            at
        } else {
            format!("{at} - {}u", start * strides[axis])
        };
        let keyword = if k == 0 { "if" } else { " else if" };
        body.push_str(&format!(
            "   {keyword} (c{axis} < {}u) {{ v = {buf}[{at}]; }}",
            start + extent
        ));
        start += extent;
    }
    body.push('\n');
    body.push_str(&format!("    {obuf}[{obase}u + i] = v;\n"));
    Ok(flat_main(out.numel(), &body))
}

/// The operand surrounded by `value`, `before[k]` elements before each axis.
pub(super) fn pad(m: &mut Module, before: &[usize], value: f32) -> Result<(String, [u32; 3])> {
    let out = m.shape().clone();
    let input = m.operand_shape(0);
    let (obuf, obase) = m.output()?;
    let (buf, base) = m.operand(0)?;
    let mut body = coords(out.dims(), "i", "c", "    ");
    let mut inside = Vec::new();
    let mut terms = Vec::new();
    for (k, (&b, &d)) in before.iter().zip(input.dims()).enumerate() {
        if b > 0 {
            inside.push(format!("c{k} >= {b}u"));
        }
        if b + d < out.dims()[k] {
            inside.push(format!("c{k} < {}u", b + d));
        }
        terms.push((k, b));
    }
    let strides = input.strides();
    let mut at = vec![format!("{base}u")];
    for (k, b) in terms {
        if input.dims()[k] > 1 {
            at.push(format!("(c{k} - {b}u) * {}u", strides[k]));
        }
    }
    let cond = if inside.is_empty() {
        "true".to_string()
    } else {
        inside.join(" && ")
    };
    body.push_str(&format!(
        "    var v = {};\n    if ({cond}) {{ v = {buf}[{}]; }}\n",
        scalar::literal(value),
        at.join(" + ")
    ));
    body.push_str(&format!("    {obuf}[{obase}u + i] = v;\n"));
    Ok(flat_main(out.numel(), &body))
}

/// `ir::random::uniform(seed, i)` at every element `i`; the seed is operand 0's value,
/// truncated and clamped at 0 like `ir::random::seed_from_f32`.
pub(super) fn random(m: &mut Module) -> Result<(String, [u32; 3])> {
    let n = m.shape().numel();
    let (obuf, obase) = m.output()?;
    let (buf, base) = m.operand(0)?;
    m.helpers.insert(Helper::Random);
    let body = format!(
        "    let seed = u32(max({buf}[{base}u], 0.0));\n    {obuf}[{obase}u + i] = k_uniform(seed, i);\n"
    );
    Ok(flat_main(n, &body))
}

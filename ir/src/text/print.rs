//! The printer: a [`Graph`] as text, one statement per line, deterministic.

use std::fmt::Write;

use crate::graph::Graph;
use crate::op::Op;
use crate::tensor::Tensor;

use super::lexer::quote;
use super::syntax::{AttrValue, encode, format_f32, format_loop, format_program};

/// The text form of `graph` (see the [module docs](super) for the grammar).
pub fn print(graph: &Graph) -> String {
    let mut out = String::from("graph {\n");
    for id in graph.node_ids() {
        let node = graph.node(id);
        let _ = write!(out, "  {id} = ");
        match &node.op {
            Op::Input { name, shape } | Op::Param { name, shape } => {
                let _ = write!(out, "{} {} {shape}", encode(&node.op).name, quote(name));
            }
            Op::Const(t) => {
                let _ = write!(out, "const {} {}", t.shape, const_data(t));
            }
            op => {
                let syntax = encode(op);
                out.push_str(&syntax.name);
                let operands: Vec<String> =
                    graph.operands(id).iter().map(ToString::to_string).collect();
                if !operands.is_empty() {
                    let _ = write!(out, " {}", operands.join(", "));
                }
                for (key, value) in &syntax.attrs {
                    let _ = match value {
                        AttrValue::Flag => write!(out, " {key}"),
                        AttrValue::Atom(a) => write!(out, " {key}={a}"),
                        AttrValue::List(items) => write!(out, " {key}=[{}]", items.join(", ")),
                    };
                }
                if let Some(p) = syntax.program {
                    let _ = write!(out, " {}", format_program(p));
                }
                if !syntax.loops.is_empty() {
                    out.push_str(" {\n");
                    for l in syntax.loops {
                        let _ = writeln!(out, "    {}", format_loop(l));
                    }
                    out.push_str("  }");
                }
                let _ = write!(out, " : {}", node.shape);
            }
        }
        out.push('\n');
    }
    for (name, id) in &graph.outputs {
        let _ = writeln!(out, "  output {} = {id}", quote(name));
    }
    for (param, value) in &graph.updates {
        let _ = writeln!(out, "  update {param} = {value}");
    }
    out.push_str("}\n");
    out
}

/// A constant's values: one bare value for a scalar, `splat v` when there are several and all
/// are bit-identical, else the full list.
fn const_data(t: &Tensor) -> String {
    match t.data.as_slice() {
        [v] if t.shape.rank() == 0 => format_f32(*v),
        [first, rest @ ..]
            if !rest.is_empty() && rest.iter().all(|v| v.to_bits() == first.to_bits()) =>
        {
            format!("splat {}", format_f32(*first))
        }
        data => format!(
            "[{}]",
            data.iter()
                .map(|v| format_f32(*v))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

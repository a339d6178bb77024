//! [`Module`]: one WGSL module under construction — the node it computes, its storage
//! bindings, the scalar helpers and module-scope declarations it needs. Every template
//! (`elementwise`, `gemm`, `window`, `reduce`) writes its `main` through it and the driver in
//! `mod.rs` turns it into a [`Kernel`], so it lives apart from both.

use std::collections::BTreeSet;

use ir::infer::op_name;
use ir::{Graph, MemoryPlan, NodeId, Program};

use super::layout;
use super::scalar::{self, Helper};
use crate::error::{GpuError, Result};
use crate::kernel::{Binding, Kernel, Loc, Space, resolve, resolve_read};

/// One WGSL module under construction: the node it computes, its bindings and helpers.
pub(crate) struct Module<'g> {
    pub graph: &'g Graph,
    plan: &'g MemoryPlan,
    pub node: NodeId,
    bindings: Vec<Binding>,
    pub helpers: BTreeSet<Helper>,
    /// Module-scope declarations (constants, functions) placed before `main`.
    pub decls: String,
}

impl<'g> Module<'g> {
    /// A module computing `node`, with the result's buffer bound first.
    pub(super) fn new(graph: &'g Graph, plan: &'g MemoryPlan, node: NodeId) -> Result<Self> {
        let mut m = Module {
            graph,
            plan,
            node,
            bindings: Vec::new(),
            helpers: BTreeSet::new(),
            decls: String::new(),
        };
        // The result's buffer is bound first, read_write; operands in the same buffer share it.
        let out = m.output_loc()?;
        m.bind(out.space, true);
        Ok(m)
    }

    /// A module computing the multi-result kernel `node`, which has no output of its own:
    /// its results are bound as they are asked for ([`Module::result`]).
    pub(super) fn for_results(graph: &'g Graph, plan: &'g MemoryPlan, node: NodeId) -> Self {
        Module {
            graph,
            plan,
            node,
            bindings: Vec::new(),
            helpers: BTreeSet::new(),
            decls: String::new(),
        }
    }

    /// The buffer name and offset of the value of `extract` (one of this kernel's results),
    /// bound `read_write`; `None` when the plan does not store it.
    pub fn result(&mut self, extract: NodeId) -> Result<Option<(String, usize)>> {
        Ok(resolve(self.graph, self.plan, extract)?
            .map(|loc| (self.bind(loc.space, true), loc.offset)))
    }

    /// The buffer each of `extracts` (results of this kernel) and operands `operands` lives
    /// in, without binding them.
    pub fn spaces(&self, extracts: &[NodeId], operands: &[usize]) -> Result<Vec<Space>> {
        let mut spaces = Vec::new();
        for &e in extracts {
            if let Some(loc) = resolve(self.graph, self.plan, e)? {
                spaces.push(loc.space);
            }
        }
        let all = self.graph.operands(self.node);
        for &k in operands {
            spaces.push(resolve_read(self.graph, self.plan, self.node, all[k])?.space);
        }
        spaces.sort();
        spaces.dedup();
        Ok(spaces)
    }

    fn output_loc(&self) -> Result<Loc> {
        resolve(self.graph, self.plan, self.node)?.ok_or_else(|| GpuError::Plan {
            node: self.node.to_string(),
            msg: "a computed node has no storage".into(),
        })
    }

    /// The binding name of `space`, binding it on first use.
    fn bind(&mut self, space: Space, writable: bool) -> String {
        let index = match self.bindings.iter().position(|b| b.space == space) {
            Some(i) => {
                self.bindings[i].writable |= writable;
                i
            }
            None => {
                self.bindings.push(Binding { space, writable });
                self.bindings.len() - 1
            }
        };
        format!("b{index}")
    }

    /// The result's buffer name and offset.
    pub fn output(&mut self) -> Result<(String, usize)> {
        let loc = self.output_loc()?;
        Ok((self.bind(loc.space, true), loc.offset))
    }

    /// Operand `k`'s buffer name and offset.
    pub fn operand(&mut self, k: usize) -> Result<(String, usize)> {
        let operands = self.graph.operands(self.node);
        let id = *operands.get(k).ok_or_else(|| {
            self.unsupported(&format!(
                "has {} operands, needs operand {k}",
                operands.len()
            ))
        })?;
        let loc = resolve_read(self.graph, self.plan, self.node, id)?;
        Ok((self.bind(loc.space, false), loc.offset))
    }

    /// The shape of operand `k` (callers index operands the op guarantees).
    pub fn operand_shape(&self, k: usize) -> ir::Shape {
        self.graph.shape(self.graph.operands(self.node)[k]).clone()
    }

    /// The number of operands.
    pub fn n_operands(&self) -> usize {
        self.graph.operands(self.node).len()
    }

    /// The result's shape.
    pub fn shape(&self) -> &ir::Shape {
        self.graph.shape(self.node)
    }

    /// An error naming this node and op.
    pub fn unsupported(&self, msg: &str) -> GpuError {
        GpuError::Unsupported {
            node: self.node.to_string(),
            op: op_name(self.graph.op(self.node)).to_string(),
            msg: msg.to_string(),
        }
    }

    /// Statements reading operands `first..` as the extra inputs of an epilogue (program
    /// input `i >= 1` is operand `first + i - 1`), each broadcast to the result shape at the
    /// result's flat index `flat`. Returns the statements and the epilogue applied to `acc`.
    pub fn epilogue(
        &mut self,
        program: &Program,
        first: usize,
        acc: &str,
        flat: &str,
        indent: &str,
    ) -> Result<(String, String)> {
        if program.is_identity() {
            return Ok((String::new(), acc.to_string()));
        }
        if program.n_inputs() > 1 + self.n_operands().saturating_sub(first) {
            return Err(self.unsupported(&format!(
                "the epilogue reads {} inputs but the node has {} extra operands",
                program.n_inputs(),
                self.n_operands().saturating_sub(first)
            )));
        }
        let out_shape = self.shape().clone();
        let mut reads = vec![acc.to_string()];
        let mut stmts = layout::coords(out_shape.dims(), flat, "e", indent);
        for k in first..self.n_operands() {
            let (buf, base) = self.operand(k)?;
            let strides = self.operand_shape(k).broadcast_strides(&out_shape);
            reads.push(format!("{buf}[{}]", layout::offset(base, &strides, "e")));
        }
        let (body, result) = scalar::program(program, "p", indent, &mut self.helpers, |n| {
            reads[n].clone()
        });
        stmts.push_str(&body);
        Ok((stmts, result))
    }

    /// The kernel: bindings, helpers and declarations, then `main`, dispatched over `workgroups`.
    pub(super) fn finish(self, main: &str, workgroups: [u32; 3]) -> Kernel {
        let label = format!("{} {}", self.node, op_name(self.graph.op(self.node)));
        let mut wgsl = format!("// {label} -> {}\n", self.shape());
        for (i, b) in self.bindings.iter().enumerate() {
            let access = if b.writable { "read_write" } else { "read" };
            wgsl.push_str(&format!(
                "@group(0) @binding({i}) var<storage, {access}> b{i}: array<f32>;\n"
            ));
        }
        for h in &self.helpers {
            wgsl.push('\n');
            wgsl.push_str(h.source());
        }
        if !self.decls.is_empty() {
            wgsl.push('\n');
            wgsl.push_str(&self.decls);
        }
        wgsl.push('\n');
        wgsl.push_str(main);
        Kernel {
            node: self.node,
            label,
            wgsl,
            bindings: self.bindings,
            workgroups,
        }
    }
}

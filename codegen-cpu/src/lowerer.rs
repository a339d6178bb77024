//! [`Lowerer`]: the state of lowering one graph into a Cranelift [`Module`] — the data
//! object of each constant, one local function per kernel (its body built through
//! [`Kernel`] by an op lowering), the scratch the kernels need, and the step function that
//! runs the kernels in order — and what it produced ([`LoweredStep`], with the CLIF of each
//! function when asked for: [`ClifFunction`]).

use std::fmt::Write;

use cranelift_codegen::Context;
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{
    AbiParam, FuncRef, Function, GlobalValue, InstBuilder, Type, UserFuncName, Value,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{DataDescription, DataId, FuncId, Linkage, Module, ModuleDeclarations};
use ir::{Graph, MemoryPlan, NodeId, Op};

use crate::abi::{self, Loc, PARALLEL_FOR_SYMBOL, Space};
use crate::error::{CodegenError, Result};
use crate::lower::{Kernel, mem};
use crate::ready::OUTPUT_READY_SYMBOL;

/// The CLIF of one function as the lowering handed it to Cranelift, before Cranelift's own
/// optimisation, legalisation and machine-code generation (see [`crate::clif()`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClifFunction {
    /// The function's symbol (`kiln_step`, `kiln_step_k<node>_<n>` for kernels).
    pub name: String,
    /// `;` comment lines naming the function and every function and data object it
    /// references (CLIF calls them `u0:<n>` and `u1:<n>`), then the function's CLIF text.
    pub text: String,
}

/// Shared state while lowering one graph.
pub(crate) struct Lowerer<'m, M: Module> {
    pub module: &'m mut M,
    ctx: Context,
    fctx: FunctionBuilderContext,
    prefix: String,
    consts: Vec<DataId>,
    /// Kernels in execution order, with their chunk counts.
    kernels: Vec<(FuncId, usize)>,
    /// Ready hooks: `(kernels before it, output index)`, in order (see [`crate::ready`]).
    ready: Vec<(usize, usize)>,
    scratch_len: usize,
    /// The CLIF of every function defined so far, when asked for.
    clif: Option<Vec<ClifFunction>>,
    pub graph: &'m Graph,
    pub plan: &'m MemoryPlan,
}

/// What lowering produced: the step function, the scratch it needs and its constants.
pub(crate) struct LoweredStep {
    /// The step function.
    pub step: FuncId,
    /// Elements of convolution scratch (the last table slot).
    pub scratch_len: usize,
    /// The data object of each `Const` node, in node order (`Space::Const(n)`).
    pub consts: Vec<DataId>,
    /// The CLIF of every function defined (kernels in order, then the step), when the
    /// lowering was asked to keep it; empty otherwise.
    pub clif: Vec<ClifFunction>,
}

impl<'m, M: Module> Lowerer<'m, M> {
    /// A lowering of `graph` under `plan` into `module`, naming its symbols after `prefix`
    /// (the step function's name); `keep_clif` keeps each function's CLIF text.
    pub fn new(
        module: &'m mut M,
        graph: &'m Graph,
        plan: &'m MemoryPlan,
        prefix: &str,
        keep_clif: bool,
    ) -> Self {
        let ctx = module.make_context();
        Lowerer {
            module,
            ctx,
            fctx: FunctionBuilderContext::new(),
            prefix: prefix.to_string(),
            consts: Vec::new(),
            kernels: Vec::new(),
            ready: Vec::new(),
            scratch_len: 0,
            clif: keep_clif.then(Vec::new),
            graph,
            plan,
        }
    }
}

impl<M: Module> Lowerer<'_, M> {
    fn ptr(&self) -> Type {
        self.module.target_config().pointer_type()
    }

    /// Define one local, 16-byte aligned data object per `Const` node, in node order.
    pub fn define_consts(&mut self) -> Result<()> {
        for id in self.graph.node_ids() {
            if let Op::Const(t) = self.graph.op(id) {
                let name = format!("{}_const{}", self.prefix, self.consts.len());
                let data = self
                    .module
                    .declare_data(&name, Linkage::Local, false, false)?;
                let mut desc = DataDescription::new();
                let bytes: Vec<u8> = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
                desc.define(if bytes.is_empty() {
                    vec![0u8; 4].into()
                } else {
                    bytes.into()
                });
                desc.set_align(16);
                self.module.define_data(data, &desc)?;
                self.consts.push(data);
            }
        }
        Ok(())
    }

    /// Make sure the scratch buffer holds at least `len` elements.
    pub fn need_scratch(&mut self, len: usize) {
        self.scratch_len = self.scratch_len.max(len);
    }

    /// The scratch buffer's location.
    pub fn scratch_loc(&self) -> Loc {
        Loc {
            space: Space::Table(abi::scratch_slot(
                self.graph.inputs().len(),
                self.graph.params().len(),
            )),
            offset: 0,
        }
    }

    /// Where `id`'s value lives; an error naming `user` when it is never materialised.
    pub fn loc(&self, id: NodeId, user: NodeId) -> Result<Loc> {
        abi::resolve(self.graph, self.plan, id)?.ok_or_else(|| CodegenError::Plan {
            node: user.to_string(),
            msg: format!("operand {id} has no storage"),
        })
    }

    /// Declare an imported function (a runtime or contraction symbol) with parameters of
    /// types `args` and no result.
    pub fn import(&mut self, name: &str, args: &[Type]) -> Result<FuncId> {
        let mut sig = self.module.make_signature();
        sig.params.extend(args.iter().map(|&t| AbiParam::new(t)));
        Ok(self.module.declare_function(name, Linkage::Import, &sig)?)
    }

    /// Emit one kernel function for node `id`: `body` gets the kernel, the base pointers
    /// of `locs` (in order) and references to `imports`.
    pub fn kernel(
        &mut self,
        id: NodeId,
        locs: &[Loc],
        imports: &[FuncId],
        body: impl FnOnce(&mut Kernel, &[Value], &[FuncRef]),
    ) -> Result<()> {
        let ptr = self.ptr();
        let mut sig = self.module.make_signature();
        sig.params.push(AbiParam::new(ptr));
        sig.params.push(AbiParam::new(I64));
        let name = format!("{}_k{}_{}", self.prefix, id.index(), self.kernels.len());
        let fid = self.module.declare_function(&name, Linkage::Local, &sig)?;
        self.ctx.func.signature = sig;
        self.ctx.func.name = UserFuncName::user(0, fid.as_u32());
        let refs: Vec<FuncRef> = imports
            .iter()
            .map(|&f| self.module.declare_func_in_func(f, &mut self.ctx.func))
            .collect();
        let gvs: Vec<GlobalValue> = self
            .consts
            .iter()
            .map(|&d| self.module.declare_data_in_func(d, &mut self.ctx.func))
            .collect();
        let cfg = self.module.target_config();
        let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let (table, chunk) = (b.block_params(entry)[0], b.block_params(entry)[1]);
        let bases = operand_bases(&mut b, ptr, table, &gvs, locs);
        let mut k = Kernel {
            b,
            ptr,
            chunk,
            n_chunks: 1,
        };
        body(&mut k, &bases, &refs);
        let Kernel {
            mut b, n_chunks, ..
        } = k;
        b.ins().return_(&[]);
        b.seal_all_blocks();
        b.finalize(cfg);
        self.define(fid, || format!("kernel for node {id}"))?;
        self.kernels.push((fid, n_chunks));
        Ok(())
    }

    /// Have the step call the ready hook for output `output` after the kernels lowered so far.
    pub fn mark_ready(&mut self, output: usize) {
        self.ready.push((self.kernels.len(), output));
    }

    /// Define the step function `name` (calling every kernel in order) and hand back what
    /// the lowering produced.
    pub fn finish(mut self, name: &str, linkage: Linkage) -> Result<LoweredStep> {
        let step = self.define_step(name, linkage)?;
        Ok(LoweredStep {
            step,
            scratch_len: self.scratch_len,
            consts: self.consts,
            clif: self.clif.unwrap_or_default(),
        })
    }

    /// The step function: each kernel called directly with chunk 0, or through
    /// `kiln_parallel_for` when it is split into chunks, and the ready hooks between them.
    fn define_step(&mut self, name: &str, linkage: Linkage) -> Result<FuncId> {
        let ptr = self.ptr();
        let parallel_for = self.import(PARALLEL_FOR_SYMBOL, &[ptr, ptr, I64])?;
        let ready_hook = if self.ready.is_empty() {
            None
        } else {
            Some(self.import(OUTPUT_READY_SYMBOL, &[I64])?)
        };
        let mut sig = self.module.make_signature();
        sig.params.push(AbiParam::new(ptr));
        let step = self.module.declare_function(name, linkage, &sig)?;
        self.ctx.func.signature = sig;
        self.ctx.func.name = UserFuncName::user(0, step.as_u32());
        let pf = self
            .module
            .declare_func_in_func(parallel_for, &mut self.ctx.func);
        let hook = ready_hook.map(|f| self.module.declare_func_in_func(f, &mut self.ctx.func));
        let refs: Vec<(FuncRef, usize)> = self
            .kernels
            .iter()
            .map(|&(f, n)| (self.module.declare_func_in_func(f, &mut self.ctx.func), n))
            .collect();
        let cfg = self.module.target_config();
        let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let table = b.block_params(entry)[0];
        let mut ready = self.ready.iter().peekable();
        for (i, (f, n)) in refs.into_iter().enumerate() {
            while let Some(&&(_, output)) = ready.peek().filter(|(before, _)| *before == i) {
                call_ready(&mut b, hook, output);
                ready.next();
            }
            if n <= 1 {
                let zero = b.ins().iconst(I64, 0);
                b.ins().call(f, &[table, zero]);
            } else {
                let addr = b.ins().func_addr(ptr, f);
                let count = b.ins().iconst(I64, n as i64);
                b.ins().call(pf, &[addr, table, count]);
            }
        }
        for &(_, output) in ready {
            call_ready(&mut b, hook, output);
        }
        b.ins().return_(&[]);
        b.seal_all_blocks();
        b.finalize(cfg);
        self.define(step, || "step function".into())?;
        Ok(step)
    }

    /// Compile the function built in the context as `fid` (keeping its CLIF first when
    /// asked to), then clear the context; errors name `what`.
    fn define(&mut self, fid: FuncId, what: impl FnOnce() -> String) -> Result<()> {
        if let Some(kept) = &mut self.clif {
            kept.push(clif_function(
                self.module.declarations(),
                &self.ctx.func,
                fid,
            ));
        }
        self.module
            .define_function(fid, &mut self.ctx)
            .map_err(|e| CodegenError::Cranelift(format!("{}: {e:?}", what())))?;
        self.module.clear_context(&mut self.ctx);
        Ok(())
    }
}

/// A call of the ready hook (declared whenever a hook was marked) for output `output`.
fn call_ready(b: &mut FunctionBuilder, hook: Option<FuncRef>, output: usize) {
    let hook = hook.expect("declared when any ready hook is marked");
    let index = b.ins().iconst(I64, output as i64);
    b.ins().call(hook, &[index]);
}

/// Emit the loads of the base pointers of `locs` in a kernel's entry block: a table slot
/// read from `table`, or a constant's symbol from `consts`, plus the location's offset.
fn operand_bases(
    b: &mut FunctionBuilder,
    ptr: Type,
    table: Value,
    consts: &[GlobalValue],
    locs: &[Loc],
) -> Vec<Value> {
    locs.iter()
        .map(|loc| {
            let base = match loc.space {
                Space::Table(slot) => {
                    b.ins()
                        .load(ptr, mem(), table, (slot * ptr.bytes() as usize) as i32)
                }
                Space::Const(j) => b.ins().symbol_value(ptr, consts[j]),
            };
            if loc.offset == 0 {
                base
            } else {
                b.ins().iadd_imm_u(base, (loc.offset * 4) as i64)
            }
        })
        .collect()
}

/// The CLIF of `func` (defined as `fid`), with a legend of the symbols its
/// `u<namespace>:<index>` names stand for (namespace 0 functions, 1 data objects).
fn clif_function(declarations: &ModuleDeclarations, func: &Function, fid: FuncId) -> ClifFunction {
    let name = declarations.get_function_decl(fid).linkage_name(fid);
    let mut text = format!("; u0:{} = {name}\n", fid.as_u32());
    for user in func.params.user_named_funcs().values() {
        let symbol = match user.namespace {
            0 => {
                let f = FuncId::from_u32(user.index);
                declarations.get_function_decl(f).linkage_name(f)
            }
            _ => {
                let d = DataId::from_u32(user.index);
                declarations.get_data_decl(d).linkage_name(d)
            }
        };
        let _ = writeln!(text, "; u{}:{} = {symbol}", user.namespace, user.index);
    }
    let _ = write!(text, "{}", func.display());
    ClifFunction {
        name: name.into_owned(),
        text,
    }
}

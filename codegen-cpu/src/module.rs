//! Lowering a whole graph into a Cranelift [`Module`], written once and used by both the
//! JIT ([`crate::jit`]) and object emission ([`crate::aot`]).
//!
//! Output: one function per kernel (local), one data object per constant (local), and the
//! step function (named by the caller) that runs the kernels in node order — directly, or
//! through `kiln_parallel_for` for kernels split into chunks. See [`crate::abi`].

use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{AbiParam, FuncRef, InstBuilder, Type, UserFuncName, Value};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::{Context, settings, settings::Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{DataDescription, DataId, FuncId, Linkage, Module};
use ir::{Graph, MemoryPlan, NodeId, Op};

use crate::abi::{self, Loc, PARALLEL_FOR_SYMBOL, Space};
use crate::error::{CodegenError, Result};
use crate::lower::{Kernel, mem};
use crate::node;

/// The host ISA with its native features (AVX, FMA, ...), position independent or not.
pub(crate) fn host_isa(pic: bool) -> Result<OwnedTargetIsa> {
    target_isa(None, pic)
}

/// The ISA for target triple `triple` (its baseline features), or the host's with its
/// native features when `None`.
pub(crate) fn target_isa(triple: Option<&str>, pic: bool) -> Result<OwnedTargetIsa> {
    let mut flags = settings::builder();
    let set = |f: &mut settings::Builder, k: &str, v: &str| {
        f.set(k, v)
            .map_err(|e| CodegenError::Cranelift(format!("setting {k}: {e}")))
    };
    // Measured on the elementwise, reduction and movement kernels: "speed" and "none" are
    // within noise of each other; "speed" shares the splatted constants.
    set(&mut flags, "opt_level", "speed")?;
    set(&mut flags, "is_pic", if pic { "true" } else { "false" })?;
    set(&mut flags, "use_colocated_libcalls", "false")?;
    let isa = match triple {
        None => cranelift_native::builder().map_err(|e| CodegenError::Host(e.to_string()))?,
        Some(name) => {
            let fail = |msg: String| CodegenError::Target {
                triple: name.to_string(),
                msg,
            };
            let parsed: target_lexicon::Triple = name
                .parse()
                .map_err(|e| fail(format!("not a target triple: {e}")))?;
            cranelift_codegen::isa::lookup(parsed).map_err(|e| fail(e.to_string()))?
        }
    };
    isa.finish(settings::Flags::new(flags))
        .map_err(|e| CodegenError::Host(e.to_string()))
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
    scratch_len: usize,
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
}

/// Lower `graph` under `plan` into `module`; the step function is called `step_name`.
pub(crate) fn lower_graph<M: Module>(
    module: &mut M,
    graph: &Graph,
    plan: &MemoryPlan,
    step_name: &str,
    linkage: Linkage,
) -> Result<LoweredStep> {
    abi::check_plan(graph, plan)?;
    let ctx = module.make_context();
    let mut l = Lowerer {
        module,
        ctx,
        fctx: FunctionBuilderContext::new(),
        prefix: step_name.to_string(),
        consts: Vec::new(),
        kernels: Vec::new(),
        scratch_len: 0,
        graph,
        plan,
    };
    l.define_consts()?;
    for id in graph.node_ids() {
        node::lower(&mut l, id)?;
    }
    let step = l.define_step(step_name, linkage)?;
    Ok(LoweredStep {
        step,
        scratch_len: l.scratch_len,
        consts: l.consts,
    })
}

impl<M: Module> Lowerer<'_, M> {
    fn ptr(&self) -> Type {
        self.module.target_config().pointer_type()
    }

    fn define_consts(&mut self) -> Result<()> {
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
        let gvs: Vec<_> = self
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
        let bases: Vec<Value> = locs
            .iter()
            .map(|loc| {
                let base = match loc.space {
                    Space::Table(slot) => {
                        b.ins()
                            .load(ptr, mem(), table, (slot * ptr.bytes() as usize) as i32)
                    }
                    Space::Const(j) => b.ins().symbol_value(ptr, gvs[j]),
                };
                if loc.offset == 0 {
                    base
                } else {
                    b.ins().iadd_imm_u(base, (loc.offset * 4) as i64)
                }
            })
            .collect();
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
        self.module
            .define_function(fid, &mut self.ctx)
            .map_err(|e| CodegenError::Cranelift(format!("kernel for node {id}: {e:?}")))?;
        self.module.clear_context(&mut self.ctx);
        self.kernels.push((fid, n_chunks));
        Ok(())
    }

    fn define_step(&mut self, name: &str, linkage: Linkage) -> Result<FuncId> {
        let ptr = self.ptr();
        let parallel_for = self.import(PARALLEL_FOR_SYMBOL, &[ptr, ptr, I64])?;
        let mut sig = self.module.make_signature();
        sig.params.push(AbiParam::new(ptr));
        let step = self.module.declare_function(name, linkage, &sig)?;
        self.ctx.func.signature = sig;
        self.ctx.func.name = UserFuncName::user(0, step.as_u32());
        let pf = self
            .module
            .declare_func_in_func(parallel_for, &mut self.ctx.func);
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
        for (f, n) in refs {
            if n <= 1 {
                let zero = b.ins().iconst(I64, 0);
                b.ins().call(f, &[table, zero]);
            } else {
                let addr = b.ins().func_addr(ptr, f);
                let count = b.ins().iconst(I64, n as i64);
                b.ins().call(pf, &[addr, table, count]);
            }
        }
        b.ins().return_(&[]);
        b.seal_all_blocks();
        b.finalize(cfg);
        self.module
            .define_function(step, &mut self.ctx)
            .map_err(|e| CodegenError::Cranelift(format!("step function: {e:?}")))?;
        self.module.clear_context(&mut self.ctx);
        Ok(step)
    }
}

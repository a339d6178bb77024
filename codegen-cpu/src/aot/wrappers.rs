//! The exported C functions of a model object: thin wrappers that call the runtime's
//! `kiln_aot_*` functions, passing the model description where needed and, for an entry
//! point, its index and its input/output pointers packed into an array on the stack.
//!
//! | exported | calls |
//! |---|---|
//! | `<m>_create(path)` | `kiln_aot_create(desc, path)` |
//! | `<m>_destroy(inst)` | `kiln_aot_destroy(inst)` |
//! | `<m>_get_weights(inst, i, dst)` | `kiln_aot_get_weights(inst, i, dst)` |
//! | `<m>_set_weights(inst, i, src)` | `kiln_aot_set_weights(inst, i, src)` |
//! | `<m>_param_index(name)` | `kiln_aot_param_index(desc, name)` |
//! | `<m>_<entry>(inst, a0, .., an)` | `kiln_aot_run(inst, entry index, {a0, .., an})` |

use cranelift_codegen::Context;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{
    AbiParam, InstBuilder, StackSlotData, StackSlotKind, Type, UserFuncName,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{DataId, Linkage, Module};

use super::spec::Spec;
use crate::error::{CodegenError, Result};

/// What a wrapper passes before its own arguments.
#[derive(Clone, Copy)]
enum Prefix {
    /// Nothing: the arguments are forwarded as they are.
    None,
    /// The model description's address.
    Desc,
    /// The first argument, then the entry index, then the remaining `n` pointer arguments
    /// as one pointer to an array on the stack.
    Entry { index: u64, n: usize },
}

/// One exported wrapper.
struct Wrapper {
    export: String,
    params: Vec<Type>,
    ret: Option<Type>,
    callee: &'static str,
    prefix: Prefix,
}

/// Define every exported wrapper of `spec` in `module`, calling the runtime with `desc`.
pub(crate) fn define<M: Module>(module: &mut M, spec: &Spec, desc: DataId) -> Result<()> {
    let ptr = module.target_config().pointer_type();
    let m = spec.name;
    let w = |name: &str, params: Vec<Type>, ret: Option<Type>, callee, prefix| Wrapper {
        export: format!("{m}_{name}"),
        params,
        ret,
        callee,
        prefix,
    };
    let mut all = vec![
        w(
            "create",
            vec![ptr],
            Some(ptr),
            "kiln_aot_create",
            Prefix::Desc,
        ),
        w("destroy", vec![ptr], None, "kiln_aot_destroy", Prefix::None),
        w(
            "get_weights",
            vec![ptr, I64, ptr],
            Some(I32),
            "kiln_aot_get_weights",
            Prefix::None,
        ),
        w(
            "set_weights",
            vec![ptr, I64, ptr],
            Some(I32),
            "kiln_aot_set_weights",
            Prefix::None,
        ),
        w(
            "param_index",
            vec![ptr],
            Some(I64),
            "kiln_aot_param_index",
            Prefix::Desc,
        ),
    ];
    for (index, e) in spec.entries.iter().enumerate() {
        let n = e.inputs.len() + e.outputs.len();
        all.push(w(
            e.name,
            vec![ptr; 1 + n],
            Some(I32),
            "kiln_aot_run",
            Prefix::Entry {
                index: index as u64,
                n,
            },
        ));
    }
    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    for wrapper in all {
        define_one(module, &mut ctx, &mut fctx, &wrapper, desc)?;
    }
    Ok(())
}

fn define_one<M: Module>(
    module: &mut M,
    ctx: &mut Context,
    fctx: &mut FunctionBuilderContext,
    w: &Wrapper,
    desc: DataId,
) -> Result<()> {
    let ptr = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    sig.params
        .extend(w.params.iter().map(|&t| AbiParam::new(t)));
    sig.returns.extend(w.ret.map(AbiParam::new));
    let mut callee_sig = module.make_signature();
    let callee_params: Vec<Type> = match w.prefix {
        Prefix::None => w.params.clone(),
        Prefix::Desc => [ptr].into_iter().chain(w.params.iter().copied()).collect(),
        Prefix::Entry { .. } => vec![ptr, I64, ptr],
    };
    callee_sig
        .params
        .extend(callee_params.into_iter().map(AbiParam::new));
    callee_sig.returns.extend(w.ret.map(AbiParam::new));
    let callee = module.declare_function(w.callee, Linkage::Import, &callee_sig)?;
    let id = module.declare_function(&w.export, Linkage::Export, &sig)?;
    ctx.func.signature = sig;
    ctx.func.name = UserFuncName::user(0, id.as_u32());
    let callee = module.declare_func_in_func(callee, &mut ctx.func);
    let desc = module.declare_data_in_func(desc, &mut ctx.func);
    let cfg = module.target_config();
    let mut b = FunctionBuilder::new(&mut ctx.func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let args = b.block_params(entry).to_vec();
    let call_args = match w.prefix {
        Prefix::None => args,
        Prefix::Desc => [b.ins().symbol_value(ptr, desc)]
            .into_iter()
            .chain(args)
            .collect(),
        Prefix::Entry { index, n } => {
            let bytes = (n.max(1) * ptr.bytes() as usize) as u32;
            let slot = b.create_sized_stack_slot(StackSlotData::new(
                StackSlotKind::ExplicitSlot,
                bytes,
                3,
            ));
            for (k, &a) in args[1..].iter().enumerate() {
                b.ins()
                    .stack_store(ptr, a, slot, (k * ptr.bytes() as usize) as i32);
            }
            let array = b.ins().stack_addr(ptr, slot, 0);
            let index = b.ins().iconst(I64, index as i64);
            vec![args[0], index, array]
        }
    };
    let call = b.ins().call(callee, &call_args);
    let results = b.inst_results(call).to_vec();
    b.ins().return_(&results);
    b.seal_all_blocks();
    b.finalize(cfg);
    module
        .define_function(id, ctx)
        .map_err(|e| CodegenError::Cranelift(format!("wrapper {}: {e:?}", w.export)))?;
    module.clear_context(ctx);
    Ok(())
}

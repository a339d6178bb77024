//! Kiln's Cranelift CPU backend: a fused, memory-planned [`ir::Graph`] becomes one compiled
//! step function.
//!
//! ```text
//! compile(graph, plan)                 -> Executable (JIT; run it with a State per caller)
//! compile_with_ready_hooks(graph, plan) -> Executable whose run_notifying hands each output
//!                                         to a listener as soon as its kernel has run
//! emit_object(graph, plan, symbol)     -> object bytes (one step, raw table convention)
//! emit_model(name, entries, params, _) -> AotModel: <name>.o + <name>.h (+ .weights), a C
//!                                         API linked with libkiln_cpu_runtime.a (see aot)
//! clif(graph, plan, target)            -> the CLIF of every function, before Cranelift
//!                                         compiles it (for reading and snapshot tests)
//! ```
//!
//! ```
//! use ir::{BinaryOp, Graph, MemoryPlan, UnaryOp};
//!
//! let mut g = Graph::new();
//! let x = g.input("x", [2, 3]);
//! let b = g.param("b", [3]);
//! let y = g.binary(BinaryOp::Add, x, b).unwrap();
//! let y = g.unary(UnaryOp::Relu, y).unwrap();
//! g.add_output("y", y).unwrap();
//!
//! let exe = codegen_cpu::compile(&g, &MemoryPlan::naive(&g)).unwrap();
//! let mut state = exe.new_state(); // parameters start at zero
//! state.set_param("b", &[1.0, -1.0, 0.5]).unwrap();
//! let out = exe.run(&mut state, &[("x", &[1.0, 2.0, 3.0, -4.0, 0.0, 1.0])]).unwrap();
//! assert_eq!(out[0].1.data, [2.0, 1.0, 3.5, 0.0, 0.0, 1.5]);
//! ```
//!
//! Map: [`abi`] is the calling convention; `module` lowers a graph into any
//! `cranelift_module::Module` (one lowering for both paths) through a `lowerer::Lowerer`
//! (constants, one function per kernel, the step function), dispatching per node in
//! `node` to `lower::{elementwise, reduce, pool, movement, random, contraction}`;
//! `lower::program` is the elementwise op table and `lower::math` the vectorised
//! transcendentals; [`contract`] holds the tuned matmul/conv kernels the code calls;
//! `kiln_parallel_for` (the worker pool) lives in the `kiln-cpu-runtime` crate. `isa`
//! picks the target ISA; `ready` is the hook a step calls when an output is final; `jit` compiles into an [`Executable`] (`executable`: running
//! compiled steps with a [`State`] or a [`Workspace`] per caller); `clif` shows the CLIF.
//!
//! Architecture invariant: compiled code never reads or writes out of bounds — every
//! offset comes from the checked memory plan and static shapes, and [`Executable::run`]
//! checks every input's length before any compiled code runs.

pub mod abi;
pub mod aot;
mod clif;
pub mod error;
mod executable;
mod isa;
mod jit;
mod lower;
mod lowerer;
mod module;
mod node;
mod ready;

pub use aot::{AotEntry, AotModel, AotOptions, WeightStorage, emit_model, emit_object};
pub use clif::clif;
pub use error::CodegenError;
pub use executable::{Executable, State, Workspace};
pub use ir::Leaf;
pub use jit::{compile, compile_with_ready_hooks};
/// The worker pool lives in the runtime crate (`kiln-cpu-runtime`), which C programs link.
pub(crate) use kiln_cpu_runtime::parallel;
pub use kiln_cpu_runtime::{contract, kiln_parallel_for};
pub use lowerer::ClifFunction;

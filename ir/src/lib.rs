//! Kiln's graph IR: the one data structure every other crate speaks.
//!
//! A [`Graph`] is a DAG of [`Node`]s; each node holds an [`Op`] and the [`Shape`] that shape
//! inference gave it. Nodes are appended in topological order (an operand always exists
//! before its user), so insertion order *is* a valid schedule. The graph also lists its
//! `outputs` (what a step returns) and `updates` (new values for persistent parameters).
//!
//! What lives here and nowhere else:
//! - the closed set of primitive ops ([`op`]) and the fused ops that only fusion creates
//!   ([`fused`], [`multi`]) — backend-neutral data the CPU and GPU backends both consume;
//! - shape inference ([`infer`]), the verifier ([`verify`]), the text form ([`text`]);
//! - the reference interpreter ([`interp`]) that *defines* what every op means;
//! - the memory plan data ([`memory_plan`]) that passes produce and codegen consumes.
//!
//! Architecture invariant: `ir` knows nothing about Cranelift, WGSL, Keras or files on disk.

pub mod error;
pub mod fused;
pub mod graph;
pub mod ids;
pub mod infer;
pub mod interp;
pub mod kernels;
pub mod leaf;
pub mod memory_plan;
pub mod multi;
pub mod op;
pub mod random;
pub mod shape;
pub mod size;
pub mod tensor;
pub mod text;
pub mod verify;

pub use error::IrError;
pub use fused::{AnchoredEpilogue, FusedOp, Instr, Program};
pub use graph::{Graph, Node, NodeId};
pub use leaf::Leaf;
pub use memory_plan::{MemoryPlan, Storage};
pub use multi::{Loop, LoopResult, MultiKernel};
pub use op::{BinaryOp, Conv2dAttrs, Op, Padding, Pool2dAttrs, PoolKind, ReduceOp, UnaryOp};
pub use shape::Shape;
pub use tensor::Tensor;

//! Kiln's GPU backend: a fused, memory-planned [`ir::Graph`] becomes a sequence of WGSL
//! compute kernels run by wgpu (Vulkan; Metal and DX12 on their platforms).
//!
//! ```text
//! generate(graph, plan)        -> Vec<Kernel>   (WGSL text, bindings, grids; no GPU needed)
//! Gpu::new()                   -> Gpu           (adapter + device)
//! gpu.compile(graph, plan)     -> GpuExecutable (validated pipelines, constants uploaded)
//! exe.new_state()              -> GpuState      (parameters and arena in device memory)
//! exe.run(&mut state, inputs)  -> outputs       (one submission per step)
//! ```
//!
//! ```no_run
//! use ir::{BinaryOp, Graph, MemoryPlan, UnaryOp};
//!
//! let mut g = Graph::new();
//! let x = g.input("x", [2, 3]);
//! let b = g.param("b", [3]);
//! let y = g.binary(BinaryOp::Add, x, b).unwrap();
//! let y = g.unary(UnaryOp::Relu, y).unwrap();
//! g.add_output("y", y).unwrap();
//!
//! let gpu = codegen_gpu::Gpu::new().unwrap(); // fails clearly without a Vulkan driver
//! let exe = gpu.compile(&g, &MemoryPlan::naive(&g)).unwrap();
//! let mut state = exe.new_state().unwrap(); // parameters start at zero, on the device
//! state.set_param("b", &[1.0, -1.0, 0.5]).unwrap();
//! let out = exe.run(&mut state, &[("x", &[1.0, 2.0, 3.0, -4.0, 0.0, 1.0])]).unwrap();
//! assert_eq!(out[0].1.data, [2.0, 1.0, 3.5, 0.0, 0.0, 1.5]);
//! ```
//!
//! Map: `wgsl` generates the kernels from a few templates (`elementwise`, `gemm`,
//! `window`, `reduce`) sharing one scalar op table (`wgsl::scalar`); [`kernel`] describes
//! what a kernel binds and where values live; [`validate()`] checks WGSL with naga; `device`
//! finds an adapter; `runtime` owns buffers and pipelines and runs steps.
//!
//! The execution model is the one [`ir::MemoryPlan::validate`] describes: each value
//! lives in the arena, an input, a parameter or a constant buffer; kernels run in node
//! order; copied parameter updates and output read-backs follow the last kernel. Parameters
//! stay in device memory across runs; only the requested outputs come back.
//!
//! # Testing
//!
//! The GPU tests run everywhere `cargo test` runs, on Mesa's lavapipe (a Vulkan driver on
//! the CPU: `apt-get install mesa-vulkan-drivers libvulkan1` on Debian/Ubuntu). Where no
//! adapter exists they skip themselves, saying so once per test binary;
//! `KILN_GPU_TESTS=require` (set by CI) makes that a failure and `KILN_GPU_TESTS=skip` skips
//! them without looking (see [`gpu_tests_enabled`], which the frontend's GPU tests use too).
//! The WGSL generation tests (naga validation, snapshots; `BLESS=1` rewrites the snapshots)
//! need no GPU.

mod device;
pub mod error;
pub mod kernel;
mod runtime;
mod test_gate;
mod validate;
mod wgsl;

pub use device::Gpu;
pub use error::GpuError;
pub use ir::Leaf;
pub use kernel::{Binding, Kernel, Loc, Space};
pub use runtime::{GpuExecutable, GpuState};
pub use test_gate::{GPU_TESTS_VAR, gpu_tests_enabled};
pub use validate::validate;
pub use wgsl::{generate, generate_within};

//! Where a compiled model runs: [`Device`] (chosen at [`crate::Model::compile_on`]) and the
//! one GPU (adapter + device) the process shares, created on first use.
//!
//! `Device::Gpu` needs a GPU adapter (Vulkan; Metal or DX12 on their platforms): without
//! one, compiling fails with an error that says how to install a Vulkan driver
//! (`apt-get install mesa-vulkan-drivers libvulkan1` on Debian/Ubuntu). `Device::Auto` takes
//! the GPU when an adapter exists and the CPU otherwise; [`crate::Model::device`] says which.

use std::sync::Mutex;

use codegen_gpu::Gpu;

use crate::error::Result;

/// The device a model is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Device {
    /// The CPU backend (native code through Cranelift). What [`crate::Model::compile`] uses.
    #[default]
    Cpu,
    /// The GPU backend (WGSL kernels run by wgpu); an error when there is no GPU adapter.
    Gpu,
    /// The GPU when an adapter exists, else the CPU.
    Auto,
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Device::Cpu => "cpu",
            Device::Gpu => "gpu",
            Device::Auto => "auto",
        })
    }
}

/// A resolved device: the backend that compiles and runs a model's graphs.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// `codegen_cpu`.
    Cpu,
    /// `codegen_gpu` on the process's shared GPU.
    Gpu(Gpu),
}

impl Backend {
    /// Resolve `device`: `Gpu` fails without an adapter, `Auto` falls back to the CPU.
    pub(crate) fn resolve(device: Device) -> Result<Backend> {
        match device {
            Device::Cpu => Ok(Backend::Cpu),
            Device::Gpu => Ok(Backend::Gpu(shared_gpu()?)),
            Device::Auto => Ok(shared_gpu().map_or(Backend::Cpu, Backend::Gpu)),
        }
    }

    /// The device this backend is: `Cpu` or `Gpu`, never `Auto`.
    pub(crate) fn device(&self) -> Device {
        match self {
            Backend::Cpu => Device::Cpu,
            Backend::Gpu(_) => Device::Gpu,
        }
    }

    /// A human-readable description: `cpu`, or `gpu: <adapter> (<api>)`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Backend::Cpu => "cpu".into(),
            Backend::Gpu(gpu) => format!("gpu: {}", gpu.adapter_name()),
        }
    }
}

/// The GPU every model of this process shares, created on first success (a failed attempt
/// is retried by the next call, so installing a driver needs no restart of a long session).
pub(crate) fn shared_gpu() -> Result<Gpu> {
    static GPU: Mutex<Option<Gpu>> = Mutex::new(None);
    let mut slot = GPU
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(gpu) = slot.as_ref() {
        return Ok(gpu.clone());
    }
    let gpu = Gpu::new()?;
    *slot = Some(gpu.clone());
    Ok(gpu)
}

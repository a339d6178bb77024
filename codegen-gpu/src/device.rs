//! The GPU: adapter and device selection, and the tiny executor that resolves wgpu's
//! futures (native wgpu resolves them on the spot or on a device poll).

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::error::{GpuError, Result};

/// A device and its queue, shared by every executable compiled on it. Cheap to clone.
#[derive(Clone)]
pub struct Gpu {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Gpu({} on {:?})",
            self.inner.info.name, self.inner.info.backend
        )
    }
}

/// Run a future to completion on this thread.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        std::thread::yield_now();
    }
}

impl Gpu {
    /// The highest-performance adapter the enabled backends offer (Vulkan; Metal or DX12
    /// on their platforms), with the adapter's own limits. Fails with
    /// [`GpuError::NoAdapter`], saying how to install a driver, when there is none.
    pub fn new() -> Result<Gpu> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        };
        let adapter = block_on(instance.request_adapter(&options))
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let limits = adapter.limits();
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("kiln"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) = block_on(adapter.request_device(&descriptor))
            .map_err(|e| GpuError::Device(e.to_string()))?;
        Ok(Gpu {
            inner: Arc::new(Inner {
                device,
                queue,
                info: adapter.get_info(),
                limits,
            }),
        })
    }

    /// The adapter's name and backend, e.g. `llvmpipe (LLVM 15.0.6) (Vulkan)`.
    pub fn adapter_name(&self) -> String {
        format!("{} ({:?})", self.inner.info.name, self.inner.info.backend)
    }

    /// The largest buffer, in bytes, a kernel can bind.
    pub fn max_binding_bytes(&self) -> u64 {
        self.inner
            .limits
            .max_storage_buffer_binding_size
            .min(self.inner.limits.max_buffer_size)
    }

    /// Run `f` inside a validation error scope: a device error becomes [`GpuError::Device`]
    /// naming `what`, instead of the default panic.
    pub(crate) fn checked<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        let scope = self
            .inner
            .device
            .push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        match block_on(scope.pop()) {
            None => Ok(value),
            Some(e) => Err(GpuError::Device(format!("{what}: {e}"))),
        }
    }
}

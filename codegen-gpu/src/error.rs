//! The GPU backend's error type: every failure names the node, input, buffer or shader at
//! fault, and a missing GPU says how to install a driver.

use thiserror::Error;

/// Errors raised while generating shaders, compiling a graph or running a compiled step.
#[derive(Debug, Error)]
pub enum GpuError {
    /// The memory plan does not fit the graph.
    #[error("memory plan: node {node}: {msg}")]
    Plan {
        /// The node, printed as `%n`.
        node: String,
        /// What is wrong.
        msg: String,
    },
    /// The graph holds something this backend cannot lower.
    #[error("unsupported: node {node} ({op}): {msg}")]
    Unsupported {
        /// The node, printed as `%n`.
        node: String,
        /// The op's text name.
        op: String,
        /// Why.
        msg: String,
    },
    /// A generated shader failed naga's parser or validator (a backend bug).
    #[error("generated WGSL for {kernel} is invalid: {msg}")]
    InvalidShader {
        /// The kernel's label (names the node).
        kernel: String,
        /// naga's diagnostic.
        msg: String,
    },
    /// No GPU adapter was found.
    #[error(
        "no GPU adapter found ({0}). Install a Vulkan driver: on Debian/Ubuntu \
         `apt-get install mesa-vulkan-drivers libvulkan1` (lavapipe, a CPU Vulkan driver, is enough \
         for testing); or set KILN_GPU_TESTS=skip to skip GPU tests"
    )]
    NoAdapter(String),
    /// The device refused something (device creation, a pipeline, a buffer, a submission).
    #[error("GPU device: {0}")]
    Device(String),
    /// A buffer is larger than the device can bind.
    #[error(
        "buffer {buffer} needs {bytes} bytes, but the device binds at most {limit} bytes per storage buffer"
    )]
    BufferTooLarge {
        /// Which buffer (arena, an input, a parameter, a constant).
        buffer: String,
        /// Its size in bytes.
        bytes: u64,
        /// The device's `max_storage_buffer_binding_size` (or `max_buffer_size`).
        limit: u64,
    },
    /// An input was missing, unknown, or of the wrong length.
    #[error("input `{name}`: {msg}")]
    Input {
        /// The input's name.
        name: String,
        /// What is wrong.
        msg: String,
    },
    /// A parameter name is unknown or the value has the wrong length.
    #[error("param `{name}`: {msg}")]
    Param {
        /// The parameter's name.
        name: String,
        /// What is wrong.
        msg: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = GpuError> = std::result::Result<T, E>;

//! Kiln's Cranelift CPU backend.

pub mod contract;

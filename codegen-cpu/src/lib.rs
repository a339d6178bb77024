//! Kiln's Cranelift CPU backend.

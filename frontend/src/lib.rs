//! Kiln: the user-facing crate.

//! How each op is spelled: its name, its attributes (`key`, `key=atom` or `key=[a, b]`) and
//! its fused program. [`encode()`] and [`decode()`] are the two directions of one table, kept side
//! by side in this folder so that the printer and the parser cannot drift apart:
//!
//! - `encode.rs`: op to name, attributes and program text (the printer's side);
//! - `decode.rs`: name, attributes and program back to an op, and a multi-result kernel's
//!   loop lines (the parser's side);
//! - `attrs.rs`: an attribute's written value and the parsed set with its typed getters;
//! - `names.rs`: elementwise ops and reductions looked up by name;
//! - `atoms.rs`: how floats, integers and shapes are spelled.

mod atoms;
mod attrs;
mod decode;
mod encode;
mod names;

pub(super) use atoms::{checked_shape, format_f32, parse_f32, parse_usize};
pub(super) use attrs::{AttrValue, Attrs};
pub(super) use decode::{decode, decode_loop};
pub(super) use encode::{encode, format_loop, format_program};
pub(super) use names::{binary_named, unary_named};

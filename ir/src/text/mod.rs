//! The IR's text form: [`print()`] writes a [`Graph`] deterministically, [`parse()`] reads it back.
//! `print(parse(print(g)))` is `print(g)`, and the parsed graph equals `g` node by node, floats
//! bit for bit.
//!
//! ```text
//! graph {
//!   %0 = input "x" [100, 784]
//!   %1 = param "w1" [784, 300]
//!   %2 = const [] 0.5                       ; a scalar
//!   %3 = const [2, 2] [1.0, 2.0, 3.0, 4.0]  ; row-major values
//!   %4 = const [300] splat 0.0              ; every element the same
//!   %5 = matmul %0, %1 transpose_b : [100, 300]
//!   %6 = add %5, %2 : [100, 300]
//!   %7 = reduce.sum %6 axes=[1] keep_dims : [100, 1]
//!   %8 = fused.elementwise %5, %6 { r0 = in 0, r1 = const 1.5, r2 = relu r0, r3 = add r1 r2 } : [100, 300]
//!   output "loss" = %7
//!   update %1 = %9
//! }
//! ```
//!
//! # Grammar
//!
//! One statement per line; `;` starts a comment that runs to the end of the line; blank lines
//! are ignored. A fused program's `{ ... }` may span several lines.
//!
//! - `%name = input "x" [dims]` and `%name = param "w" [dims]`: leaves with a quoted name
//!   (escapes `\" \\ \n \r \t \u{hex}`).
//! - `%name = const [dims] DATA` where DATA is one float for a rank-0 shape, `splat F` (all
//!   elements equal) or `[F, F, ...]` in row-major order.
//! - `%name = OP %a, %b, ... ATTRS [{ PROGRAM }] [: [dims]]` for every other op. `OP` is
//!   [`crate::infer::op_name`]: a unary or binary op's `name()`, `select`, `reduce.<op>`,
//!   `matmul`, `conv2d`, `conv2d_backprop_input`, `conv2d_backprop_filter`, `pool2d`,
//!   `depthwise_conv2d`, `depthwise_conv2d_backprop_input`, `depthwise_conv2d_backprop_filter`,
//!   `pool2d_grad`, `reshape`, `transpose`, `broadcast`, `stop_gradient`, `slice`, `concat`, `pad`,
//!   `random_uniform`, `extract`, `fused.elementwise`, `fused.matmul`, `fused.conv2d`,
//!   `fused.depthwise_conv2d`, `fused.pool2d`, `fused.reduce`. Each attribute is `key` (a flag that is true; absent means false),
//!   `key=atom` or `key=[a, b, ...]`:
//!   - `reduce.<op>`: `axes=[..]`, flag `keep_dims`;
//!   - `matmul`, `fused.matmul`: flags `transpose_a`, `transpose_b`;
//!   - conv ops (`conv2d`, `depthwise_conv2d`, their `*_backprop_*`, `fused.conv2d`,
//!     `fused.depthwise_conv2d`): `strides=[h, w]`,
//!     `dilation=[h, w]`, `padding=valid|same|[top, bottom, left, right]`, plus
//!     `input_shape=[..]` / `filter_shape=[..]` for the two gradients;
//!   - pool ops (`pool2d`, `pool2d_grad`, `fused.pool2d`): `kind=max|avg`, `window=[h, w]`,
//!     `strides=[h, w]`, `padding=...` as for conv;
//!   - `reshape`, `broadcast`, `random_uniform`: `shape=[..]`; `transpose`: `perm=[..]`;
//!     `slice`: `starts=[..] ends=[..]`; `concat`: `axis=n`;
//!     `pad`: `before=[..] after=[..] value=F`;
//!   - `fused.reduce`: `op=sum|mean|max|min|argmax`, `axes=[..]`, flag `keep_dims`,
//!     `input_shape=[..]`.
//!
//!   - `extract`: `index=n`, `shape=[..]` (result `n` of a `fused.multi`).
//!
//!   Fused ops end with their program: `{ r0 = in 0, r1 = const 1.5, r2 = relu r0,
//!   r3 = add r1 r2, r4 = select r0 r1 r2 }`; register `ri` is instruction `i`, and each reads
//!   only earlier registers.
//! - `%name = fused.multi %a, %b, ... {`, then one loop per line, `loop domain=[dims]
//!   [axes=[..]] results=[R, ...] { PROGRAM }` (`axes` only when the loop reduces), then
//!   `} : [0]`. A result `R` is `r<i>` (register `i` at every element of the domain),
//!   `<reduction>.r<i>` (its reduction over the axes) or `<reduction>.r<i>.keep_dims`.
//! - `output "name" = %n` and `update %param = %value`.
//!
//! Floats are written in Rust's shortest round-trip form (`0.5`, `1e-45`, `-0.0`, `inf`,
//! `-inf`, `NaN`); a NaN other than the canonical `f32::NAN` is written as its bit pattern,
//! e.g. `0xffc00001`, so every value round-trips bit-exactly.
//!
//! # Node names
//!
//! The printer names nodes `%0, %1, ...` by id and writes the result shape after `:` for every
//! non-leaf node. The parser accepts any names made of letters, digits and `_` (`%h1`,
//! `%logits`), each defined once and before its first use, and **renumbers**: nodes get dense
//! ids in the order they are defined, so printing a parsed graph gives canonical names.
//!
//! # What parsing checks
//!
//! Every node is rebuilt with [`Graph::add`], which re-infers its shape; a written shape that
//! disagrees is an error naming the line. Updates go through [`Graph::add_update`]. Parsing
//! does *not* run [`crate::verify::verify`] (so duplicate names, for example, parse fine);
//! callers that need a well-formed graph verify the result. All errors are
//! [`IrError::Parse`](crate::IrError::Parse) with the 1-based line.

mod lexer;
mod parse;
mod print;
mod syntax;

use std::fmt;

use crate::graph::Graph;

pub use parse::parse;
pub use print::print;

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print(self))
    }
}

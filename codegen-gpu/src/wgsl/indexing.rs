//! The indexing ops: `gather` (rows of a table picked by ids) and `scatter_add` (update rows
//! summed into the rows their ids name). An id is valid when it is an integer in `[0, rows)`
//! ([`ir::ids::row_of`]; checked exactly, in u32 once the f32 is known to be a whole number
//! below 2^32): `gather` writes zeros for an invalid id and `scatter_add` drops its row, so no
//! invocation reads or writes outside a buffer's range.
//!
//! WGSL has no f32 atomics, so `scatter_add` gives every invocation a column `j` and a block
//! of `R` consecutive rows that it alone writes: it zeroes them, then walks all `N` ids in
//! order, adding the updates of the ids in its block. With `B` row blocks the work is
//! `O(V·D + B·D·N)` for a `[V, D]` result (not the `O(V·D·N)` of one invocation per result
//! element), each invocation running `R + N` steps; `B` is chosen so that `B·D` is about
//! [`SCATTER_INVOCATIONS`]. Each element sums its updates in id order, as the interpreter
//! does, so the result matches it exactly.
//!
//! Not here: the check that rejects bad ids bound to an input before any dispatch
//! (`ir::leaf::bind_leaves`, run by the runtime).

use super::layout::flat_main;
use super::module::Module;
use crate::error::Result;

/// About how many invocations a `scatter_add` runs (columns × row blocks).
const SCATTER_INVOCATIONS: usize = 4096;

/// WGSL for "`{id}` is a valid id of a table of `rows` rows".
fn valid(id: &str, rows: usize) -> String {
    format!("{id} >= 0.0 && {id} < 4294967296.0 && floor({id}) == {id} && u32({id}) < {rows}u")
}

/// `out[i, j] = table[ids[i], j]` (zero for an invalid id), one invocation per element.
pub(super) fn gather(m: &mut Module) -> Result<(String, [u32; 3])> {
    let table = m.operand_shape(0);
    let rows = table.dims()[0];
    let width = table.dims()[1..].iter().product::<usize>().max(1);
    let n = m.shape().numel();
    let (obuf, obase) = m.output()?;
    let (tbuf, tbase) = m.operand(0)?;
    let (ibuf, ibase) = m.operand(1)?;
    let body = format!(
        "    let id = {ibuf}[{ibase}u + i / {width}u];\n    var v = 0.0;\n    if ({}) {{ v = {tbuf}[{tbase}u + u32(id) * {width}u + i % {width}u]; }}\n    {obuf}[{obase}u + i] = v;\n",
        valid("id", rows)
    );
    Ok(flat_main(n, &body))
}

/// `out` (`[rows, width]`) as the sum of `updates[i, ..]` into row `ids[i]`; see the module
/// doc for how the work is split.
pub(super) fn scatter_add(m: &mut Module) -> Result<(String, [u32; 3])> {
    let out = m.shape().clone();
    let rows = out.dims()[0];
    let width = out.dims()[1..].iter().product::<usize>().max(1);
    let n = m.operand_shape(0).numel();
    let (obuf, obase) = m.output()?;
    let (ibuf, ibase) = m.operand(0)?;
    let (ubuf, ubase) = m.operand(1)?;
    let blocks = SCATTER_INVOCATIONS.div_ceil(width).clamp(1, rows.max(1));
    let per_block = rows.div_ceil(blocks).max(1);
    // An empty result (a zero-width row) runs no invocation.
    let invocations = if out.numel() == 0 { 0 } else { blocks * width };
    let body = format!(
        "    let j = i % {width}u;\n    let first = (i / {width}u) * {per_block}u;\n    let end = min(first + {per_block}u, {rows}u);\n    for (var r = first; r < end; r++) {{ {obuf}[{obase}u + r * {width}u + j] = 0.0; }}\n    for (var k = 0u; k < {n}u; k++) {{\n        let id = {ibuf}[{ibase}u + k];\n        if ({}) {{\n            let r = u32(id);\n            if (r >= first && r < end) {{\n                let at = {obase}u + r * {width}u + j;\n                {obuf}[at] = {obuf}[at] + {ubuf}[{ubase}u + k * {width}u + j];\n            }}\n        }}\n    }}\n",
        valid("id", rows)
    );
    Ok(flat_main(invocations, &body))
}

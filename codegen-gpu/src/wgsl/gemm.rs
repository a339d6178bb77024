//! The one matrix-product template: a tiled, register-blocked GEMM. Each invocation
//! accumulates an 8x4 block of the result in registers (rows and columns strided by 8, so
//! neighbouring invocations read neighbouring columns); a workgroup of 8x8 invocations
//! covers a 64x32 tile; workgroup z is the batch. Operands are read through two loader
//! functions `load_a(z, m, k)` and `load_b(z, k, n)`, so the matmul and the three
//! convolutions (implicit GEMM: the loaders compute the im2col index on the fly and read 0
//! in the padding) are loaders into this template, and the epilogue runs at the store.

use ir::{Conv2dAttrs, Program};

use super::layout::{Axis, window_axes};
use super::module::Module;
use crate::error::Result;

/// Columns of the result block one invocation computes (one `vec4` per row).
const BLOCK: usize = 4;
/// Rows of the result block one invocation computes.
const ROWS: usize = 8;
/// Invocations per workgroup along each axis.
const GROUP: usize = 8;

/// The matrix shape: batch, rows, columns, contracted length.
struct Dims {
    batch: usize,
    m: usize,
    n: usize,
    k: usize,
}

/// The GEMM module: constants, the given loader bodies, the store with the epilogue
/// (extra inputs are operands `first_extra..`), and the blocked main loop.
fn template(
    m: &mut Module,
    dims: Dims,
    load_a: &str,
    load_b: &str,
    epilogue: &Program,
    first_extra: usize,
) -> Result<(String, [u32; 3])> {
    let groups_x = dims.n.div_ceil(BLOCK * GROUP);
    let groups_y = dims.m.div_ceil(ROWS * GROUP);
    if groups_x > 65535 || groups_y > 65535 || dims.batch > 65535 {
        return Err(m.unsupported(&format!(
            "a {}x{}x{} product over {} batches exceeds the dispatch limits",
            dims.m, dims.n, dims.k, dims.batch
        )));
    }
    let (obuf, obase) = m.output()?;
    let (epi, result) = m.epilogue(epilogue, first_extra, "acc", "o", "    ")?;
    let Dims {
        m: rows,
        n: cols,
        k: depth,
        ..
    } = dims;
    m.decls.push_str(&format!(
        "const M: u32 = {rows}u;\nconst N: u32 = {cols}u;\nconst K: u32 = {depth}u;\n\n\
         fn load_a(z: u32, m: u32, k: u32) -> f32 {{\n{load_a}}}\n\n\
         fn load_b(z: u32, k: u32, n: u32) -> f32 {{\n{load_b}}}\n\n\
         fn store(z: u32, row: u32, col: u32, acc: f32) {{\n    let o = (z * M + row) * N + col;\n{epi}    {obuf}[{obase}u + o] = {result};\n}}\n"
    ));
    let main = gemm_main();
    Ok((
        main,
        [
            groups_x.max(1) as u32,
            groups_y.max(1) as u32,
            dims.batch.max(1) as u32,
        ],
    ))
}

/// Batched `[.., m, k] x [.., k, n]` with optional transposes, then `epilogue`.
pub(super) fn matmul(
    m: &mut Module,
    transpose_a: bool,
    transpose_b: bool,
    epilogue: &Program,
) -> Result<(String, [u32; 3])> {
    let out = m.shape().clone();
    let rank = out.rank();
    if rank < 2 {
        return Err(m.unsupported("a matmul result has rank 2 or more"));
    }
    let (rows, cols) = (out.dims()[rank - 2], out.dims()[rank - 1]);
    let a_shape = m.operand_shape(0);
    let depth = if transpose_a {
        a_shape.dims()[rank - 2]
    } else {
        a_shape.dims()[rank - 1]
    };
    let (abuf, abase) = m.operand(0)?;
    let (bbuf, bbase) = m.operand(1)?;
    let a_at = if transpose_a {
        "k * M + m"
    } else {
        "m * K + k"
    };
    let b_at = if transpose_b {
        "n * K + k"
    } else {
        "k * N + n"
    };
    let load_a = format!("    return {abuf}[{abase}u + z * (M * K) + {a_at}];\n");
    let load_b = format!("    return {bbuf}[{bbase}u + z * (K * N) + {b_at}];\n");
    let batch = out.dims()[..rank - 2].iter().product();
    template(
        m,
        Dims {
            batch,
            m: rows,
            n: cols,
            k: depth,
        },
        &load_a,
        &load_b,
        epilogue,
        2,
    )
}

/// Statements splitting `flat` into `names` (outermost first) of a box of `dims`.
fn split(flat: &str, names: [&str; 3], dims: [usize; 3]) -> String {
    let [outer, mid, inner] = names;
    format!(
        "    let {inner} = {flat} % {}u;\n    let {mid} = ({flat} / {}u) % {}u;\n    let {outer} = {flat} / {}u;\n",
        dims[2],
        dims[2],
        dims[1],
        dims[2] * dims[1]
    )
}

/// Statements computing the input coordinates `iy`, `ix` (i32) read by output `oy`, `ox`
/// at window cell `ky`, `kx`, and returning 0 outside the input.
fn tap_in_input(h: &Axis, w: &Axis) -> String {
    format!(
        "    let iy = i32(oy * {}u + ky * {}u) - {};\n    let ix = i32(ox * {}u + kx * {}u) - {};\n    if (iy < 0 || iy >= {} || ix < 0 || ix >= {}) {{ return 0.0; }}\n",
        h.stride, h.dilation, h.pad, w.stride, w.dilation, w.pad, h.input, w.input
    )
}

/// The window of a convolution whose input has shape `input` and filter `filter`.
fn conv_axes(
    m: &Module,
    input: &ir::Shape,
    filter: &ir::Shape,
    attrs: &Conv2dAttrs,
) -> Result<[Axis; 2]> {
    window_axes(
        input,
        [filter.dims()[0], filter.dims()[1]],
        attrs.strides,
        attrs.dilation,
        attrs.padding,
    )
    .ok_or_else(|| m.unsupported("the convolution window does not fit its input"))
}

/// Conv2d as an implicit GEMM: rows are output positions `(n, oy, ox)`, columns output
/// channels, the contraction runs over `(ky, kx, c)` (the HWIO filter is already `[K, O]`).
pub(super) fn conv2d(
    m: &mut Module,
    attrs: &Conv2dAttrs,
    epilogue: &Program,
) -> Result<(String, [u32; 3])> {
    let (x, f) = (m.operand_shape(0), m.operand_shape(1));
    let [h, w] = conv_axes(m, &x, &f, attrs)?;
    let (batch, c, o) = (x.dims()[0], x.dims()[3], f.dims()[3]);
    let (xbuf, xbase) = m.operand(0)?;
    let (fbuf, fbase) = m.operand(1)?;
    let load_a = format!(
        "{}{}{}    return {xbuf}[{xbase}u + ((nb * {}u + u32(iy)) * {}u + u32(ix)) * {c}u + ci];\n",
        split("m", ["nb", "oy", "ox"], [batch, h.output, w.output]),
        split("k", ["ky", "kx", "ci"], [f.dims()[0], f.dims()[1], c]),
        tap_in_input(&h, &w),
        h.input,
        w.input
    );
    let load_b = format!("    return {fbuf}[{fbase}u + k * N + n];\n");
    let dims = Dims {
        batch: 1,
        m: batch * h.output * w.output,
        n: o,
        k: f.dims()[0] * f.dims()[1] * c,
    };
    template(m, dims, &load_a, &load_b, epilogue, 2)
}

/// The input gradient as an implicit GEMM: rows are input positions `(n, iy, ix)`,
/// columns input channels, the contraction runs over `(ky, kx, o)`; a tap contributes when
/// it lands on a strided output position.
pub(super) fn conv2d_backprop_input(
    m: &mut Module,
    attrs: &Conv2dAttrs,
) -> Result<(String, [u32; 3])> {
    let (f, x) = (m.operand_shape(1), m.shape().clone());
    let [h, w] = conv_axes(m, &x, &f, attrs)?;
    let (batch, c, o) = (x.dims()[0], x.dims()[3], f.dims()[3]);
    let (dybuf, dybase) = m.operand(0)?;
    let (fbuf, fbase) = m.operand(1)?;
    let load_a = format!(
        "{}{}    let ty = i32(iy + {}u) - i32(ky * {}u);\n    let tx = i32(ix + {}u) - i32(kx * {}u);\n    if (ty < 0 || tx < 0 || u32(ty) % {}u != 0u || u32(tx) % {}u != 0u) {{ return 0.0; }}\n    let oy = u32(ty) / {}u;\n    let ox = u32(tx) / {}u;\n    if (oy >= {}u || ox >= {}u) {{ return 0.0; }}\n    return {dybuf}[{dybase}u + ((nb * {}u + oy) * {}u + ox) * {o}u + oc];\n",
        split("m", ["nb", "iy", "ix"], [batch, h.input, w.input]),
        split("k", ["ky", "kx", "oc"], [f.dims()[0], f.dims()[1], o]),
        h.pad,
        h.dilation,
        w.pad,
        w.dilation,
        h.stride,
        w.stride,
        h.stride,
        w.stride,
        h.output,
        w.output,
        h.output,
        w.output
    );
    let load_b = format!(
        "    let oc = k % {o}u;\n    let tap = k / {o}u;\n    return {fbuf}[{fbase}u + (tap * {c}u + n) * {o}u + oc];\n"
    );
    let dims = Dims {
        batch: 1,
        m: batch * h.input * w.input,
        n: c,
        k: f.dims()[0] * f.dims()[1] * o,
    };
    template(m, dims, &load_a, &load_b, &Program::identity(), 2)
}

/// The filter gradient as a GEMM: rows are filter rows `(ky, kx, c)`, columns output
/// channels, the contraction runs over output positions `(n, oy, ox)`.
pub(super) fn conv2d_backprop_filter(
    m: &mut Module,
    attrs: &Conv2dAttrs,
) -> Result<(String, [u32; 3])> {
    let (x, f) = (m.operand_shape(0), m.shape().clone());
    let [h, w] = conv_axes(m, &x, &f, attrs)?;
    let (batch, c, o) = (x.dims()[0], x.dims()[3], f.dims()[3]);
    let (xbuf, xbase) = m.operand(0)?;
    let (dybuf, dybase) = m.operand(1)?;
    let load_a = format!(
        "{}{}{}    return {xbuf}[{xbase}u + ((nb * {}u + u32(iy)) * {}u + u32(ix)) * {c}u + ci];\n",
        split("m", ["ky", "kx", "ci"], [f.dims()[0], f.dims()[1], c]),
        split("k", ["nb", "oy", "ox"], [batch, h.output, w.output]),
        tap_in_input(&h, &w),
        h.input,
        w.input
    );
    let load_b = format!("    return {dybuf}[{dybase}u + k * N + n];\n");
    let dims = Dims {
        batch: 1,
        m: f.dims()[0] * f.dims()[1] * c,
        n: o,
        k: batch * h.output * w.output,
    };
    template(m, dims, &load_a, &load_b, &Program::identity(), 2)
}

/// The blocked main loop: invocation `(x, y)` owns rows `y + 8i` (`i < ROWS`) and
/// columns `x + 8j` (`j < BLOCK`) of its workgroup's tile, so neighbouring invocations
/// read neighbouring columns; rows and columns past the edge repeat the last one and are
/// not stored.
fn gemm_main() -> String {
    let mut text = format!(
        "@compute @workgroup_size({GROUP}, {GROUP})\nfn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {{\n    let row0 = wg.y * {}u + lid.y;\n    let col0 = wg.x * {}u + lid.x;\n    if (row0 >= M || col0 >= N) {{ return; }}\n    let z = wg.z;\n",
        ROWS * GROUP,
        BLOCK * GROUP
    );
    let cols: Vec<String> = (0..BLOCK)
        .map(|j| {
            if j == 0 {
                "col0".into()
            } else {
                format!("min(col0 + {}u, N - 1u)", j * GROUP)
            }
        })
        .collect();
    text.push_str(&format!("    let c = vec4<u32>({});\n", cols.join(", ")));
    for i in 0..ROWS {
        let row = if i == 0 {
            "row0".to_string()
        } else {
            format!("min(row0 + {}u, M - 1u)", i * GROUP)
        };
        text.push_str(&format!(
            "    let r{i} = {row};\n    var acc{i} = vec4<f32>(0.0);\n"
        ));
    }
    text.push_str("    for (var k = 0u; k < K; k++) {\n        let bv = vec4<f32>(load_b(z, k, c.x), load_b(z, k, c.y), load_b(z, k, c.z), load_b(z, k, c.w));\n");
    for i in 0..ROWS {
        text.push_str(&format!(
            "        acc{i} = fma(vec4<f32>(load_a(z, r{i}, k)), bv, acc{i});\n"
        ));
    }
    text.push_str(&format!("    }}\n    for (var j = 0u; j < {BLOCK}u; j++) {{\n        let col = col0 + j * {GROUP}u;\n        if (col >= N) {{ break; }}\n        store(z, row0, col, acc0[j]);\n"));
    for i in 1..ROWS {
        text.push_str(&format!(
            "        if (row0 + {o}u < M) {{ store(z, row0 + {o}u, col, acc{i}[j]); }}\n",
            o = i * GROUP
        ));
    }
    text.push_str("    }\n}\n");
    text
}

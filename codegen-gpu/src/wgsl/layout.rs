//! Index arithmetic shared by every template: flat dispatch grids, flat index to
//! coordinates, coordinates to strided offsets, and window geometry.

use ir::{Padding, Shape};

/// Invocations per workgroup of the flat (one invocation per element) kernels.
pub(crate) const FLAT_GROUP: usize = 64;

/// The most workgroups along one dispatch axis (WebGPU's guaranteed limit).
const MAX_GROUPS_PER_AXIS: usize = 65535;

/// A dispatch grid of `groups` workgroups, folded into y when x would exceed the limit.
/// Kernels number their workgroups `wg.y * nwg.x + wg.x` and skip the ones past the end.
pub(crate) fn grid(groups: usize) -> [u32; 3] {
    let groups = groups.max(1);
    if groups <= MAX_GROUPS_PER_AXIS {
        [groups as u32, 1, 1]
    } else {
        [
            MAX_GROUPS_PER_AXIS as u32,
            groups.div_ceil(MAX_GROUPS_PER_AXIS) as u32,
            1,
        ]
    }
}

/// The entry point of a flat kernel over `n` elements: `body` runs with `i` the element.
pub(crate) fn flat_main(n: usize, body: &str) -> (String, [u32; 3]) {
    let text = format!(
        "@compute @workgroup_size({FLAT_GROUP})\nfn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {{\n    let i = (wg.y * nwg.x + wg.x) * {FLAT_GROUP}u + lid;\n    if (i >= {n}u) {{ return; }}\n{body}}}\n"
    );
    (text, grid(n.div_ceil(FLAT_GROUP)))
}

/// Statements defining `{prefix}{k}` as coordinate `k` of the row-major flat index `flat`
/// in a box of `dims` (axes of size 1 are the constant 0).
pub(crate) fn coords(dims: &[usize], flat: &str, prefix: &str, indent: &str) -> String {
    let strides = Shape::new(dims.to_vec()).strides();
    let mut out = String::new();
    for (k, (&d, &s)) in dims.iter().zip(&strides).enumerate() {
        let value = if d == 1 {
            "0u".to_string()
        } else if k == 0 {
            if s == 1 {
                flat.to_string()
            } else {
                format!("{flat} / {s}u")
            }
        } else if s == 1 {
            format!("{flat} % {d}u")
        } else {
            format!("({flat} / {s}u) % {d}u")
        };
        out.push_str(&format!("{indent}let {prefix}{k} = {value};\n"));
    }
    out
}

/// `base + Σ {prefix}{k} * strides[k]` as a u32 expression (zero strides dropped).
pub(crate) fn offset(base: usize, strides: &[usize], prefix: &str) -> String {
    let mut terms: Vec<String> = strides
        .iter()
        .enumerate()
        .filter(|&(_, &s)| s != 0)
        .map(|(k, &s)| {
            if s == 1 {
                format!("{prefix}{k}")
            } else {
                format!("{prefix}{k} * {s}u")
            }
        })
        .collect();
    if base != 0 || terms.is_empty() {
        terms.insert(0, format!("{base}u"));
    }
    terms.join(" + ")
}

/// One spatial axis of a windowed op, resolved: input size, output size, window (cells,
/// undilated), stride, dilation, padding before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Axis {
    pub input: usize,
    pub output: usize,
    pub window: usize,
    pub stride: usize,
    pub dilation: usize,
    pub pad: usize,
}

/// The H and W axes of a window of `window` cells over an NHWC input `input`; `None` when
/// it does not fit (shape inference has rejected such graphs).
pub(crate) fn window_axes(
    input: &Shape,
    window: [usize; 2],
    strides: [usize; 2],
    dilation: [usize; 2],
    padding: Padding,
) -> Option<[Axis; 2]> {
    let axis = |a: usize| {
        let extent = window[a].checked_sub(1)? * dilation[a] + 1;
        let r = padding.resolve(a, input.dims()[1 + a], extent, strides[a])?;
        Some(Axis {
            input: input.dims()[1 + a],
            output: r.out,
            window: window[a],
            stride: strides[a],
            dilation: dilation[a],
            pad: r.pad_before,
        })
    };
    Some([axis(0)?, axis(1)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_and_offsets_skip_trivial_terms() {
        assert_eq!(
            coords(&[2, 1, 3], "i", "c", ""),
            "let c0 = i / 3u;\nlet c1 = 0u;\nlet c2 = i % 3u;\n"
        );
        assert_eq!(offset(4, &[0, 0, 1], "c"), "4u + c2");
        assert_eq!(offset(0, &[0, 0], "c"), "0u");
        assert_eq!(grid(70000), [65535, 2, 1]);
    }
}

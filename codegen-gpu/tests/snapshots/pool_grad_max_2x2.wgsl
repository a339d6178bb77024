// %2 pool2d_grad -> [2, 7, 6, 3]
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read> b2: array<f32>;

fn k_isnan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn k_max(a: f32, b: f32) -> f32 {
    return select(select(max(a, b), b, k_isnan(b)), a, k_isnan(a));
}

fn k_min(a: f32, b: f32) -> f32 {
    return select(select(min(a, b), b, k_isnan(b)), a, k_isnan(a));
}

fn k_relu(x: f32) -> f32 {
    return select(max(x, 0.0), x, k_isnan(x));
}

fn k_sign(x: f32) -> f32 {
    return select(sign(x), x, k_isnan(x));
}

fn window_source(nb: u32, oy: u32, ox: u32, ch: u32) -> u32 {
    var best = 0.0;
    var src = 0xffffffffu;
    for (var ky = 0u; ky < 2u; ky++) {
        let sy = i32(oy * 2u + ky * 1u) - 0;
        if (sy < 0 || sy >= 7) { continue; }
        let iy = u32(sy);
        for (var kx = 0u; kx < 2u; kx++) {
            let sx = i32(ox * 2u + kx * 1u) - 0;
            if (sx < 0 || sx >= 6) { continue; }
            let ix = u32(sx);
            let v = b1[0u + ((nb * 7u + iy) * 6u + ix) * 3u + ch];
            if (src == 0xffffffffu || (!k_isnan(best) && (v > best || k_isnan(v)))) { best = v; src = iy * 6u + ix; }
        }
    }
    return src;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wg.y * nwg.x + wg.x) * 64u + lid;
    if (i >= 252u) { return; }
    let c0 = i / 126u;
    let c1 = (i / 18u) % 7u;
    let c2 = (i / 3u) % 6u;
    let c3 = i % 3u;
    var acc = 0.0;
    for (var ky = 0u; ky < 2u; ky++) {
        let ty = i32(c1 + 0u) - i32(ky * 1u);
        if (ty < 0 || ty % 2 != 0 || ty / 2 >= 3) { continue; }
        let oy = u32(ty / 2);
        for (var kx = 0u; kx < 2u; kx++) {
            let tx = i32(c2 + 0u) - i32(kx * 1u);
            if (tx < 0 || tx % 2 != 0 || tx / 2 >= 3) { continue; }
            let ox = u32(tx / 2);
            let g = b2[0u + ((c0 * 3u + oy) * 3u + ox) * 3u + c3];
            if (window_source(c0, oy, ox, c3) == c1 * 6u + c2) { acc += g; }
        }
    }
    b0[0u + i] = acc;
}


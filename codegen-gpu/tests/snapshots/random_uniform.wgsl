// %1 random_uniform -> [5, 40]
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;

fn k_mix32(v: u32) -> u32 {
    var x = v;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

fn k_uniform(seed: u32, index: u32) -> f32 {
    let bits = k_mix32(index ^ k_mix32(seed + 0x9e3779b9u));
    return f32(bits >> 8u) * (1.0 / 16777216.0);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wg.y * nwg.x + wg.x) * 64u + lid;
    if (i >= 200u) { return; }
    let seed = u32(max(b1[0u], 0.0));
    b0[0u + i] = k_uniform(seed, i);
}


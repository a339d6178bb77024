// %1 transpose -> [4, 2, 3]
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wg.y * nwg.x + wg.x) * 64u + lid;
    if (i >= 24u) { return; }
    let c0 = i / 6u;
    let c1 = (i / 3u) % 2u;
    let c2 = i % 3u;
    let r0 = b1[c0 + c1 * 12u + c2 * 4u];
    b0[0u + i] = r0;
}


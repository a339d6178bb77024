// %2 fused.reduce -> []
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read> b2: array<f32>;

var<workgroup> part: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = wg.y * nwg.x + wg.x;
    let in_range = o < 1u;
    var acc = 0.0;
    if (in_range) {
        for (var r = lid; r < 66u; r += 64u) {
        let q0 = r / 11u;
        let q1 = r % 11u;
        let c0 = q0;
        let c1 = q1;
        let r0 = b1[c0 * 11u + c1];
        let r1 = b2[c0 * 11u + c1];
        let r2 = (r0 - r1);
        let r3 = (r2 * r2);
        acc += r3;
        }
    }
    part[lid] = acc;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s >>= 1u) {
        if (lid < s) {
            part[lid] += part[lid + s];
        }
        workgroupBarrier();
    }
    if (in_range && lid == 0u) {
        b0[0u + o] = part[0] / 66.0f;
    }
}

// %3 fused.elementwise -> [6, 11]
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read> b2: array<f32>;

fn k_tanh(x: f32) -> f32 {
    if ((bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u) { return x; }
    return tanh(clamp(x, -15.0, 15.0));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wg.y * nwg.x + wg.x) * 64u + lid;
    if (i >= 66u) { return; }
    let r0 = b1[i];
    let r1 = exp(r0);
    let r2 = b2[i];
    let r3 = k_tanh(r2);
    let r4 = (r1 * r3);
    let r5 = 0.5f;
    let r6 = (r4 + r5);
    b0[16u + i] = r6;
}


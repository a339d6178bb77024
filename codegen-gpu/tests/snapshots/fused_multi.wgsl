// %2 fused.multi -> [0]
@group(0) @binding(0) var<storage, read> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;

fn k_tanh(x: f32) -> f32 {
    if ((bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u) { return x; }
    return tanh(clamp(x, -15.0, 15.0));
}

var<workgroup> part: array<f32, 64>;
var<workgroup> part_at: array<u32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let g = wg.y * nwg.x + wg.x;
    if (g < 1u) {
        let b = g - 0u;
        let o = b;
        var acc0 = 0.0;
        var at0 = 0xffffffffu;
        for (var r = lid; r < 66u; r += 64u) {
            let q0 = r / 11u;
            let q1 = r % 11u;
            let c0 = q0;
            let c1 = q1;
            let e = c0 * 11u + c1;
            let r0 = b0[0u + e];
            let r1 = b1[0u + e];
            let r2 = (r0 - r1);
            let r3 = (r2 * r2);
            let r4 = exp(r0);
            let r5 = k_tanh(r1);
            let r6 = (r4 * r5);
            let r7 = 0.5f;
            let r8 = (r6 + r7);
            b2[16u + e] = r8;
            acc0 += r3;
        }
        workgroupBarrier();
        part[lid] = acc0;
        part_at[lid] = at0;
        workgroupBarrier();
        for (var s = 32u; s > 0u; s >>= 1u) {
            if (lid < s) {
                part[lid] += part[lid + s];
            }
            workgroupBarrier();
        }
        if (lid == 0u) {
            b2[0u + o] = part[0] / 66.0f;
        }
    }
}


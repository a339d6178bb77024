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


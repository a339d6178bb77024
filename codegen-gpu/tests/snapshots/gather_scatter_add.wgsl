// %3 mul -> [3, 4]
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read> b2: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wg.y * nwg.x + wg.x) * 64u + lid;
    if (i >= 12u) { return; }
    let c0 = i / 4u;
    let c1 = i % 4u;
    let r0 = b1[i];
    let r1 = b2[0u];
    let r2 = (r0 * r1);
    b0[0u + i] = r2;
}

// %4 floor -> [3, 4]
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wg.y * nwg.x + wg.x) * 64u + lid;
    if (i >= 12u) { return; }
    let r0 = b0[i];
    let r1 = floor(r0);
    b0[0u + i] = r1;
}

// %5 gather -> [3, 4, 4]
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wg.y * nwg.x + wg.x) * 64u + lid;
    if (i >= 48u) { return; }
    let id = b0[0u + i / 4u];
    var v = 0.0;
    if (id >= 0.0 && id < 4294967296.0 && floor(id) == id && u32(id) < 5u) { v = b1[0u + u32(id) * 4u + i % 4u]; }
    b0[16u + i] = v;
}

// %6 scatter_add -> [5, 4]
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wg.y * nwg.x + wg.x) * 64u + lid;
    if (i >= 20u) { return; }
    let j = i % 4u;
    let first = (i / 4u) * 1u;
    let end = min(first + 1u, 5u);
    for (var r = first; r < end; r++) { b0[64u + r * 4u + j] = 0.0; }
    for (var k = 0u; k < 12u; k++) {
        let id = b0[0u + k];
        if (id >= 0.0 && id < 4294967296.0 && floor(id) == id && u32(id) < 5u) {
            let r = u32(id);
            if (r >= first && r < end) {
                let at = 64u + r * 4u + j;
                b0[at] = b0[at] + b0[16u + k * 4u + j];
            }
        }
    }
}


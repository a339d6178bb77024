// %3 fused.matmul -> [9, 10]
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read> b2: array<f32>;
@group(0) @binding(3) var<storage, read> b3: array<f32>;

const M: u32 = 9u;
const N: u32 = 10u;
const K: u32 = 13u;

fn load_a(z: u32, m: u32, k: u32) -> f32 {
    return b1[0u + z * (M * K) + m * K + k];
}

fn load_b(z: u32, k: u32, n: u32) -> f32 {
    return b2[0u + z * (K * N) + k * N + n];
}

fn store(z: u32, row: u32, col: u32, acc: f32) {
    let o = (z * M + row) * N + col;
    let e0 = o / 10u;
    let e1 = o % 10u;
    let p0 = acc;
    let p1 = b3[e1];
    let p2 = (p0 + p1);
    let p3 = max(p2, 0.0);
    b0[0u + o] = p3;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = (wg.y * 8u + lid.y) * 4u;
    let col0 = (wg.x * 8u + lid.x) * 4u;
    if (row0 >= M || col0 >= N) { return; }
    let z = wg.z;
    // Rows and columns past the edge repeat the last one; their results are not stored.
    let r1 = min(row0 + 1u, M - 1u);
    let r2 = min(row0 + 2u, M - 1u);
    let r3 = min(row0 + 3u, M - 1u);
    let c1 = min(col0 + 1u, N - 1u);
    let c2 = min(col0 + 2u, N - 1u);
    let c3 = min(col0 + 3u, N - 1u);
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k = 0u; k < K; k++) {
        let bv = vec4<f32>(load_b(z, k, col0), load_b(z, k, c1), load_b(z, k, c2), load_b(z, k, c3));
        acc0 = fma(vec4<f32>(load_a(z, row0, k)), bv, acc0);
        acc1 = fma(vec4<f32>(load_a(z, r1, k)), bv, acc1);
        acc2 = fma(vec4<f32>(load_a(z, r2, k)), bv, acc2);
        acc3 = fma(vec4<f32>(load_a(z, r3, k)), bv, acc3);
    }
    for (var j = 0u; j < 4u; j++) {
        let col = col0 + j;
        if (col >= N) { break; }
        store(z, row0, col, acc0[j]);
        if (row0 + 1u < M) { store(z, row0 + 1u, col, acc1[j]); }
        if (row0 + 2u < M) { store(z, row0 + 2u, col, acc2[j]); }
        if (row0 + 3u < M) { store(z, row0 + 3u, col, acc3[j]); }
    }
}


// %3 fused.matmul -> [9, 10]
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read> b2: array<f32>;
@group(0) @binding(3) var<storage, read> b3: array<f32>;

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
    let p3 = k_relu(p2);
    b0[0u + o] = p3;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = wg.y * 64u + lid.y;
    let col0 = wg.x * 32u + lid.x;
    if (row0 >= M || col0 >= N) { return; }
    let z = wg.z;
    let c = vec4<u32>(col0, min(col0 + 8u, N - 1u), min(col0 + 16u, N - 1u), min(col0 + 24u, N - 1u));
    let r0 = row0;
    var acc0 = vec4<f32>(0.0);
    let r1 = min(row0 + 8u, M - 1u);
    var acc1 = vec4<f32>(0.0);
    let r2 = min(row0 + 16u, M - 1u);
    var acc2 = vec4<f32>(0.0);
    let r3 = min(row0 + 24u, M - 1u);
    var acc3 = vec4<f32>(0.0);
    let r4 = min(row0 + 32u, M - 1u);
    var acc4 = vec4<f32>(0.0);
    let r5 = min(row0 + 40u, M - 1u);
    var acc5 = vec4<f32>(0.0);
    let r6 = min(row0 + 48u, M - 1u);
    var acc6 = vec4<f32>(0.0);
    let r7 = min(row0 + 56u, M - 1u);
    var acc7 = vec4<f32>(0.0);
    for (var k = 0u; k < K; k++) {
        let bv = vec4<f32>(load_b(z, k, c.x), load_b(z, k, c.y), load_b(z, k, c.z), load_b(z, k, c.w));
        acc0 = fma(vec4<f32>(load_a(z, r0, k)), bv, acc0);
        acc1 = fma(vec4<f32>(load_a(z, r1, k)), bv, acc1);
        acc2 = fma(vec4<f32>(load_a(z, r2, k)), bv, acc2);
        acc3 = fma(vec4<f32>(load_a(z, r3, k)), bv, acc3);
        acc4 = fma(vec4<f32>(load_a(z, r4, k)), bv, acc4);
        acc5 = fma(vec4<f32>(load_a(z, r5, k)), bv, acc5);
        acc6 = fma(vec4<f32>(load_a(z, r6, k)), bv, acc6);
        acc7 = fma(vec4<f32>(load_a(z, r7, k)), bv, acc7);
    }
    for (var j = 0u; j < 4u; j++) {
        let col = col0 + j * 8u;
        if (col >= N) { break; }
        store(z, row0, col, acc0[j]);
        if (row0 + 8u < M) { store(z, row0 + 8u, col, acc1[j]); }
        if (row0 + 16u < M) { store(z, row0 + 16u, col, acc2[j]); }
        if (row0 + 24u < M) { store(z, row0 + 24u, col, acc3[j]); }
        if (row0 + 32u < M) { store(z, row0 + 32u, col, acc4[j]); }
        if (row0 + 40u < M) { store(z, row0 + 40u, col, acc5[j]); }
        if (row0 + 48u < M) { store(z, row0 + 48u, col, acc6[j]); }
        if (row0 + 56u < M) { store(z, row0 + 56u, col, acc7[j]); }
    }
}


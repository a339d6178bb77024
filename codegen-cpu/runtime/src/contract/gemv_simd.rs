//! The vector kernels of the matrix-vector product ([`super::gemv`]) on x86-64: one
//! generic body per layout written against [`Lanes`] (a vector of f32 lanes and the few
//! operations the kernels need), instantiated for AVX-512F and for AVX2+FMA in functions
//! compiled with those target features. The bodies are `#[inline(always)]` so that each
//! instantiation, and the intrinsics inside it, are compiled with its features.
//!
//! It does NOT choose the layout or the instruction set (see `gemv`), and it has no
//! portable code: on other architectures the `gemv` portable kernels run instead.

use std::mem::MaybeUninit;

use super::gemv::{GEMV_ROWS, GEMV_TILE, Gemv, GemvIsa};

/// Run the row kernel (`B` with contiguous rows) on `isa`.
///
/// # Safety
/// As for [`Gemv::run`], with `B`'s column stride 1 (or `n == 1`) and `isa` a vector ISA the
/// CPU has.
pub(super) unsafe fn rows(g: &Gemv, isa: GemvIsa) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the caller's contract: the CPU has `isa`'s features.
    unsafe {
        match isa {
            GemvIsa::Avx512 => x86::rows_avx512(g),
            GemvIsa::Avx2Fma => x86::rows_avx2(g),
            GemvIsa::Portable => unreachable!("the portable kernels live in gemv"),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("{isa:?} on a CPU without x86-64 vector kernels for {g:?}")
}

/// Run the column kernel (`B` with contiguous columns, `x` contiguous) on `isa`.
///
/// # Safety
/// As for [`Gemv::run`], with `B`'s row stride and `x`'s stride 1 (or `k <= 1`) and `isa`
/// a vector ISA the CPU has.
pub(super) unsafe fn cols(g: &Gemv, isa: GemvIsa) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the caller's contract: the CPU has `isa`'s features.
    unsafe {
        match isa {
            GemvIsa::Avx512 => x86::cols_avx512(g),
            GemvIsa::Avx2Fma => x86::cols_avx2(g),
            GemvIsa::Portable => unreachable!("the portable kernels live in gemv"),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("{isa:?} on a CPU without x86-64 vector kernels for {g:?}")
}

/// A vector of `LANES` f32s and the operations the kernels use. Every method is unsafe:
/// it may only run where the implementing ISA's features are enabled, and pointers must be
/// valid for the lanes they touch.
trait Lanes {
    type V: Copy;
    const LANES: usize;
    unsafe fn zero() -> Self::V;
    unsafe fn splat(v: f32) -> Self::V;
    /// `LANES` elements at `p`.
    unsafe fn load(p: *const f32) -> Self::V;
    /// The first `len < LANES` elements at `p` (reading no others), zeros after.
    unsafe fn load_part(p: *const f32, len: usize) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    /// `a * b + c`, rounded once.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sum(v: Self::V) -> f32;
}

/// The row kernel: for each tile of up to [`GEMV_TILE`] columns, a stack tile accumulates
/// [`GEMV_ROWS`] rows of `B` per pass (each row read front to back), then is written out.
///
/// # Safety
/// As for [`rows`], with `L`'s features enabled.
#[inline(always)]
unsafe fn rows_body<L: Lanes>(g: &Gemv) {
    // Uninitialised: each pass zeroes the vectors it uses before reading them.
    let mut tile = MaybeUninit::<[f32; GEMV_TILE]>::uninit();
    let acc = tile.as_mut_ptr().cast::<f32>();
    let x = |l: usize| unsafe { L::splat(*g.x.add(l * g.x_stride)) };
    for j0 in (0..g.n).step_by(GEMV_TILE) {
        let width = GEMV_TILE.min(g.n - j0);
        let (full, rest) = (width / L::LANES * L::LANES, width % L::LANES);
        // The tile is a whole number of vectors (GEMV_TILE is a multiple of LANES), so the
        // lanes past `width` are accumulated too (from zeros) and never written out.
        let vectors = width.div_ceil(L::LANES);
        // SAFETY: every pointer below stays in the tile (`vectors * LANES <= GEMV_TILE`) or
        // in row `l`, columns `j0..j0 + width` of `B` (the caller's contract; the tail is
        // read with `load_part`, which reads no lane past the row's end).
        unsafe {
            for v in 0..vectors {
                L::store(acc.add(v * L::LANES), L::zero());
            }
            let row = |l: usize| g.b.add(l * g.b_row_stride + j0);
            let mut l = 0;
            while l + GEMV_ROWS <= g.k {
                let xs: [L::V; GEMV_ROWS] = std::array::from_fn(|i| x(l + i));
                let rs: [*const f32; GEMV_ROWS] = std::array::from_fn(|i| row(l + i));
                let mut j = 0;
                while j < full {
                    let mut a = L::load(acc.add(j));
                    for i in 0..GEMV_ROWS {
                        a = L::fmadd(xs[i], L::load(rs[i].add(j)), a);
                    }
                    L::store(acc.add(j), a);
                    j += L::LANES;
                }
                if rest > 0 {
                    let mut a = L::load(acc.add(full));
                    for i in 0..GEMV_ROWS {
                        a = L::fmadd(xs[i], L::load_part(rs[i].add(full), rest), a);
                    }
                    L::store(acc.add(full), a);
                }
                l += GEMV_ROWS;
            }
            for l in l..g.k {
                let (xl, r) = (x(l), row(l));
                for v in 0..vectors {
                    let j = v * L::LANES;
                    let w = if j < full {
                        L::load(r.add(j))
                    } else {
                        L::load_part(r.add(j), rest)
                    };
                    L::store(acc.add(j), L::fmadd(xl, w, L::load(acc.add(j))));
                }
            }
            for j in 0..width {
                g.write(j0 + j, *acc.add(j));
            }
        }
    }
}

/// The register kernel, for rows of at most `V` vectors (`V == ceil(n / LANES)`): all of
/// `y` in `V` vector registers, every row of `B` read front to back once, no memory traffic
/// but the weights. It sums in the order of [`rows_body`] (row after row, fused), so the
/// two give the same bits. On the 2-core Zen 4 host (AVX-512, warm weights, medians of
/// 20,000 calls) the MNIST MLP's three products took 11.3 us this way against 12.5 us with
/// the stack tile (1x784x300 alone: 9.6 against 10.2 us; reading its 940 KB alone: 9.2 us).
///
/// # Safety
/// As for [`rows`], with `L`'s features enabled and `n` in `(V - 1) * LANES + 1 ..= V * LANES`.
#[inline(always)]
unsafe fn rows_in_registers<L: Lanes, const V: usize>(g: &Gemv) {
    let (full, rest) = (g.n / L::LANES, g.n % L::LANES);
    debug_assert_eq!(g.n.div_ceil(L::LANES), V);
    // SAFETY: row `l` holds `n` contiguous elements (the caller's contract); the vector past
    // the full ones is read with `load_part`, which reads no lane past the row's end.
    unsafe {
        let mut acc = [L::zero(); V];
        for l in 0..g.k {
            let xl = L::splat(*g.x.add(l * g.x_stride));
            let row = g.b.add(l * g.b_row_stride);
            for (v, a) in acc.iter_mut().enumerate() {
                let w = if v < full {
                    L::load(row.add(v * L::LANES))
                } else {
                    L::load_part(row.add(v * L::LANES), rest)
                };
                *a = L::fmadd(xl, w, *a);
            }
        }
        let mut sums = MaybeUninit::<[f32; GEMV_TILE]>::uninit();
        let sums = sums.as_mut_ptr().cast::<f32>();
        for (v, &a) in acc.iter().enumerate() {
            L::store(sums.add(v * L::LANES), a);
        }
        for j in 0..g.n {
            g.write(j, *sums.add(j));
        }
    }
}

/// Run [`rows_in_registers`] for `L` with `V` = `vectors`, one of the listed values.
macro_rules! rows_in_registers_of {
    ($lanes:ty, $g:expr, $vectors:expr, [$($v:literal)*]) => {
        match $vectors {
            $($v => rows_in_registers::<$lanes, $v>($g),)*
            other => unreachable!("no register kernel for {other} vectors"),
        }
    };
}

/// Columns the column kernel reduces at once (each with two accumulators).
const COLS: usize = 4;

/// The dot products of `x` (`k` contiguous elements) with the `C` columns at `cols` (each
/// `k` contiguous elements): two vector accumulators per column, reduced at the end.
///
/// # Safety
/// As for [`cols`], with `L`'s features enabled.
#[inline(always)]
unsafe fn dots<L: Lanes, const C: usize>(
    x: *const f32,
    k: usize,
    cols: [*const f32; C],
) -> [f32; C] {
    let step = 2 * L::LANES;
    // SAFETY: every load stays below `k` (the tail read with `load_part`, which reads no lane
    // past it); the caller vouched for `k` elements at `x` and at each column.
    unsafe {
        let mut acc = [[L::zero(); 2]; C];
        let mut l = 0;
        while l + step <= k {
            let (x0, x1) = (L::load(x.add(l)), L::load(x.add(l + L::LANES)));
            for c in 0..C {
                acc[c][0] = L::fmadd(x0, L::load(cols[c].add(l)), acc[c][0]);
                acc[c][1] = L::fmadd(x1, L::load(cols[c].add(l + L::LANES)), acc[c][1]);
            }
            l += step;
        }
        while l < k {
            let len = (k - l).min(L::LANES);
            let part = |p: *const f32| {
                if len == L::LANES {
                    L::load(p)
                } else {
                    L::load_part(p, len)
                }
            };
            let xv = part(x.add(l));
            for c in 0..C {
                acc[c][0] = L::fmadd(xv, part(cols[c].add(l)), acc[c][0]);
            }
            l += len;
        }
        acc.map(|[a, b]| L::sum(L::add(a, b)))
    }
}

/// The column kernel: [`COLS`] columns at a time, then one at a time.
///
/// # Safety
/// As for [`cols`], with `L`'s features enabled.
#[inline(always)]
unsafe fn cols_body<L: Lanes>(g: &Gemv) {
    let column = |j: usize| g.b.wrapping_add(j * g.b_col_stride);
    let mut j = 0;
    // SAFETY: columns `j..j + COLS` (or `j`) are below `n`; the caller's contract covers
    // `x`, the columns and `y`.
    unsafe {
        while j + COLS <= g.n {
            let sums = dots::<L, COLS>(g.x, g.k, std::array::from_fn(|c| column(j + c)));
            for (c, &s) in sums.iter().enumerate() {
                g.write(j + c, s);
            }
            j += COLS;
        }
        for j in j..g.n {
            g.write(j, dots::<L, 1>(g.x, g.k, [column(j)])[0]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Gemv, Lanes, cols_body, rows_body, rows_in_registers};

    /// AVX-512F: 16 lanes, masked tails.
    struct Avx512;

    impl Lanes for Avx512 {
        type V = __m512;
        const LANES: usize = 16;
        #[inline(always)]
        unsafe fn zero() -> __m512 {
            // SAFETY: the trait's contract (this ISA's features are enabled).
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(v: f32) -> __m512 {
            // SAFETY: the trait's contract (this ISA's features are enabled).
            unsafe { _mm512_set1_ps(v) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            // SAFETY: the trait's contract.
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_part(p: *const f32, len: usize) -> __m512 {
            // SAFETY: masked-off lanes are not read (no fault past the end).
            unsafe { _mm512_maskz_loadu_ps(((1u32 << len) - 1) as __mmask16, p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            // SAFETY: the trait's contract.
            unsafe { _mm512_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
            // SAFETY: the trait's contract (this ISA's features are enabled).
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            // SAFETY: the trait's contract (this ISA's features are enabled).
            unsafe { _mm512_add_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn sum(v: __m512) -> f32 {
            // SAFETY: the trait's contract (this ISA's features are enabled).
            unsafe { _mm512_reduce_add_ps(v) }
        }
    }

    /// AVX2 with FMA: 8 lanes, tails through `maskload`.
    struct Avx2;

    /// `MASKS[8 - len..][..8]` has `len` set lanes then clear ones.
    static MASKS: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];

    impl Lanes for Avx2 {
        type V = __m256;
        const LANES: usize = 8;
        #[inline(always)]
        unsafe fn zero() -> __m256 {
            // SAFETY: the trait's contract (this ISA's features are enabled).
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(v: f32) -> __m256 {
            // SAFETY: the trait's contract (this ISA's features are enabled).
            unsafe { _mm256_set1_ps(v) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            // SAFETY: the trait's contract.
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_part(p: *const f32, len: usize) -> __m256 {
            // SAFETY: `8 - len + 8 <= 16`; masked-off lanes are not read (no fault).
            unsafe {
                let mask = _mm256_loadu_si256(MASKS.as_ptr().add(8 - len).cast());
                _mm256_maskload_ps(p, mask)
            }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            // SAFETY: the trait's contract.
            unsafe { _mm256_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
            // SAFETY: the trait's contract (this ISA's features are enabled).
            unsafe { _mm256_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            // SAFETY: the trait's contract (this ISA's features are enabled).
            unsafe { _mm256_add_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn sum(v: __m256) -> f32 {
            // SAFETY: the trait's contract (this ISA's features are enabled).
            unsafe {
                let h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
                let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
                _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)))
            }
        }
    }

    /// # Safety
    /// As for [`super::rows`]; the CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn rows_avx512(g: &Gemv) {
        // Up to 24 of the 32 registers hold `y` (384 columns: a Dense layer of up to 384 units).
        let vectors = g.n.div_ceil(Avx512::LANES);
        // SAFETY: forwarded; this function is compiled with AVX-512F; `vectors` matches `n`.
        unsafe {
            if vectors <= 24 {
                rows_in_registers_of!(Avx512, g, vectors,
                    [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24])
            } else {
                rows_body::<Avx512>(g)
            }
        }
    }

    /// # Safety
    /// As for [`super::rows`]; the CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn rows_avx2(g: &Gemv) {
        // Up to 12 of the 16 registers hold `y` (96 columns).
        let vectors = g.n.div_ceil(Avx2::LANES);
        // SAFETY: forwarded; this function is compiled with AVX2 and FMA; `vectors` matches `n`.
        unsafe {
            if vectors <= 12 {
                rows_in_registers_of!(Avx2, g, vectors, [1 2 3 4 5 6 7 8 9 10 11 12])
            } else {
                rows_body::<Avx2>(g)
            }
        }
    }

    /// # Safety
    /// As for [`super::cols`]; the CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn cols_avx512(g: &Gemv) {
        // SAFETY: forwarded; this function is compiled with AVX-512F.
        unsafe { cols_body::<Avx512>(g) }
    }

    /// # Safety
    /// As for [`super::cols`]; the CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn cols_avx2(g: &Gemv) {
        // SAFETY: forwarded; this function is compiled with AVX2 and FMA.
        unsafe { cols_body::<Avx2>(g) }
    }
}

//! Loops compiled once per instruction set and picked at run time: a kernel's inner loops
//! are written once, generic over [`MulAdd`], and [`run_widest`] runs them compiled for
//! AVX-512 (with FMA), AVX2 + FMA, or the baseline, whichever the host has. The loops are
//! plain Rust over fixed-size lane arrays that the compiler vectorises; nothing here is
//! hand-written SIMD.

/// `acc + a * b`, fused where the instruction set has it.
pub(crate) trait MulAdd {
    /// `acc + a * b`.
    fn mul_add(acc: f32, a: f32, b: f32) -> f32;
}

/// A fused multiply-add instruction (only used where FMA is enabled).
pub(crate) struct Fused;
/// A separate multiply and add (no libm call on hosts without FMA).
pub(crate) struct Separate;

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(acc: f32, a: f32, b: f32) -> f32 {
        a.mul_add(b, acc)
    }
}

impl MulAdd for Separate {
    #[inline(always)]
    fn mul_add(acc: f32, a: f32, b: f32) -> f32 {
        acc + a * b
    }
}

/// A loop nest to compile per instruction set: `run` must be `#[inline(always)]` so that
/// it is compiled inside each of [`run_widest`]'s feature-enabled wrappers.
pub(crate) trait IsaLoop {
    /// Runs the loops with `F` as the multiply-add.
    ///
    /// # Safety
    /// The implementor's own contract.
    unsafe fn run<F: MulAdd>(self);
}

/// Runs `work` compiled for the widest instruction set the host has.
///
/// # Safety
/// `work`'s contract.
pub(crate) unsafe fn run_widest<L: IsaLoop>(work: L) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the features are present; the caller's contract.
            return unsafe { run_avx512(work) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: as above.
            return unsafe { run_avx2(work) };
        }
    }
    // SAFETY: the caller's contract.
    unsafe { work.run::<Separate>() }
}

/// # Safety
/// `work`'s contract, on a host with AVX-512F and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn run_avx512<L: IsaLoop>(work: L) {
    // SAFETY: forwarded.
    unsafe { work.run::<Fused>() }
}

/// # Safety
/// `work`'s contract, on a host with AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<L: IsaLoop>(work: L) {
    // SAFETY: forwarded.
    unsafe { work.run::<Fused>() }
}

//! The counter-based random number generator behind [`crate::Op::RandomUniform`].
//!
//! Every backend must produce bit-identical numbers, so the generator is a pure integer
//! function of `(seed, index)` that is cheap in Cranelift and WGSL alike: a 32-bit
//! integer hash (the "lowbias32" mixer) of `index` combined with the hashed seed, whose top
//! 24 bits become a float in `[0, 1)`.

/// One round of the lowbias32 integer mixer.
pub fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The uniform `[0, 1)` value at element `index` for `seed`.
pub fn uniform(seed: u32, index: u32) -> f32 {
    let bits = mix32(index ^ mix32(seed.wrapping_add(0x9e37_79b9)));
    (bits >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// How a seed tensor's f32 value becomes the integer seed (truncation, clamped at 0).
pub fn seed_from_f32(value: f32) -> u32 {
    value.max(0.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_is_in_range_and_roughly_uniform() {
        let n = 100_000;
        let values: Vec<f32> = (0..n).map(|i| uniform(7, i)).collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        let mean = values.iter().sum::<f32>() / n as f32;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        assert_ne!(uniform(7, 0), uniform(8, 0));
    }
}

//! How the atoms of the text form are spelled and read back: floats (bit-exact round trip),
//! non-negative integers and shapes.

use crate::shape::Shape;

/// `x` spelled so that [`parse_f32`] gives back the same bits: Rust's shortest round-trip
/// form (`0.5`, `1e-45`, `-0.0`, `inf`, `-inf`, `NaN`), except that a NaN other than the
/// canonical one is written as its bit pattern, `0x7fc00001`.
pub(in crate::text) fn format_f32(x: f32) -> String {
    if x.is_nan() && x.to_bits() != f32::NAN.to_bits() {
        format!("0x{:08x}", x.to_bits())
    } else {
        format!("{x:?}")
    }
}

/// The inverse of [`format_f32`]; also accepts any decimal Rust's `f32` parser takes.
pub(in crate::text) fn parse_f32(text: &str) -> Result<f32, String> {
    let bad = || {
        format!(
            "`{text}` is not a float (write e.g. `1.5`, `-2e-3`, `inf`, `NaN` or bits `0x7fc00001`)"
        )
    };
    if let Some(hex) = text.strip_prefix("0x") {
        return u32::from_str_radix(hex, 16)
            .map(f32::from_bits)
            .map_err(|_| bad());
    }
    let x: f32 = text.parse().map_err(|_| bad())?;
    Ok(if x.is_nan() { f32::NAN } else { x })
}

/// A shape from written dimensions, rejecting one whose element count overflows `usize`.
pub(in crate::text) fn checked_shape(dims: Vec<usize>) -> Result<Shape, String> {
    match dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) {
        Some(_) => Ok(Shape(dims)),
        None => Err(format!("shape {} has too many elements", Shape(dims))),
    }
}

/// A non-negative integer.
pub(in crate::text) fn parse_usize(text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a non-negative integer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_round_trip_bit_exactly() {
        let odd_nan = f32::from_bits(0xffc0_0001);
        for x in [
            0.0,
            -0.0,
            0.1,
            1.0 / 3.0,
            f32::MAX,
            f32::MIN_POSITIVE,
            1e-45,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            odd_nan,
        ] {
            let text = format_f32(x);
            assert_eq!(parse_f32(&text).unwrap().to_bits(), x.to_bits(), "{text}");
        }
        assert_eq!(format_f32(odd_nan), "0xffc00001");
    }
}

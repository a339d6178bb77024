//! Checked size arithmetic for every size that comes from outside: a file, a request or a flag.
//!
//! Readers turn declared dimensions into element and byte counts here, before they reserve memory
//! or start work, so that a hostile shape (a dimension near `usize::MAX`, a product that wraps) is
//! an error instead of a wrapped count, a `capacity overflow` panic or an abort in the allocator.
//! [`SizeError`] carries the dimensions at fault; callers add the file or layer name.
//!
//! What this file does not do: decide how much a given reader may allocate. A reader compares the
//! byte count from [`f32_bytes`] with what its input can justify (a file's length, a stated limit)
//! through [`ensure_within`].

use thiserror::Error;

/// The largest element count any tensor may have: its f32 bytes must fit in an `isize`, which is
/// what Rust's allocator accepts at most.
pub const MAX_ELEMENTS: usize = (isize::MAX as usize) / std::mem::size_of::<f32>();

/// A size that cannot be represented or is larger than its input justifies.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SizeError {
    /// The product of the dimensions overflows (or exceeds [`MAX_ELEMENTS`]).
    #[error(
        "shape {dims:?} has too many elements (the product overflows or exceeds {MAX_ELEMENTS})"
    )]
    Overflow {
        /// The dimensions at fault.
        dims: Vec<usize>,
    },
    /// A size is larger than the stated limit for `what`.
    #[error("{what} needs {needed} bytes, more than the {limit} bytes allowed")]
    TooLarge {
        /// What was being sized (e.g. `the tensor in "x.json"`).
        what: String,
        /// Bytes the declared shape needs.
        needed: u64,
        /// The most this input may use.
        limit: u64,
    },
}

/// The number of elements of `dims`, or an error when the product overflows or exceeds
/// [`MAX_ELEMENTS`]. A scalar (`[]`) has one element.
///
/// ```
/// assert_eq!(ir::size::checked_numel(&[2, 3, 4]), Ok(24));
/// assert!(ir::size::checked_numel(&[usize::MAX, 2]).is_err());
/// ```
pub fn checked_numel(dims: &[usize]) -> Result<usize, SizeError> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| SizeError::Overflow {
            dims: dims.to_vec(),
        })
}

/// The bytes of an f32 tensor of shape `dims`, checked as [`checked_numel`].
pub fn f32_bytes(dims: &[usize]) -> Result<u64, SizeError> {
    // MAX_ELEMENTS * 4 fits in isize, so the product cannot overflow u64.
    Ok(checked_numel(dims)? as u64 * std::mem::size_of::<f32>() as u64)
}

/// Ok when `needed <= limit`; otherwise [`SizeError::TooLarge`] naming `what`.
pub fn ensure_within(what: &str, needed: u64, limit: u64) -> Result<(), SizeError> {
    if needed <= limit {
        Ok(())
    } else {
        Err(SizeError::TooLarge {
            what: what.to_string(),
            needed,
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_that_wrap_are_errors() {
        // The product of [9223372036854776200, 2, 1] wraps to 784 in plain usize arithmetic.
        assert!(checked_numel(&[9_223_372_036_854_776_200, 2, 1]).is_err());
        assert!(checked_numel(&[1 << 62, 4]).is_err());
        assert_eq!(checked_numel(&[]), Ok(1));
        assert_eq!(checked_numel(&[0, usize::MAX]), Ok(0));
    }

    #[test]
    fn byte_counts_and_limits() {
        assert_eq!(f32_bytes(&[8, 28, 28]), Ok(8 * 28 * 28 * 4));
        assert!(f32_bytes(&[MAX_ELEMENTS + 1]).is_err());
        assert!(ensure_within("x", 10, 10).is_ok());
        let err = ensure_within("the tensor in \"x.json\"", 11, 10).unwrap_err();
        assert!(err.to_string().contains("x.json"), "{err}");
    }
}

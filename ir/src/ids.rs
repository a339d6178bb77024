//! What a valid id is: the one rule, shared by the reference interpreter, the input check
//! every backend runs ([`crate::leaf::bind_leaves`]) and the frontend, for values that pick
//! rows of a table (`gather`, `scatter_add`). Ids are carried as f32: an id is valid when it
//! is an integer in `[0, rows)`; anything else (a fraction, a negative number, a number too
//! large, NaN, an infinity) is not.
//!
//! Not here: what a kernel does with an invalid id computed inside a graph (see
//! [`crate::op::Op::Gather`]: a row of zeros).

use std::fmt;

/// The row that `id` names in a table of `rows` rows, if it is a valid id.
///
/// ```
/// assert_eq!(ir::ids::row_of(3.0, 5), Some(3));
/// assert_eq!(ir::ids::row_of(5.0, 5), None);
/// assert_eq!(ir::ids::row_of(1.5, 5), None);
/// assert_eq!(ir::ids::row_of(f32::NAN, 5), None);
/// ```
pub fn row_of(id: f32, rows: usize) -> Option<usize> {
    // Written so that NaN fails every comparison.
    if id >= 0.0 && (id as f64) < rows as f64 && id.fract() == 0.0 {
        Some(id as usize)
    } else {
        None
    }
}

/// An invalid id found in a tensor of ids: its flat position, its value and the number of
/// rows it had to pick from. Its `Display` is the message callers put after the name of the
/// input or layer: `id 1234 at input position 17 is outside [0, 100)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BadId {
    /// Flat (row-major) position of the value in the tensor checked.
    pub position: usize,
    /// The value found.
    pub value: f32,
    /// Valid ids are integers in `[0, rows)`.
    pub rows: usize,
}

impl fmt::Display for BadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let BadId {
            position,
            value,
            rows,
        } = *self;
        if value.is_finite() && value.fract() == 0.0 {
            write!(
                f,
                "id {value} at input position {position} is outside [0, {rows})"
            )
        } else {
            write!(
                f,
                "id {value} at input position {position} is not an integer id in [0, {rows})"
            )
        }
    }
}

/// The first invalid id of `ids` for a table of `rows` rows, if any.
///
/// ```
/// let bad = ir::ids::find_bad_id(&[0.0, 2.0, 7.0], 5).unwrap();
/// assert_eq!(bad.to_string(), "id 7 at input position 2 is outside [0, 5)");
/// assert!(ir::ids::find_bad_id(&[0.0, 4.0], 5).is_none());
/// ```
pub fn find_bad_id(ids: &[f32], rows: usize) -> Option<BadId> {
    ids.iter()
        .position(|&id| row_of(id, rows).is_none())
        .map(|position| BadId {
            position,
            value: ids[position],
            rows,
        })
}

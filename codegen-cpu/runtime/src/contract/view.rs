//! Strided matrix views over slices, and the checks that a view fits its slice.
//!
//! A view is `rows x cols` elements where element `(i, j)` lives at `i * row_stride +
//! j * col_stride`. Swapping the strides transposes the view for free, which is how the
//! kernels take `op(A)` without copying.

use super::error::ContractError;

/// A read-only strided matrix view.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    /// The elements the view reads from.
    pub data: &'a [f32],
    /// Rows of the view.
    pub rows: usize,
    /// Columns of the view.
    pub cols: usize,
    /// Distance between consecutive rows, in elements.
    pub row_stride: usize,
    /// Distance between consecutive columns, in elements.
    pub col_stride: usize,
}

/// A writable strided matrix view.
#[derive(Debug)]
pub struct MatMut<'a> {
    /// The elements the view writes to.
    pub data: &'a mut [f32],
    /// Rows of the view.
    pub rows: usize,
    /// Columns of the view.
    pub cols: usize,
    /// Distance between consecutive rows, in elements.
    pub row_stride: usize,
    /// Distance between consecutive columns, in elements.
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A dense row-major `rows x cols` view.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

impl<'a> MatMut<'a> {
    /// A dense row-major `rows x cols` view.
    pub fn row_major(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// Elements a `rows x cols` layout reaches (largest offset + 1; 0 when empty), `None` on overflow.
pub(crate) fn reach(
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1)
        .checked_mul(row_stride)?
        .checked_add((cols - 1).checked_mul(col_stride)?)?
        .checked_add(1)
}

/// Checks that the layout fits in `len` elements and that its offsets fit in `isize`.
pub(crate) fn check_fits(
    operand: &'static str,
    len: usize,
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
) -> Result<(), ContractError> {
    let needed =
        reach(rows, cols, row_stride, col_stride).ok_or(ContractError::SizeOverflow { operand })?;
    if needed > isize::MAX as usize {
        return Err(ContractError::SizeOverflow { operand });
    }
    if needed > len {
        return Err(ContractError::OperandTooShort {
            operand,
            needed,
            len,
        });
    }
    Ok(())
}

/// Checks that distinct elements of an output layout have distinct addresses: sorted by
/// stride, each axis must step over the whole extent of the smaller one.
pub(crate) fn check_no_self_overlap(
    operand: &'static str,
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
) -> Result<(), ContractError> {
    let ok = match (rows > 1, cols > 1) {
        (true, true) => {
            let (small_extent, small_stride, big_stride) = if row_stride <= col_stride {
                (rows, row_stride, col_stride)
            } else {
                (cols, col_stride, row_stride)
            };
            small_stride > 0
                && small_extent
                    .checked_mul(small_stride)
                    .is_some_and(|span| big_stride >= span)
        }
        (true, false) => row_stride > 0,
        (false, true) => col_stride > 0,
        (false, false) => true,
    };
    if ok {
        Ok(())
    } else {
        Err(ContractError::SelfOverlappingOutput {
            operand,
            rows,
            cols,
            row_stride,
            col_stride,
        })
    }
}

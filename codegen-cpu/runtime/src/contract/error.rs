//! The error type of the safe contraction wrappers: what was wrong with the operands.

use thiserror::Error;

/// Why a safe contraction wrapper refused to run its kernel.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContractError {
    /// An operand's slice is shorter than its dims and strides reach.
    #[error(
        "operand `{operand}` needs {needed} elements for its dims and strides but its slice has {len}"
    )]
    OperandTooShort {
        /// Which operand (`a`, `b`, `c`, `x`, `w`, `y`, `dx`, `dy`, `dw`, `scratch`).
        operand: &'static str,
        /// Elements the layout reaches (largest offset + 1).
        needed: usize,
        /// Elements the slice holds.
        len: usize,
    },
    /// The output layout maps two different elements to the same address.
    #[error(
        "output `{operand}` layout {rows}x{cols} with strides ({row_stride}, {col_stride}) overlaps itself"
    )]
    SelfOverlappingOutput {
        /// Which operand.
        operand: &'static str,
        /// Rows of the view.
        rows: usize,
        /// Columns of the view.
        cols: usize,
        /// Distance between rows, in elements.
        row_stride: usize,
        /// Distance between columns, in elements.
        col_stride: usize,
    },
    /// A convolution geometry is inconsistent (zero stride or dilation, sizes that overflow).
    #[error("invalid convolution geometry: {0}")]
    InvalidGeometry(String),
    /// An element count or offset does not fit in the address space.
    #[error("size of operand `{operand}` overflows")]
    SizeOverflow {
        /// Which operand.
        operand: &'static str,
    },
}

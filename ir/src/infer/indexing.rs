//! Shapes of the indexing ops: `gather` (rows of a table picked by ids) and its gradient
//! `scatter_add` (update rows summed into the rows their ids name). Shapes only: the ids'
//! values are not looked at here (see [`crate::ids`]).

use super::name::op_name;
use super::operands::expect_operands;
use crate::op::Op;
use crate::shape::Shape;

/// `gather(table [v, d..], ids)` is `ids.shape ++ [d..]`; `scatter_add{rows}(ids, updates
/// ids.shape ++ [d..])` is `[rows, d..]`.
pub(super) fn indexing_shape(op: &Op, shapes: &[&Shape]) -> Result<Shape, String> {
    expect_operands(shapes, 2)?;
    match op {
        Op::Gather => {
            let (table, ids) = (shapes[0], shapes[1]);
            if table.rank() == 0 {
                return Err("the table must have at least one axis (its rows)".into());
            }
            let mut dims = ids.0.clone();
            dims.extend_from_slice(&table.0[1..]);
            Ok(Shape(dims))
        }
        Op::ScatterAdd { rows } => {
            let (ids, updates) = (shapes[0], shapes[1]);
            if !updates.0.starts_with(&ids.0) {
                return Err(format!(
                    "updates must start with the ids' shape {ids} (one row per id)"
                ));
            }
            let mut dims = vec![*rows];
            dims.extend_from_slice(&updates.0[ids.rank()..]);
            Ok(Shape(dims))
        }
        other => unreachable!("{} is not an indexing op", op_name(other)),
    }
}

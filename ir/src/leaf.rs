//! [`Leaf`]: a named graph input or parameter with its shape, and [`bind_leaves`], the one
//! check every backend runs on the tensors a caller binds to a compiled graph's leaves
//! before any kernel runs: names, lengths, and the values of inputs that are ids.
//!
//! An input whose values pick rows of a table (the `ids` of a `gather` or `scatter_add`,
//! directly or through `reshape`, `transpose` or `stop_gradient`) must hold valid ids
//! ([`crate::ids::row_of`]); [`Leaf::inputs_of`] records the number of rows and
//! [`bind_leaves`] rejects any other value, naming the input, the position and the value.

use crate::graph::{Graph, NodeId};
use crate::ids::find_bad_id;
use crate::op::Op;
use crate::shape::Shape;

/// A named leaf of a graph (an input or a parameter) and its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    /// The name the caller binds it by.
    pub name: String,
    /// Its shape.
    pub shape: Shape,
    /// For an input that holds ids: the number of rows they pick from (each value must be
    /// an integer in `[0, rows)`; the smallest table where it feeds several).
    pub ids_below: Option<usize>,
}

/// Order `given` by `leaves`: every leaf bound exactly once, with its shape's length, valid
/// ids where the leaf holds ids, and no unknown name. `kind` names the leaves in messages (`input`, `parameter`); `error` builds
/// the caller's error from a leaf name and a message.
///
/// ```
/// use ir::leaf::{Leaf, bind_leaves};
/// let leaves = [Leaf { name: "x".into(), shape: [2].into(), ids_below: None }];
/// let bound = bind_leaves("input", &leaves, &[("x", &[1.0, 2.0][..])], |n, m| format!("{n}: {m}"));
/// assert_eq!(bound.unwrap(), [&[1.0, 2.0][..]]);
/// let err = bind_leaves("input", &leaves, &[("x", &[1.0][..])], |n, m| format!("{n}: {m}"));
/// assert_eq!(err.unwrap_err(), "x: expected shape [2] (2 values), got 1 values");
/// let ids = [Leaf { name: "x".into(), shape: [2].into(), ids_below: Some(4) }];
/// let err = bind_leaves("input", &ids, &[("x", &[1.0, 4.0][..])], |n, m| format!("{n}: {m}"));
/// assert_eq!(err.unwrap_err(), "x: id 4 at input position 1 is outside [0, 4)");
/// ```
pub fn bind_leaves<'a, E>(
    kind: &str,
    leaves: &[Leaf],
    given: &[(&str, &'a [f32])],
    error: impl Fn(String, String) -> E,
) -> Result<Vec<&'a [f32]>, E> {
    if let Some((name, _)) = given
        .iter()
        .find(|(n, _)| !leaves.iter().any(|l| l.name == *n))
    {
        let known: Vec<&str> = leaves.iter().map(|l| l.name.as_str()).collect();
        return Err(error(
            name.to_string(),
            format!("not among the {kind}s of this graph ({known:?})"),
        ));
    }
    leaves
        .iter()
        .map(|leaf| {
            let fail = |msg: String| error(leaf.name.clone(), msg);
            let mut matches = given.iter().filter(|(n, _)| *n == leaf.name);
            let (_, data) = matches
                .next()
                .ok_or_else(|| fail(format!("missing (expected shape {})", leaf.shape)))?;
            if matches.next().is_some() {
                return Err(fail("given more than once".into()));
            }
            if data.len() != leaf.shape.numel() {
                return Err(fail(format!(
                    "expected shape {} ({} values), got {} values",
                    leaf.shape,
                    leaf.shape.numel(),
                    data.len()
                )));
            }
            if let Some(bad) = leaf.ids_below.and_then(|rows| find_bad_id(data, rows)) {
                return Err(fail(bad.to_string()));
            }
            Ok(*data)
        })
        .collect()
}

impl Leaf {
    /// The graph's inputs, in node order.
    pub fn inputs_of(graph: &Graph) -> Vec<Leaf> {
        leaves_of(graph, true)
    }

    /// The graph's parameters, in node order (the order of [`Graph::params`]).
    pub fn params_of(graph: &Graph) -> Vec<Leaf> {
        leaves_of(graph, false)
    }
}

fn leaves_of(graph: &Graph, want_input: bool) -> Vec<Leaf> {
    graph
        .node_ids()
        .filter_map(|id| match graph.op(id) {
            Op::Input { name, shape } if want_input => Some(Leaf {
                name: name.clone(),
                shape: shape.clone(),
                ids_below: ids_below(graph, id),
            }),
            Op::Param { name, shape } if !want_input => Some(Leaf {
                name: name.clone(),
                shape: shape.clone(),
                ids_below: None,
            }),
            _ => None,
        })
        .collect()
}

/// The fewest rows any `gather` or `scatter_add` picks from with the values of `id` as its
/// ids, following `reshape`, `transpose` and `stop_gradient` (which keep every value).
fn ids_below(graph: &Graph, id: NodeId) -> Option<usize> {
    graph
        .users(id)
        .into_iter()
        .filter_map(|user| {
            let operands = graph.operands(user);
            match graph.op(user) {
                Op::Gather if operands[1] == id => Some(graph.shape(operands[0]).0[0]),
                Op::ScatterAdd { rows } if operands[0] == id => Some(*rows),
                Op::Reshape(_) | Op::Transpose(_) | Op::StopGradient => ids_below(graph, user),
                _ => None,
            }
        })
        .min()
}

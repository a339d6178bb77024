//! Gather and scatter-add: hand-computed values, invalid ids (a zero row, a dropped update),
//! shapes of several id ranks, the adjoint identity between the two, and the input check of
//! ids bound to a graph input.

use crate::support::{apply, apply_ok, assert_close, dot, random, t};
use ir::leaf::{Leaf, bind_leaves};
use ir::{Graph, Op};

/// Rows `[10r, 10r + 1]` for r in 0..4, as `[4, 2]`.
fn table() -> ir::Tensor {
    t(
        [4, 2],
        (0..4)
            .flat_map(|r| [10.0 * r as f32, 10.0 * r as f32 + 1.0])
            .collect(),
    )
}

#[test]
fn gather_picks_rows_in_id_order_for_ids_of_any_rank() {
    let ids = t([2, 2], vec![3.0, 0.0, 3.0, 1.0]);
    let got = apply_ok(Op::Gather, &[table(), ids]);
    let want = [30.0, 31.0, 0.0, 1.0, 30.0, 31.0, 10.0, 11.0];
    assert_close(&got, &[2, 2, 2], &want, 0.0);
    let scalar_id = apply_ok(Op::Gather, &[table(), t([], vec![2.0])]);
    assert_close(&scalar_id, &[2], &[20.0, 21.0], 0.0);
    let rank1_table = apply_ok(
        Op::Gather,
        &[t([3], vec![5.0, 6.0, 7.0]), t([2], vec![2.0, 0.0])],
    );
    assert_close(&rank1_table, &[2], &[7.0, 5.0], 0.0);
}

#[test]
fn gather_reads_zeros_for_every_kind_of_invalid_id() {
    for bad in [
        -1.0,
        4.0,
        1e9,
        1.5,
        -0.5,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ] {
        let got = apply_ok(Op::Gather, &[table(), t([2], vec![1.0, bad])]);
        assert_close(&got, &[2, 2], &[10.0, 11.0, 0.0, 0.0], 0.0);
    }
    // -0.0 is the id 0.
    let got = apply_ok(Op::Gather, &[table(), t([1], vec![-0.0])]);
    assert_close(&got, &[1, 2], &[0.0, 1.0], 0.0);
}

#[test]
fn scatter_add_sums_repeated_ids_and_drops_invalid_ones() {
    let ids = t([2, 2], vec![2.0, 0.0, 2.0, 7.0]);
    let updates = t([2, 2, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0, 100.0]);
    let got = apply_ok(Op::ScatterAdd { rows: 4 }, &[ids, updates]);
    assert_close(
        &got,
        &[4, 2],
        &[3.0, 4.0, 0.0, 0.0, 6.0, 8.0, 0.0, 0.0],
        0.0,
    );
}

#[test]
fn indexing_shapes_are_checked() {
    let err = apply(Op::Gather, &[t([], vec![1.0]), t([1], vec![0.0])]).unwrap_err();
    assert!(err.to_string().contains("gather"), "{err}");
    let err = apply(
        Op::ScatterAdd { rows: 3 },
        &[t([2], vec![0.0, 1.0]), t([3, 2], vec![0.0; 6])],
    )
    .unwrap_err();
    assert!(err.to_string().contains("scatter_add"), "{err}");
}

#[test]
fn scatter_add_is_the_adjoint_of_gather() {
    // <gather(T, ids), U> == <T, scatter_add(ids, U)> for every table T and updates U.
    let ids = t([3, 2], vec![1.0, 4.0, 1.0, 0.0, 2.5, 3.0]);
    let tab = random([5, 3], 1, -1.0, 1.0);
    let upd = random([3, 2, 3], 2, -1.0, 1.0);
    let gathered = apply_ok(Op::Gather, &[tab.clone(), ids.clone()]);
    let scattered = apply_ok(Op::ScatterAdd { rows: 5 }, &[ids, upd.clone()]);
    let (a, b) = (dot(&gathered, &upd), dot(&tab, &scattered));
    assert!((a - b).abs() < 1e-5, "{a} vs {b}");
}

#[test]
fn an_input_that_holds_ids_is_checked_when_bound() {
    let mut g = Graph::new();
    let w = g.param("w", [4, 2]);
    let ids = g.input("ids", [3]);
    let flat = g.reshape(ids, [3, 1]).unwrap();
    let rows = g.add(Op::Gather, &[w, flat]).unwrap();
    g.add_output("rows", rows).unwrap();
    let leaves = Leaf::inputs_of(&g);
    assert_eq!(leaves[0].ids_below, Some(4));
    assert_eq!(Leaf::params_of(&g)[0].ids_below, None);
    let bind = |data: &[f32]| {
        bind_leaves("input", &leaves, &[("ids", data)], |n, m| {
            format!("{n}: {m}")
        })
        .map(|_| ())
    };
    assert!(bind(&[0.0, 3.0, 2.0]).is_ok());
    assert_eq!(
        bind(&[0.0, 4.0, 2.0]).unwrap_err(),
        "ids: id 4 at input position 1 is outside [0, 4)"
    );
    assert_eq!(
        bind(&[0.0, 1.0, 0.5]).unwrap_err(),
        "ids: id 0.5 at input position 2 is not an integer id in [0, 4)"
    );
    assert_eq!(
        bind(&[f32::NAN, 1.0, 0.0]).unwrap_err(),
        "ids: id NaN at input position 0 is not an integer id in [0, 4)"
    );
}

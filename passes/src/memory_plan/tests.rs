//! Tests of the planner: reuse, aliases, in-place updates accepted and refused, the validator
//! rejecting broken plans, and random graphs executed on a flat arena under the plan.

mod random_graphs;

use ir::{BinaryOp, Graph, IrError, MemoryPlan, NodeId, ReduceOp, Storage, UnaryOp};

use super::plan;

fn arena(plan: &MemoryPlan, id: NodeId) -> (usize, usize) {
    match plan.of(id) {
        Storage::Arena { offset, len } => (offset, len),
        other => panic!("{id} is {other:?}, not in the arena"),
    }
}

/// A two-layer MLP's forward pass, squared-error loss, backward pass and SGD updates.
fn mlp_training_step(layers: usize) -> (Graph, Vec<NodeId>) {
    let (batch, width) = (32, 64);
    let mut g = Graph::new();
    let x = g.input("x", [batch, width]);
    let y = g.input("y", [batch, width]);
    let lr = g.scalar(0.1);
    let weights: Vec<NodeId> = (0..layers)
        .map(|i| g.param(format!("w{i}"), [width, width]))
        .collect();
    let mut acts = vec![x];
    let mut pre = Vec::new();
    for &w in &weights {
        let z = g.matmul(*acts.last().unwrap(), w, false, false).unwrap();
        pre.push(z);
        acts.push(g.unary(UnaryOp::Relu, z).unwrap());
    }
    let diff = g.binary(BinaryOp::Sub, *acts.last().unwrap(), y).unwrap();
    let sq = g.unary(UnaryOp::Square, diff).unwrap();
    let loss = g.reduce(ReduceOp::Mean, sq, &[0, 1], false).unwrap();
    g.add_output("loss", loss).unwrap();
    let mut grad = diff;
    let zero = g.scalar(0.0);
    let mut weight_grads = vec![NodeId::from_index(0); layers];
    for i in (0..layers).rev() {
        let mask = g.binary(BinaryOp::Gt, pre[i], zero).unwrap();
        let dz = g.binary(BinaryOp::Mul, grad, mask).unwrap();
        weight_grads[i] = g.matmul(acts[i], dz, true, false).unwrap();
        grad = g.matmul(dz, weights[i], false, true).unwrap();
    }
    for (i, &w) in weights.iter().enumerate() {
        let step = g.binary(BinaryOp::Mul, weight_grads[i], lr).unwrap();
        let new_w = g.binary(BinaryOp::Sub, w, step).unwrap();
        g.add_update(w, new_w).unwrap();
    }
    (g, weights)
}

#[test]
fn a_training_step_reuses_most_of_the_arena_and_updates_in_place() {
    let (g, weights) = mlp_training_step(4);
    let p = plan(&g).unwrap();
    let naive = MemoryPlan::naive(&g);
    let block = 32 * 64;
    // The forward activations (z, relu(z)) must survive until the backward pass reads them;
    // everything else is transient. 4 layers keep about 2 blocks each alive, plus a few
    // gradient blocks — far below the naive plan's one block per node.
    assert!(p.arena_len <= 12 * block, "arena {} elements", p.arena_len);
    assert!(
        p.arena_len * 3 <= naive.arena_len,
        "arena {} vs naive {}",
        p.arena_len,
        naive.arena_len
    );
    for (n, (w, new_w)) in g.updates.iter().enumerate() {
        assert_eq!(*w, weights[n]);
        assert_eq!(p.of(*new_w), Storage::InPlace(n));
    }
}

#[test]
fn leaves_keep_their_own_storage_and_dead_nodes_are_not_computed() {
    let mut g = Graph::new();
    let c = g.scalar(2.0);
    let x = g.input("x", [4]);
    let w = g.param("w", [4]);
    let x2 = g.input("x2", [4]);
    let dead = g.binary(BinaryOp::Mul, x, c).unwrap();
    let y = g.binary(BinaryOp::Add, x, w).unwrap();
    g.add_output("y", y).unwrap();
    let p = plan(&g).unwrap();
    assert_eq!(p.of(c), Storage::Const(0));
    assert_eq!(
        (p.of(x), p.of(x2), p.of(w)),
        (Storage::Input(0), Storage::Input(1), Storage::Param(0))
    );
    assert_eq!(p.of(dead), Storage::None);
    assert_eq!(arena(&p, y), (0, 4));
    assert_eq!(p.arena_len, 16);
}

#[test]
fn a_reshape_aliases_its_operand_and_keeps_it_alive() {
    let mut g = Graph::new();
    let x = g.input("x", [2, 8]);
    let w = g.param("w", [16]);
    let a = g.unary(UnaryOp::Exp, x).unwrap();
    let flat = g.reshape(a, [16]).unwrap();
    let flat2 = g.reshape(flat, [4, 4]).unwrap();
    let wide = g.reshape(w, [2, 8]).unwrap();
    // Many same-sized temporaries while only the reshapes of `a` are still to be read.
    let mut t = g.binary(BinaryOp::Mul, x, wide).unwrap();
    for _ in 0..4 {
        t = g.matmul(t, x, false, true).unwrap();
        t = g.matmul(t, x, false, false).unwrap();
    }
    let late = g.unary(UnaryOp::Abs, flat2).unwrap();
    g.add_output("late", late).unwrap();
    g.add_output("t", t).unwrap();
    let p = plan(&g).unwrap();
    assert_eq!(p.of(flat), Storage::Alias(a));
    assert_eq!(p.of(flat2), Storage::Alias(flat));
    assert_eq!(p.of(wide), Storage::Alias(w));
    let (a_offset, _) = arena(&p, a);
    for id in g
        .node_ids()
        .filter(|id| (a.index() + 1..late.index()).contains(&id.index()))
    {
        if let Storage::Arena { offset, .. } = p.of(id) {
            assert_ne!(
                offset, a_offset,
                "{id} overwrites {a} while a reshape of it is still read"
            );
        }
    }
}

#[test]
fn same_shape_elementwise_chains_run_in_one_slot_but_a_matmul_never_overwrites_its_operand() {
    let mut g = Graph::new();
    let x = g.input("x", [8, 8]);
    let b = g.param("b", [8]);
    let m = g.matmul(x, x, false, false).unwrap();
    let biased = g.binary(BinaryOp::Add, m, b).unwrap();
    let act = g.unary(UnaryOp::Tanh, biased).unwrap();
    let m2 = g.matmul(act, x, false, false).unwrap();
    g.add_output("m2", m2).unwrap();
    let p = plan(&g).unwrap();
    assert_eq!(arena(&p, m), arena(&p, biased));
    assert_eq!(arena(&p, biased), arena(&p, act));
    assert_ne!(arena(&p, m2).0, arena(&p, act).0);
    assert_eq!(p.arena_len, 128);
}

/// `w` (shape `[4]`) and the graph `update(w, w - g)` with a hook to add readers.
fn sgd_graph(extra: impl FnOnce(&mut Graph, NodeId, NodeId)) -> (Graph, NodeId) {
    let mut g = Graph::new();
    let w = g.param("w", [4]);
    let grad = g.input("g", [4]);
    let new_w = g.binary(BinaryOp::Sub, w, grad).unwrap();
    g.add_update(w, new_w).unwrap();
    extra(&mut g, w, new_w);
    (g, new_w)
}

#[test]
fn an_update_is_written_in_place_when_nothing_later_reads_the_old_value() {
    let (g, new_w) = sgd_graph(|g, _, new_w| {
        let doubled = g.binary(BinaryOp::Add, new_w, new_w).unwrap();
        g.add_output("doubled", doubled).unwrap();
    });
    assert_eq!(plan(&g).unwrap().of(new_w), Storage::InPlace(0));
}

#[test]
fn in_place_updates_are_refused_in_every_unsafe_case() {
    type Case = fn(&mut Graph, NodeId, NodeId);
    let cases: [(&str, Case); 4] = [
        ("old value read after the update", |g, w, _| {
            let later = g.unary(UnaryOp::Neg, w).unwrap();
            g.add_output("later", later).unwrap();
        }),
        ("param is an output", |g, w, _| {
            g.add_output("w", w).unwrap()
        }),
        ("a reshape of the param is an output", |g, w, _| {
            let view = g.reshape(w, [2, 2]).unwrap();
            g.add_output("view", view).unwrap();
        }),
        (
            "old value read through a reshape after the update",
            |g, w, _| {
                let view = g.reshape(w, [2, 2]).unwrap();
                let later = g.unary(UnaryOp::Abs, view).unwrap();
                g.add_output("later", later).unwrap();
            },
        ),
    ];
    for (name, extra) in cases {
        let (g, new_w) = sgd_graph(extra);
        let p = plan(&g).unwrap();
        assert!(
            matches!(p.of(new_w), Storage::Arena { .. }),
            "{name}: {:?}",
            p.of(new_w)
        );
    }

    // A non-elementwise update reading the param: a matmul reads elements of `w` after it
    // has written others.
    let mut g = Graph::new();
    let w = g.param("w", [4, 4]);
    let sq = g.matmul(w, w, false, false).unwrap();
    g.add_update(w, sq).unwrap();
    assert!(matches!(plan(&g).unwrap().of(sq), Storage::Arena { .. }));

    // An elementwise update that reads the param through a view of another shape.
    let mut g = Graph::new();
    let w = g.param("w", [1, 4]);
    let flat = g.reshape(w, [4]).unwrap();
    let sum = g.binary(BinaryOp::Add, flat, w).unwrap();
    g.add_update(w, sum).unwrap();
    assert!(matches!(plan(&g).unwrap().of(sum), Storage::Arena { .. }));

    // The old value is another param's update value (read at the end of the step).
    let mut g = Graph::new();
    let w = g.param("w", [4]);
    let v = g.param("v", [4]);
    let grad = g.input("g", [4]);
    let new_w = g.binary(BinaryOp::Sub, w, grad).unwrap();
    g.add_update(w, new_w).unwrap();
    g.add_update(v, w).unwrap();
    assert!(matches!(plan(&g).unwrap().of(new_w), Storage::Arena { .. }));

    // A reshape or a leaf as the update value: nothing to compute in place.
    let mut g = Graph::new();
    let w = g.param("w", [4]);
    let x = g.input("x", [2, 2]);
    let e = g.unary(UnaryOp::Exp, x).unwrap();
    let flat = g.reshape(e, [4]).unwrap();
    g.add_update(w, flat).unwrap();
    let p = plan(&g).unwrap();
    assert_eq!(
        (p.of(flat), p.of(e)),
        (Storage::Alias(e), Storage::Arena { offset: 0, len: 4 })
    );
}

#[test]
fn one_value_updating_two_params_is_in_place_in_the_first_only() {
    let mut g = Graph::new();
    let w = g.param("w", [4]);
    let v = g.param("v", [4]);
    let x = g.input("x", [4]);
    let e = g.unary(UnaryOp::Exp, x).unwrap();
    g.add_update(w, e).unwrap();
    g.add_update(v, e).unwrap();
    assert_eq!(plan(&g).unwrap().of(e), Storage::InPlace(0));
}

fn verify_error(result: Result<(), IrError>) -> (String, String) {
    match result {
        Err(IrError::Verify { node, msg }) => (node, msg),
        other => panic!("expected a verifier error, got {other:?}"),
    }
}

#[test]
fn validate_rejects_hand_broken_plans() {
    let mut g = Graph::new();
    let x = g.input("x", [4, 4]);
    let w = g.param("w", [4, 4]);
    let a = g.matmul(x, w, false, false).unwrap(); // %2
    let b = g.unary(UnaryOp::Exp, a).unwrap(); // %3
    let c = g.matmul(b, a, false, false).unwrap(); // %4
    let flat = g.reshape(c, [16]).unwrap(); // %5
    let new_w = g.binary(BinaryOp::Sub, w, c).unwrap(); // %6
    g.add_update(w, new_w).unwrap();
    g.add_output("flat", flat).unwrap();
    let good = plan(&g).unwrap();
    good.validate(&g).unwrap();
    MemoryPlan::naive(&g).validate(&g).unwrap();

    let broken = |edit: &dyn Fn(&mut MemoryPlan)| {
        let mut p = good.clone();
        edit(&mut p);
        verify_error(p.validate(&g))
    };
    let slot = |offset| Storage::Arena { offset, len: 16 };
    let (a_at, _) = arena(&good, a);
    // `c` written over `a`, which `c` itself reads: a matmul may not overwrite its operand.
    let (node, msg) = broken(&|p| p.storage[c.index()] = slot(a_at));
    assert_eq!(node, "%4", "{msg}");
    assert!(msg.contains("overwriting %2"), "{msg}");
    let (node, _) = broken(&|p| p.storage[b.index()] = slot(a_at + 1000));
    assert_eq!(node, "%3");
    let (node, msg) = broken(&|p| p.storage[b.index()] = Storage::Arena { offset: 8, len: 16 });
    assert!(
        node == "%3" && msg.contains("multiple of 16"),
        "{node}: {msg}"
    );
    let (node, _) = broken(&|p| {
        p.storage[b.index()] = Storage::Arena {
            offset: a_at,
            len: 15,
        }
    });
    assert_eq!(node, "%3");
    let (node, _) = broken(&|p| p.storage[x.index()] = Storage::Param(0));
    assert_eq!(node, "%0");
    let (node, _) = broken(&|p| p.storage[w.index()] = Storage::Param(1));
    assert_eq!(node, "%1");
    let (node, _) = broken(&|p| p.storage[b.index()] = Storage::Alias(a));
    assert_eq!(node, "%3");
    let (node, _) = broken(&|p| p.storage[flat.index()] = Storage::Alias(b));
    assert_eq!(node, "%5");
    let (node, _) = broken(&|p| p.storage[c.index()] = Storage::InPlace(0));
    assert_eq!(node, "%4");
    let (node, msg) = broken(&|p| p.storage[c.index()] = Storage::None);
    assert!(
        node == "%6" && msg.contains("never computed"),
        "{node}: {msg}"
    );
    let (node, _) = broken(&|p| p.storage.pop().map(|_| ()).unwrap_or(()));
    assert_eq!(node, "plan");

    // The update written in place while a later node still reads the old param.
    let mut g2 = g.clone();
    let late = g2.unary(UnaryOp::Neg, w).unwrap();
    g2.add_output("late", late).unwrap();
    let mut p = plan(&g2).unwrap();
    assert!(matches!(p.of(new_w), Storage::Arena { .. }));
    p.storage[new_w.index()] = Storage::InPlace(0);
    let (node, msg) = verify_error(p.validate(&g2));
    assert!(
        node == "%6" && msg.contains("overwriting %1"),
        "{node}: {msg}"
    );
}

/// Adam's three updates of one param as one loop (`m' = 0.9 m + g`, `v' = v + g²`,
/// `p' = p - m' / (√v' + 1)`), with an unrelated loop that reads `other` when `other_reads_p`
/// is false and `p` when it is true.
fn adam_kernel(other_reads_p: bool) -> (Graph, [NodeId; 4]) {
    use ir::{FusedOp, Instr, Loop, LoopResult, MultiKernel, Op, Program, Shape};
    let mut g = Graph::new();
    let x = g.input("x", [8]);
    let gr = g.unary(UnaryOp::Tanh, x).unwrap();
    let (p, m, v) = (g.param("p", [8]), g.param("m", [8]), g.param("v", [8]));
    let other = g.param("other", [8]);
    use BinaryOp::{Add, Div, Mul, Sub};
    let adam = Loop {
        domain: Shape::from([8]),
        axes: vec![],
        body: Program {
            instrs: vec![
                Instr::Input(0),                  // r0 g
                Instr::Input(1),                  // r1 p
                Instr::Input(2),                  // r2 m
                Instr::Input(3),                  // r3 v
                Instr::Const(0.9),                // r4
                Instr::Binary(Mul, 4, 2),         // r5
                Instr::Binary(Add, 5, 0),         // r6 m'
                Instr::Unary(UnaryOp::Square, 0), // r7
                Instr::Binary(Add, 3, 7),         // r8 v'
                Instr::Unary(UnaryOp::Sqrt, 8),   // r9
                Instr::Const(1.0),                // r10
                Instr::Binary(Add, 9, 10),        // r11
                Instr::Binary(Div, 6, 11),        // r12
                Instr::Binary(Sub, 1, 12),        // r13 p'
            ],
        },
        results: vec![
            LoopResult::Element(6),
            LoopResult::Element(8),
            LoopResult::Element(13),
        ],
    };
    let neg = Loop {
        domain: Shape::from([8]),
        axes: vec![],
        body: Program {
            instrs: vec![
                Instr::Input(if other_reads_p { 1 } else { 4 }),
                Instr::Unary(UnaryOp::Neg, 0),
            ],
        },
        results: vec![LoopResult::Element(1)],
    };
    let kernel = MultiKernel {
        loops: vec![adam, neg],
    };
    let k = g
        .add(Op::Fused(FusedOp::Multi(kernel)), &[gr, p, m, v, other])
        .unwrap();
    let e: Vec<NodeId> = (0..4)
        .map(|index| {
            let shape = Shape::from([8]);
            g.add(Op::Extract { index, shape }, &[k]).unwrap()
        })
        .collect();
    g.add_update(m, e[0]).unwrap();
    g.add_update(v, e[1]).unwrap();
    g.add_update(p, e[2]).unwrap();
    g.add_output("neg", e[3]).unwrap();
    (g, [e[0], e[1], e[2], e[3]])
}

#[test]
fn a_multi_result_kernel_updates_its_params_in_place() {
    let (g, [m_new, v_new, p_new, neg]) = adam_kernel(false);
    let p = plan(&g).unwrap();
    assert_eq!(p.of(m_new), Storage::InPlace(1));
    assert_eq!(p.of(v_new), Storage::InPlace(2));
    assert_eq!(p.of(p_new), Storage::InPlace(0));
    assert!(matches!(p.of(neg), Storage::Arena { .. }));
    assert_eq!(p.of(ir::kernels::kernel_of(&g, neg)), Storage::Results);
}

#[test]
fn a_param_another_loop_reads_is_not_updated_in_place() {
    let (g, [_, _, p_new, _]) = adam_kernel(true);
    let p = plan(&g).unwrap();
    assert!(
        matches!(p.of(p_new), Storage::Arena { .. }),
        "{:?}",
        p.of(p_new)
    );
    // Forcing it in place is caught.
    let mut broken = p.clone();
    broken.storage[p_new.index()] = Storage::InPlace(0);
    let (node, msg) = verify_error(broken.validate(&g));
    assert!(
        node == p_new.to_string() && msg.contains("overwriting %2"),
        "{node}: {msg}"
    );
}

#[test]
fn validate_rejects_broken_multi_result_plans() {
    let (g, [m_new, v_new, _, neg]) = adam_kernel(false);
    let good = plan(&g).unwrap();
    let kernel = ir::kernels::kernel_of(&g, neg);
    let broken = |edit: &dyn Fn(&mut MemoryPlan)| {
        let mut p = good.clone();
        edit(&mut p);
        verify_error(p.validate(&g))
    };
    let (node, msg) = broken(&|p| p.storage[kernel.index()] = Storage::Arena { offset: 0, len: 0 });
    assert!(
        node == kernel.to_string() && msg.contains("not Results"),
        "{node}: {msg}"
    );
    let (node, msg) = broken(&|p| p.storage[neg.index()] = Storage::Results);
    assert!(
        node == neg.to_string() && msg.contains("only a fused.multi"),
        "{node}: {msg}"
    );
    // Two results of one kernel in the same memory.
    let (node, msg) = broken(&|p| p.storage[v_new.index()] = Storage::InPlace(1));
    assert!(
        (node == v_new.to_string() && msg.contains("same kernel"))
            || msg.contains("not that param's update"),
        "{node}: {msg}"
    );
    let (node, msg) = broken(&|p| {
        p.storage[kernel.index()] = Storage::None;
        p.storage[m_new.index()] = Storage::None;
        p.storage[v_new.index()] = Storage::None;
    });
    assert!(
        msg.contains("does not run") || msg.contains("never computed"),
        "{node}: {msg}"
    );
}

//! Property test: random graphs, planned, validated, and executed element by element on one
//! flat arena under the plan; results must equal those under the naive (no reuse) plan.
//! Multi-result kernels run their loops in order and again in reverse order, so a plan that
//! lets one loop clobber what another reads shows up in one of the two runs.

use ir::random::uniform;
use ir::{
    BinaryOp, FusedOp, Graph, Instr, Loop, LoopResult, MemoryPlan, MultiKernel, NodeId, Op,
    Program, ReduceOp, Shape, Storage, Tensor, UnaryOp,
};

use super::super::plan;

/// A deterministic stream of choices from the shared counter-based generator.
struct Dice {
    seed: u32,
    counter: u32,
}

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.counter += 1;
        (uniform(self.seed, self.counter) * n as f32) as usize % n.max(1)
    }
}

fn random_graph(seed: u32) -> Graph {
    let mut dice = Dice { seed, counter: 0 };
    let mut g = Graph::new();
    let shapes: [&[usize]; 4] = [&[4, 4], &[4], &[1, 4], &[4, 1]];
    let mut nodes = vec![
        g.input("x", [4, 4]),
        g.input("y", [4]),
        g.constant(Tensor::full([1, 4], 0.5)),
    ];
    let params: Vec<NodeId> = (0..3)
        .map(|i| g.param(format!("p{i}"), shapes[i]))
        .collect();
    nodes.extend(&params);
    let unary = [UnaryOp::Neg, UnaryOp::Abs, UnaryOp::Tanh, UnaryOp::Square];
    let binary = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Max];
    let mut pending_updates: Vec<NodeId> = params.clone();
    for _ in 0..24 {
        let a = nodes[dice.below(nodes.len())];
        let b = nodes[dice.below(nodes.len())];
        let made = match dice.below(8) {
            7 => {
                let made = multi_kernel(&mut g, &mut dice, &nodes, &mut pending_updates);
                nodes.extend(made);
                continue;
            }
            0 => g.unary(unary[dice.below(4)], a),
            1 | 2 => g.binary(binary[dice.below(4)], a, b),
            3 => g.matmul(a, b, dice.below(2) == 1, dice.below(2) == 1),
            4 => g.reshape(a, shapes[dice.below(4)]),
            5 => g.reduce(ReduceOp::Sum, a, &[0], true),
            _ if !pending_updates.is_empty() => {
                // An SGD-like update of a param, somewhere in the middle of the graph.
                let p = pending_updates.remove(dice.below(pending_updates.len()));
                let new_p = g
                    .binary(BinaryOp::Sub, p, a)
                    .ok()
                    .filter(|&n| g.shape(n) == g.shape(p));
                match new_p {
                    Some(n) => g.add_update(p, n).map(|()| n),
                    None => continue,
                }
            }
            _ => continue,
        };
        if let Ok(n) = made {
            nodes.push(n);
        }
    }
    for i in 0..2 {
        let n = nodes[nodes.len() - 1 - dice.below(nodes.len().min(6))];
        g.add_output(format!("out{i}"), n).unwrap();
    }
    if dice.below(2) == 1 {
        let p = params[dice.below(3)];
        if dice.below(2) == 1 {
            g.add_output("param", p).unwrap();
        }
    }
    g
}

/// A multi-result kernel of one or two loops over random operands of `nodes`, each loop a
/// few unary and binary ops, its results extracted (returned); an elementwise result that
/// has a pending param's shape and whose loop reads that param becomes its update.
fn multi_kernel(
    g: &mut Graph,
    dice: &mut Dice,
    nodes: &[NodeId],
    pending_updates: &mut Vec<NodeId>,
) -> Vec<NodeId> {
    let n_operands = 1 + dice.below(3);
    let operands: Vec<NodeId> = (0..n_operands)
        .map(|_| nodes[dice.below(nodes.len())])
        .collect();
    let loops: Vec<Loop> = (0..1 + dice.below(2))
        .filter_map(|_| random_loop(g, dice, &operands))
        .collect();
    if loops.is_empty() {
        return Vec::new();
    }
    let kernel = MultiKernel { loops };
    let shapes = kernel.result_shapes().expect("well-formed loops");
    let Ok(multi) = g.add(Op::Fused(FusedOp::Multi(kernel.clone())), &operands) else {
        return Vec::new();
    };
    let mut extracts = Vec::new();
    for (index, shape) in shapes.into_iter().enumerate() {
        let e = g.add(Op::Extract { index, shape }, &[multi]).unwrap();
        extracts.push(e);
        let (l, result) = kernel.result(index).unwrap();
        let reads = kernel.loops[l].operands_read();
        let target = pending_updates.iter().position(|&p| {
            g.shape(p) == g.shape(e)
                && matches!(result, LoopResult::Element(_))
                && operands
                    .iter()
                    .enumerate()
                    .any(|(j, &o)| o == p && reads.contains(&j))
        });
        if let Some(k) = target {
            g.add_update(pending_updates.remove(k), e).unwrap();
        }
    }
    extracts
}

/// One loop over `operands`: a domain they broadcast to, 2 to 4 random ops, one to three
/// elementwise results, and maybe the sum over axis 0 of a register.
fn random_loop(g: &Graph, dice: &mut Dice, operands: &[NodeId]) -> Option<Loop> {
    let domains: [&[usize]; 2] = [&[4, 4], &[4]];
    let domain = Shape::from(domains[dice.below(2)]);
    let readable: Vec<usize> = (0..operands.len())
        .filter(|&j| g.shape(operands[j]).broadcasts_to(&domain))
        .collect();
    if readable.is_empty() {
        return None;
    }
    let mut instrs: Vec<Instr> = readable.iter().map(|&j| Instr::Input(j)).collect();
    let unary = [UnaryOp::Neg, UnaryOp::Tanh, UnaryOp::Square];
    let binary = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul];
    for _ in 0..2 + dice.below(3) {
        let (a, b) = (dice.below(instrs.len()), dice.below(instrs.len()));
        instrs.push(match dice.below(2) {
            0 => Instr::Unary(unary[dice.below(3)], a),
            _ => Instr::Binary(binary[dice.below(3)], a, b),
        });
    }
    let n = instrs.len();
    let mut results: Vec<LoopResult> = (0..1 + dice.below(3))
        .map(|_| LoopResult::Element(n - 1 - dice.below(n.min(3))))
        .collect();
    results.dedup();
    let reduce = domain.rank() == 2 && dice.below(2) == 1;
    if reduce {
        results.push(LoopResult::Reduce {
            op: ReduceOp::Sum,
            reg: n - 1,
            keep_dims: dice.below(2) == 1,
        });
    }
    Some(Loop {
        domain,
        axes: if reduce { vec![0] } else { vec![] },
        body: Program { instrs },
        results,
    })
}

/// The memories of one execution: inputs, params, consts and the arena.
struct Machine {
    leaves: [Vec<Vec<f32>>; 3],
    arena: Vec<f32>,
}

impl Machine {
    fn cell(&mut self, plan: &MemoryPlan, mut id: NodeId, i: usize) -> &mut f32 {
        while let Storage::Alias(t) = plan.of(id) {
            id = t;
        }
        match plan.of(id) {
            Storage::Input(k) => &mut self.leaves[0][k][i],
            Storage::Param(k) | Storage::InPlace(k) => &mut self.leaves[1][k][i],
            Storage::Const(k) => &mut self.leaves[2][k][i],
            Storage::Arena { offset, len } => {
                assert!(i < len);
                &mut self.arena[offset + i]
            }
            other => panic!("{id} read or written with storage {other:?}"),
        }
    }
}

/// Flat index into `operand` for element `i` of a result of shape `out` (broadcasting).
fn broadcast_index(operand: &Shape, out: &Shape, i: usize) -> usize {
    let strides = operand.broadcast_strides(out);
    let mut rest = i;
    let mut at = 0;
    for (axis, &dim) in out.dims().iter().enumerate().rev() {
        at += (rest % dim) * strides[axis];
        rest /= dim;
    }
    at
}

/// Run `g` under `plan`, kernel by kernel, reading and writing the machine's memory directly
/// (so a plan that overwrites a live value gives wrong results); multi-result kernels run
/// their loops in reverse order when `reverse_loops`. Returns outputs then params.
fn execute(g: &Graph, plan: &MemoryPlan, reverse_loops: bool) -> Vec<Vec<u32>> {
    let mut m = Machine::with_leaves(g, plan);
    for id in g.node_ids() {
        if let Op::Fused(FusedOp::Multi(k)) = g.op(id) {
            if plan.of(id) == Storage::Results {
                m.run_multi(g, plan, id, k, reverse_loops);
            }
            continue;
        }
        if matches!(plan.of(id), Storage::None | Storage::Alias(_))
            || g.operands(id).is_empty()
            || matches!(g.op(id), Op::Extract { .. })
        {
            continue;
        }
        for i in 0..g.shape(id).numel() {
            let value = m.compute(g, plan, id, i);
            *m.cell(plan, id, i) = value;
        }
    }
    m.end_step(g, plan)
}

impl Machine {
    /// Run the multi-result kernel `id`: each loop element by element, every operand of an
    /// element read before its results are written; reductions written after their loop.
    fn run_multi(
        &mut self,
        g: &Graph,
        plan: &MemoryPlan,
        id: NodeId,
        k: &MultiKernel,
        reverse_loops: bool,
    ) {
        let operands = g.operands(id);
        let extracts = ir::kernels::kernel_writes(g, id);
        let mut order: Vec<usize> = (0..k.loops.len()).collect();
        if reverse_loops {
            order.reverse();
        }
        for l in order {
            let lp = &k.loops[l];
            let first = k.loops[..l].iter().map(|p| p.results.len()).sum::<usize>();
            let writes: Vec<Option<NodeId>> = (0..lp.results.len())
                .map(|r| {
                    extracts.iter().copied().find(
                        |&e| matches!(g.op(e), Op::Extract { index, .. } if *index == first + r),
                    )
                })
                .collect();
            let mut sums = vec![0.0f32; lp.domain.numel()];
            for i in 0..lp.domain.numel() {
                let ins: Vec<f32> = operands
                    .iter()
                    .map(|&o| {
                        if g.shape(o).broadcasts_to(&lp.domain) {
                            *self.cell(plan, o, broadcast_index(g.shape(o), &lp.domain, i))
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let regs = lp.body.eval_registers(&ins);
                for (r, result) in lp.results.iter().enumerate() {
                    match (result, writes[r]) {
                        (LoopResult::Element(reg), Some(e)) if plan.of(e) != Storage::None => {
                            *self.cell(plan, e, i) = regs[*reg];
                        }
                        (LoopResult::Reduce { reg, .. }, _) => {
                            let cols = lp.domain.dims()[1];
                            sums[i % cols] += regs[*reg];
                        }
                        _ => {}
                    }
                }
            }
            for (r, result) in lp.results.iter().enumerate() {
                if let (LoopResult::Reduce { .. }, Some(e)) = (result, writes[r])
                    && plan.of(e) != Storage::None
                {
                    for (c, &sum) in sums.iter().enumerate().take(lp.domain.dims()[1]) {
                        *self.cell(plan, e, c) = sum;
                    }
                }
            }
        }
    }

    /// A machine with seeded inputs and params, the graph's constants and a NaN-filled arena.
    fn with_leaves(g: &Graph, plan: &MemoryPlan) -> Machine {
        let seed_data = |n: usize, salt: u32| {
            (0..n)
                .map(|i| uniform(salt, i as u32) * 2.0 - 1.0)
                .collect::<Vec<f32>>()
        };
        let mut m = Machine {
            leaves: [vec![], vec![], vec![]],
            arena: vec![f32::NAN; plan.arena_len],
        };
        for id in g.node_ids() {
            match g.op(id) {
                Op::Input { shape, .. } => {
                    m.leaves[0].push(seed_data(shape.numel(), 100 + id.index() as u32))
                }
                Op::Param { shape, .. } => {
                    m.leaves[1].push(seed_data(shape.numel(), 200 + id.index() as u32))
                }
                Op::Const(t) => m.leaves[2].push(t.data.clone()),
                _ => {}
            }
        }
        m
    }

    /// Element `i` of kernel `id`'s result, read from its operands' memory.
    fn compute(&mut self, g: &Graph, plan: &MemoryPlan, id: NodeId, i: usize) -> f32 {
        let ops = g.operands(id);
        let out = g.shape(id);
        match g.op(id) {
            // Under the naive plan a reshape is a copy.
            Op::Reshape(_) => *self.cell(plan, ops[0], i),
            Op::Unary(u) => {
                u.eval(*self.cell(plan, ops[0], broadcast_index(g.shape(ops[0]), out, i)))
            }
            Op::Binary(b) => {
                let x = *self.cell(plan, ops[0], broadcast_index(g.shape(ops[0]), out, i));
                let y = *self.cell(plan, ops[1], broadcast_index(g.shape(ops[1]), out, i));
                b.eval(x, y)
            }
            Op::MatMul {
                transpose_a,
                transpose_b,
            } => self.matmul_element(g, plan, id, [*transpose_a, *transpose_b], i),
            Op::Reduce {
                op: ReduceOp::Sum, ..
            } => {
                let dims = g.shape(ops[0]).dims().to_vec();
                let inner: usize = dims[1..].iter().product();
                (0..dims[0])
                    .map(|k| *self.cell(plan, ops[0], k * inner + i))
                    .sum()
            }
            other => panic!("op {other:?} not generated"),
        }
    }

    /// Element `i` of the 2-D matmul `id`, with its `[transpose_a, transpose_b]` flags.
    fn matmul_element(
        &mut self,
        g: &Graph,
        plan: &MemoryPlan,
        id: NodeId,
        [transpose_a, transpose_b]: [bool; 2],
        i: usize,
    ) -> f32 {
        let ops = g.operands(id);
        let out = g.shape(id);
        let (rows, cols) = (out.dims()[0], out.dims()[1]);
        let (r, c) = (i / cols, i % cols);
        let (sa, sb) = (
            g.shape(ops[0]).dims().to_vec(),
            g.shape(ops[1]).dims().to_vec(),
        );
        let inner = if transpose_a { sa[0] } else { sa[1] };
        debug_assert!(r < rows);
        (0..inner)
            .map(|k| {
                let ai = if transpose_a {
                    k * sa[1] + r
                } else {
                    r * sa[1] + k
                };
                let bi = if transpose_b {
                    c * sb[1] + k
                } else {
                    k * sb[1] + c
                };
                *self.cell(plan, ops[0], ai) * *self.cell(plan, ops[1], bi)
            })
            .sum()
    }

    /// The end of the step: read the outputs, then copy the update values into their params
    /// (all read before any is written). Returns outputs then params, as bits.
    fn end_step(mut self, g: &Graph, plan: &MemoryPlan) -> Vec<Vec<u32>> {
        let mut results: Vec<Vec<u32>> = g
            .outputs
            .iter()
            .map(|&(_, v)| {
                (0..g.shape(v).numel())
                    .map(|i| self.cell(plan, v, i).to_bits())
                    .collect()
            })
            .collect();
        let params = g.params();
        let copies: Vec<(usize, Vec<f32>)> = g
            .updates
            .iter()
            .map(|&(p, v)| {
                (
                    params.iter().position(|&q| q == p).unwrap(),
                    (0..g.shape(v).numel())
                        .map(|i| *self.cell(plan, v, i))
                        .collect(),
                )
            })
            .collect();
        for (k, data) in copies {
            self.leaves[1][k] = data;
        }
        results.extend(
            self.leaves[1]
                .iter()
                .map(|p| p.iter().map(|x| x.to_bits()).collect()),
        );
        results
    }
}

#[test]
fn random_graphs_plan_validate_and_compute_what_the_naive_plan_computes() {
    let (mut in_place, mut reused, mut naive_total, mut planned_total) = (0, 0, 0, 0);
    let (mut multi, mut multi_in_place) = (0, 0);
    for seed in 0..300 {
        let g = random_graph(seed);
        let p = plan(&g).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        p.validate(&g).unwrap();
        let naive = MemoryPlan::naive(&g);
        // Tolerance 0: both runs do the same arithmetic in the same order.
        let want = execute(&g, &naive, false);
        for reverse_loops in [false, true] {
            assert_eq!(
                execute(&g, &p, reverse_loops),
                want,
                "seed {seed}: results differ under the plan {p:?}"
            );
        }
        multi += g
            .node_ids()
            .filter(|&id| matches!(g.op(id), Op::Fused(FusedOp::Multi(_))))
            .count();
        multi_in_place += g
            .updates
            .iter()
            .filter(|&&(_, v)| {
                matches!(g.op(v), Op::Extract { .. }) && matches!(p.of(v), Storage::InPlace(_))
            })
            .count();
        in_place += p
            .storage
            .iter()
            .filter(|s| matches!(s, Storage::InPlace(_)))
            .count();
        reused += usize::from(p.arena_len < naive.arena_len);
        naive_total += naive.arena_len;
        planned_total += p.arena_len;
    }
    // The generator exercises the interesting paths, not only trivial graphs.
    assert!(in_place >= 50, "only {in_place} in-place updates");
    assert!(multi >= 100, "only {multi} multi-result kernels");
    assert!(
        multi_in_place >= 10,
        "only {multi_in_place} in-place kernel results"
    );
    assert!(reused >= 100, "only {reused} graphs reuse memory");
    assert!(
        planned_total * 2 < naive_total,
        "planned {planned_total} vs naive {naive_total}"
    );
}

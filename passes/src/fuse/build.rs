//! The graph after kernel merging: every cluster of two or more loop nodes (see
//! [`super::clusters`]) becomes one kernel, emitted where the cluster runs (kernels in key
//! order, every other node as early as its operands allow it to stay in place).
//!
//! A cluster's kernel is a `fused.multi` whose loops are the cluster's loop groups: each
//! loop's body is its members' programs one after the other (a member read by a later
//! member of the loop is that member's register; every other value is a kernel operand, read
//! broadcast to the domain; splat constants are inlined), and each member whose value is
//! needed outside the cluster is a result, read by one `extract` that replaces the member.
//! A cluster with one loop and one result that is its body's last register is written in
//! the simplest form that says it: `fused.elementwise` (when its operands broadcast to the
//! domain) or `fused.reduce`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use ir::fused::Reg;
use ir::{FusedOp, Graph, Instr, Loop, LoopResult, MultiKernel, NodeId, Op, Program, Shape};

use super::clusters::{Cluster, Clusters, LoopGroup, OrdF64};
use super::loops::{LoopValue, splat_value};
use crate::error::PassError;
use crate::rebuild::Rebuild;

/// A unit of the rebuilt graph: a node copied as it is, or a cluster's kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Unit {
    Node(NodeId),
    Kernel(usize),
}

/// The graph with every cluster of two or more members as one kernel.
pub fn build(graph: &Graph, clusters: &Clusters) -> Result<Graph, PassError> {
    let mut rebuild = Rebuild::new(graph);
    for unit in schedule(graph, clusters) {
        match unit {
            Unit::Node(id) => {
                rebuild.copy(id)?;
            }
            Unit::Kernel(c) => {
                let cluster = clusters.cluster(c).expect("scheduled clusters are live");
                emit_kernel(&mut rebuild, clusters, cluster)?;
            }
        }
    }
    rebuild.finish()
}

/// The unit of `id`: its cluster's kernel when that has two or more members.
fn unit_of(clusters: &Clusters, id: NodeId) -> Unit {
    match clusters.cluster_of(id) {
        Some(c)
            if clusters
                .cluster(c)
                .is_some_and(|cl| cl.members().nth(1).is_some()) =>
        {
            Unit::Kernel(c)
        }
        _ => Unit::Node(id),
    }
}

/// Every unit in an order where operands come first, as close to key order as that allows
/// (a topological sort taking the ready unit of least key; ties to the lower node).
fn schedule(graph: &Graph, clusters: &Clusters) -> Vec<Unit> {
    let mut deps: HashMap<Unit, usize> = HashMap::new();
    let mut users: HashMap<Unit, Vec<Unit>> = HashMap::new();
    let mut key: HashMap<Unit, (f64, NodeId)> = HashMap::new();
    for id in graph.node_ids() {
        let unit = unit_of(clusters, id);
        let k = match unit {
            Unit::Kernel(c) => clusters.cluster(c).map_or(0.0, |cl| cl.key),
            Unit::Node(_) => id.index() as f64,
        };
        let entry = key.entry(unit).or_insert((k, id));
        entry.1 = entry.1.min(id);
        deps.entry(unit).or_insert(0);
        for o in graph.operands(id) {
            let from = unit_of(clusters, o);
            if from != unit {
                *deps.entry(unit).or_insert(0) += 1;
                users.entry(from).or_default().push(unit);
            }
        }
    }
    let order = |u: Unit| (OrdF64(key[&u].0), key[&u].1);
    let mut ready: BinaryHeap<Reverse<((OrdF64, NodeId), Unit)>> = deps
        .iter()
        .filter(|&(_, &n)| n == 0)
        .map(|(&u, _)| Reverse((order(u), u)))
        .collect();
    let mut out = Vec::with_capacity(deps.len());
    while let Some(Reverse((_, unit))) = ready.pop() {
        out.push(unit);
        for &user in users.get(&unit).map_or(&[][..], Vec::as_slice) {
            let n = deps.get_mut(&user).expect("every unit counted");
            *n -= 1;
            if *n == 0 {
                ready.push(Reverse((order(user), user)));
            }
        }
    }
    out
}

/// A cluster's kernel: the fused op, its operands (ids in the input graph) and the member
/// each result replaces.
struct Assembled {
    kernel: MultiKernel,
    operands: Vec<NodeId>,
    replaces: Vec<NodeId>,
}

/// Emit the kernel of `cluster` and map every member needed outside to its value.
fn emit_kernel(
    rebuild: &mut Rebuild,
    clusters: &Clusters,
    cluster: &Cluster,
) -> Result<(), PassError> {
    let graph = clusters.graph();
    let Assembled {
        kernel,
        operands,
        replaces,
    } = assemble(clusters, cluster);
    if replaces.is_empty() {
        // Nothing reads any member: the kernel would compute nothing anyone needs.
        return Ok(());
    }
    if let Some(op) = simplest_form(graph, &kernel, &operands) {
        let member = replaces[0];
        let new = rebuild.add(Op::Fused(op), &operands)?;
        check_shape(graph, rebuild.new_graph().shape(new), member)?;
        rebuild.set(member, new);
        return Ok(());
    }
    let shapes = kernel.result_shapes().map_err(|msg| PassError::Fusion {
        rule: "merge",
        node: replaces[0].to_string(),
        msg,
    })?;
    let multi = rebuild.add(Op::Fused(FusedOp::Multi(kernel)), &operands)?;
    for (index, (shape, &member)) in shapes.into_iter().zip(&replaces).enumerate() {
        check_shape(graph, &shape, member)?;
        let extract = rebuild.add_mapped(Op::Extract { index, shape }, &[multi])?;
        rebuild.set(member, extract);
    }
    Ok(())
}

/// An error unless `shape` is `member`'s.
fn check_shape(graph: &Graph, shape: &Shape, member: NodeId) -> Result<(), PassError> {
    if shape == graph.shape(member) {
        return Ok(());
    }
    Err(PassError::Fusion {
        rule: "merge",
        node: member.to_string(),
        msg: format!("merged shape {shape} differs from {}", graph.shape(member)),
    })
}

/// The kernel of `cluster`: one loop per loop group, in the order of their first members.
fn assemble(clusters: &Clusters, cluster: &Cluster) -> Assembled {
    let mut operands = Vec::new();
    let mut replaces = Vec::new();
    let mut groups: Vec<&LoopGroup> = cluster.groups.iter().collect();
    groups.sort_by_key(|g| g.members[0]);
    let loops = groups
        .into_iter()
        .filter_map(|g| assemble_loop(clusters, g, &mut operands, &mut replaces))
        .collect();
    Assembled {
        kernel: MultiKernel { loops },
        operands,
        replaces,
    }
}

/// The loop of `group`: its members' bodies one after another; new kernel operands are
/// appended to `operands`, and each member that becomes a result to `replaces`. `None`
/// when no member is needed outside.
fn assemble_loop(
    clusters: &Clusters,
    group: &LoopGroup,
    operands: &mut Vec<NodeId>,
    replaces: &mut Vec<NodeId>,
) -> Option<Loop> {
    let graph = clusters.graph();
    let mut instrs: Vec<Instr> = Vec::new();
    // The register of every value the loop has: members' values and operands read once.
    let mut registers: HashMap<NodeId, Reg> = HashMap::new();
    let mut results = Vec::new();
    for &m in &group.members {
        let node = clusters.loop_node(m);
        let reg = append_body(graph, m, &node.body, &mut registers, &mut instrs, operands);
        if node.is_elementwise() {
            registers.insert(m, reg);
        }
        if !clusters.needed_outside(m) {
            continue;
        }
        replaces.push(m);
        results.push(match node.value {
            LoopValue::Element => LoopResult::Element(reg),
            LoopValue::Reduce { op, keep_dims } => LoopResult::Reduce { op, reg, keep_dims },
        });
    }
    (!results.is_empty()).then(|| Loop {
        domain: group.domain.clone(),
        axes: group.axes.clone().unwrap_or_default(),
        body: Program { instrs },
        results,
    })
}

/// Append member `m`'s `body` to `instrs`, its inputs read from `registers` (earlier
/// members' values, operands the loop already reads), as inlined splat constants, or as
/// kernel operands (appended to `operands` on first use, and to `registers`); returns the
/// register of its last instruction.
fn append_body(
    graph: &Graph,
    m: NodeId,
    body: &Program,
    registers: &mut HashMap<NodeId, Reg>,
    instrs: &mut Vec<Instr>,
    operands: &mut Vec<NodeId>,
) -> Reg {
    let member_operands = graph.operands(m);
    let mut local: Vec<Reg> = Vec::with_capacity(body.instrs.len());
    for &instr in &body.instrs {
        let new = match instr {
            Instr::Input(i) => {
                let o = member_operands[i];
                if let Some(&reg) = registers.get(&o) {
                    local.push(reg);
                    continue;
                }
                let read = match splat_value(graph, o) {
                    Some(v) => Instr::Const(v),
                    None => Instr::Input(operand_index(operands, o)),
                };
                instrs.push(read);
                registers.insert(o, instrs.len() - 1);
                local.push(instrs.len() - 1);
                continue;
            }
            Instr::Const(c) => Instr::Const(c),
            Instr::Unary(u, a) => Instr::Unary(u, local[a]),
            Instr::Binary(b, x, y) => Instr::Binary(b, local[x], local[y]),
            Instr::Select(c, a, b) => Instr::Select(local[c], local[a], local[b]),
        };
        instrs.push(new);
        local.push(instrs.len() - 1);
    }
    *local.last().expect("loop bodies are non-empty")
}

/// The index of `o` among `operands`, appending it when new.
fn operand_index(operands: &mut Vec<NodeId>, o: NodeId) -> usize {
    operands.iter().position(|&x| x == o).unwrap_or_else(|| {
        operands.push(o);
        operands.len() - 1
    })
}

/// The kernel as `fused.elementwise` or `fused.reduce`, when it is one loop with one
/// result, its body's last register, and (for an elementwise loop) operands that broadcast
/// to its domain.
fn simplest_form(graph: &Graph, kernel: &MultiKernel, operands: &[NodeId]) -> Option<FusedOp> {
    let [lp] = kernel.loops.as_slice() else {
        return None;
    };
    let [result] = lp.results.as_slice() else {
        return None;
    };
    if result.reg() + 1 != lp.body.instrs.len() {
        return None;
    }
    match *result {
        LoopResult::Element(_) => {
            let shape = operands.iter().try_fold(Shape::scalar(), |acc, &o| {
                Shape::broadcast(&acc, graph.shape(o))
            });
            (shape.as_ref() == Some(&lp.domain)).then(|| FusedOp::Elementwise(lp.body.clone()))
        }
        LoopResult::Reduce { op, keep_dims, .. } => Some(FusedOp::Reduce {
            op,
            axes: lp.axes.clone(),
            keep_dims,
            input_shape: lp.domain.clone(),
            prologue: lp.body.clone(),
        }),
    }
}

//! Building a pass's output graph from its input: the old-id → new-id map every pass needs.
//!
//! Graphs are append-only, so a pass walks the old graph in topological order and appends to
//! a new one. [`Rebuild`] keeps the id map, copies nodes whose operands are already mapped,
//! and at the end remaps the old graph's `outputs` and `updates` (a pass must map every node
//! they name, or [`Rebuild::finish`] fails naming the missing node).

use ir::{Graph, NodeId, Op};

use crate::error::PassError;

/// The new graph under construction plus the map from old node ids to new ones.
pub struct Rebuild<'a> {
    old: &'a Graph,
    new: Graph,
    map: Vec<Option<NodeId>>,
}

impl<'a> Rebuild<'a> {
    /// Start an empty rebuild of `old`.
    pub fn new(old: &'a Graph) -> Self {
        Rebuild {
            old,
            new: Graph::new(),
            map: vec![None; old.len()],
        }
    }

    /// The graph being rebuilt.
    pub fn old(&self) -> &'a Graph {
        self.old
    }

    /// The graph built so far.
    pub fn new_graph(&self) -> &Graph {
        &self.new
    }

    /// The new id of old node `id`, if it has been mapped.
    pub fn get(&self, id: NodeId) -> Option<NodeId> {
        self.map[id.index()]
    }

    /// The new id of old node `id`; an error naming the node when it was not mapped.
    pub fn mapped(&self, id: NodeId) -> Result<NodeId, PassError> {
        self.get(id)
            .ok_or_else(|| PassError::Unmapped(id.to_string()))
    }

    /// Declare that old node `old` is represented by new node `new`.
    pub fn set(&mut self, old: NodeId, new: NodeId) {
        self.map[old.index()] = Some(new);
    }

    /// Append `op` to the new graph with the new ids of the old operands `operands`.
    pub fn add(&mut self, op: Op, operands: &[NodeId]) -> Result<NodeId, PassError> {
        let operands = operands
            .iter()
            .map(|&o| self.mapped(o))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.new.add(op, &operands)?)
    }

    /// Append `op` to the new graph with operands that are already new ids (nodes the pass
    /// added itself, such as a multi-result kernel its `extract`s read).
    pub fn add_mapped(&mut self, op: Op, operands: &[NodeId]) -> Result<NodeId, PassError> {
        Ok(self.new.add(op, operands)?)
    }

    /// Copy old node `id` unchanged (operands remapped) and map it to the copy.
    pub fn copy(&mut self, id: NodeId) -> Result<NodeId, PassError> {
        let new = self.add(self.old.op(id).clone(), &self.old.operands(id))?;
        self.set(id, new);
        Ok(new)
    }

    /// The finished graph, with the old `outputs` and `updates` remapped.
    pub fn finish(mut self) -> Result<Graph, PassError> {
        for (name, id) in &self.old.outputs {
            let new = self.mapped(*id)?;
            self.new.add_output(name.clone(), new)?;
        }
        for &(param, value) in &self.old.updates {
            let (param, value) = (self.mapped(param)?, self.mapped(value)?);
            self.new.add_update(param, value)?;
        }
        Ok(self.new)
    }
}

//! [`ThreadWorld`]: an in-process [`Communicator`], one handle per thread, for tests and for
//! trying distributed training without MPI.
//!
//! Collectives meet in a shared table keyed by each handle's call count (every rank calls the
//! collectives in the same order, so the n-th call of every rank is the same collective). A sum
//! adds the contributions in rank order, so every rank gets the same bits. A dropped handle
//! counts as a dead rank: collectives it never joined fail with [`CommError::PeerGone`] instead
//! of hanging. This file does NOT talk to other processes (that is `kiln-mpi`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::communicator::{CommError, Communicator, PendingSum};

/// Which collective a slot of the table holds (ranks must agree on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sum,
    Broadcast(usize),
    Gather,
}

/// One rank's contribution to a collective.
#[derive(Debug)]
struct Part {
    data: Vec<f32>,
    len: usize,
    value: u64,
}

/// One collective in progress: the contributions by rank and how many ranks still have to read
/// the result.
#[derive(Debug)]
struct Slot {
    kind: Kind,
    parts: Vec<Option<Part>>,
    unread: usize,
}

#[derive(Debug, Default)]
struct Table {
    slots: HashMap<u64, Slot>,
    gone: Vec<bool>,
}

#[derive(Debug)]
struct Shared {
    size: usize,
    table: Mutex<Table>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic on another rank's thread poisons the lock; the table itself stays consistent
        // (every change is one insert or remove), so carry on and let the gone-rank check report.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The in-process world: [`ThreadWorld::new`] makes one [`ThreadComm`] per rank, to be moved
/// into one thread each.
///
/// ```
/// use kiln::distributed::{Communicator, ThreadWorld};
///
/// let handles = ThreadWorld::new(2);
/// let sums: Vec<Vec<f32>> = std::thread::scope(|s| {
///     let jobs: Vec<_> = handles
///         .into_iter()
///         .map(|comm| {
///             s.spawn(move || {
///                 let mut buffer = vec![comm.rank() as f32 + 1.0; 3];
///                 comm.all_reduce_sum(&mut buffer).unwrap();
///                 buffer
///             })
///         })
///         .collect();
///     jobs.into_iter().map(|j| j.join().unwrap()).collect()
/// });
/// assert_eq!(sums, vec![vec![3.0; 3], vec![3.0; 3]]);
/// ```
#[derive(Debug)]
pub struct ThreadWorld;

impl ThreadWorld {
    /// One handle per rank, `size` ranks (rank `i` is element `i`).
    ///
    /// # Panics
    /// If `size` is 0.
    #[must_use]
    // The agreed interface (dist_api.md): a world is only its handles.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(size: usize) -> Vec<ThreadComm> {
        assert!(
            size > 0,
            "ThreadWorld::new: a world needs at least one rank"
        );
        let shared = Arc::new(Shared {
            size,
            table: Mutex::new(Table {
                slots: HashMap::new(),
                gone: vec![false; size],
            }),
            changed: Condvar::new(),
        });
        (0..size)
            .map(|rank| ThreadComm {
                rank,
                shared: Arc::clone(&shared),
                calls: AtomicU64::new(0),
            })
            .collect()
    }
}

/// One rank's handle on a [`ThreadWorld`]. Dropping it marks the rank as gone.
#[derive(Debug)]
pub struct ThreadComm {
    rank: usize,
    shared: Arc<Shared>,
    calls: AtomicU64,
}

impl ThreadComm {
    /// Enters this rank's part of its next collective and returns the slot's key.
    fn contribute(&self, kind: Kind, part: Part) -> Result<u64, CommError> {
        let key = self.calls.fetch_add(1, Ordering::SeqCst);
        let size = self.shared.size;
        let mut table = self.shared.lock();
        let slot = table.slots.entry(key).or_insert_with(|| Slot {
            kind,
            parts: (0..size).map(|_| None).collect(),
            unread: size,
        });
        if slot.kind != kind {
            return Err(CommError::Mismatch(format!(
                "collective #{key}: rank {} called {kind:?}, another rank {:?}",
                self.rank, slot.kind
            )));
        }
        slot.parts[self.rank] = Some(part);
        drop(table);
        self.shared.changed.notify_all();
        Ok(key)
    }

    /// Waits until every rank has contributed to `key`, then reads the result with `read`.
    fn finish<T>(
        &self,
        key: u64,
        read: impl Fn(&Slot) -> Result<T, CommError>,
    ) -> Result<T, CommError> {
        finish(&self.shared, key, read)
    }
}

/// Waits until every rank has contributed to collective `key`, then reads the result with
/// `read`; the last reader removes the slot.
fn finish<T>(
    shared: &Shared,
    key: u64,
    read: impl Fn(&Slot) -> Result<T, CommError>,
) -> Result<T, CommError> {
    let mut table = shared.lock();
    loop {
        let slot = table
            .slots
            .get(&key)
            .ok_or_else(|| CommError::Transport(format!("collective #{key} vanished")))?;
        if slot.parts.iter().all(Option::is_some) {
            break;
        }
        let missing_gone = (0..shared.size).find(|&r| slot.parts[r].is_none() && table.gone[r]);
        if let Some(rank) = missing_gone {
            return Err(CommError::PeerGone {
                rank,
                detail: format!("its handle was dropped before collective #{key}"),
            });
        }
        table = shared
            .changed
            .wait(table)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
    }
    let slot = &table.slots[&key];
    let result = read(slot);
    let slot = table.slots.get_mut(&key).expect("slot present");
    slot.unread -= 1;
    if slot.unread == 0 {
        table.slots.remove(&key);
    }
    result
}

/// The parts of a complete slot, in rank order.
fn parts(slot: &Slot) -> impl Iterator<Item = &Part> {
    slot.parts
        .iter()
        .map(|p| p.as_ref().expect("complete slot"))
}

/// Checks that every rank's buffer has the same length.
fn same_lengths(slot: &Slot) -> Result<usize, CommError> {
    let lens: Vec<usize> = parts(slot).map(|p| p.len).collect();
    if lens.iter().any(|&l| l != lens[0]) {
        return Err(CommError::Mismatch(format!(
            "{:?} with buffer lengths {lens:?} by rank",
            slot.kind
        )));
    }
    Ok(lens[0])
}

/// The elementwise sum of every rank's buffer, added in rank order.
fn sum(slot: &Slot) -> Result<Vec<f32>, CommError> {
    let len = same_lengths(slot)?;
    let mut out = vec![0.0f32; len];
    for part in parts(slot) {
        for (o, v) in out.iter_mut().zip(&part.data) {
            *o += v;
        }
    }
    Ok(out)
}

impl Communicator for ThreadComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.shared.size
    }

    fn all_reduce_sum(&self, buffer: &mut [f32]) -> Result<(), CommError> {
        let part = Part {
            data: buffer.to_vec(),
            len: buffer.len(),
            value: 0,
        };
        let key = self.contribute(Kind::Sum, part)?;
        let summed = self.finish(key, sum)?;
        buffer.copy_from_slice(&summed);
        Ok(())
    }

    fn start_all_reduce_sum(&self, buffer: Vec<f32>) -> Result<Box<dyn PendingSum>, CommError> {
        let len = buffer.len();
        let key = self.contribute(
            Kind::Sum,
            Part {
                data: buffer,
                len,
                value: 0,
            },
        )?;
        Ok(Box::new(ThreadSum {
            shared: Arc::clone(&self.shared),
            key,
        }))
    }

    fn broadcast(&self, buffer: &mut [f32], root: usize) -> Result<(), CommError> {
        if root >= self.shared.size {
            return Err(CommError::BadRank {
                rank: root,
                world_size: self.shared.size,
            });
        }
        let data = if self.rank == root {
            buffer.to_vec()
        } else {
            Vec::new()
        };
        let part = Part {
            data,
            len: buffer.len(),
            value: 0,
        };
        let key = self.contribute(Kind::Broadcast(root), part)?;
        let copied = self.finish(key, |slot| {
            same_lengths(slot)?;
            Ok(slot.parts[root]
                .as_ref()
                .expect("complete slot")
                .data
                .clone())
        })?;
        buffer.copy_from_slice(&copied);
        Ok(())
    }

    fn all_gather_u64(&self, value: u64) -> Result<Vec<u64>, CommError> {
        let part = Part {
            data: Vec::new(),
            len: 0,
            value,
        };
        let key = self.contribute(Kind::Gather, part)?;
        self.finish(key, |slot| Ok(parts(slot).map(|p| p.value).collect()))
    }
}

impl Drop for ThreadComm {
    fn drop(&mut self) {
        self.shared.lock().gone[self.rank] = true;
        self.shared.changed.notify_all();
    }
}

/// A sum started on a [`ThreadWorld`]: this rank's buffer is already in the table, so the other
/// ranks can complete it while this one works on.
struct ThreadSum {
    shared: Arc<Shared>,
    key: u64,
}

impl PendingSum for ThreadSum {
    fn wait(self: Box<Self>) -> Result<Vec<f32>, CommError> {
        finish(&self.shared, self.key, sum)
    }
}

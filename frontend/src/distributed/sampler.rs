//! [`DistributedSampler`]: which examples each rank takes in each epoch, and
//! [`permutation`], the seeded shuffle that single-process `fit` uses too.
//!
//! Like PyTorch's `DistributedSampler`: every epoch all ranks compute the same global order
//! (the single-process shuffle of that epoch, or `0..len`), pad it by repeating its first
//! examples until its length is a multiple of the world size (or, with `drop_last`, cut the
//! remainder), and rank `r` takes positions `r, r + world, r + 2·world, …`. The shards are
//! disjoint (apart from the at most `world − 1` padded repeats) and together cover the data;
//! every rank gets the same number of examples, so every rank runs the same number of steps
//! with batches of the same sizes. Taking positions strided means that with a global batch of
//! `b = world · local` the examples of step `k` on all ranks together are exactly the global
//! order's batch `k` of a single process with batch `b` (when the length is a multiple of `b`).
//! This file does NOT read or gather data (that is `model::feed`).

/// A seeded Fisher–Yates permutation of `0..n` from the IR's counter-based generator (the
/// order `fit` visits the examples of an epoch in, with `seed` = model seed + epoch + 1).
#[must_use]
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let stream =
        ir::random::mix32(seed as u32) ^ ir::random::mix32((seed >> 32) as u32 ^ 0x2545_f491);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let u = ir::random::uniform(stream, i as u32) as f64;
        let j = ((u * (i + 1) as f64) as usize).min(i);
        order.swap(i, j);
    }
    order
}

/// One rank's share of `len` examples, epoch by epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributedSampler {
    len: usize,
    world: usize,
    rank: usize,
    seed: Option<u64>,
    drop_last: bool,
    pad: bool,
}

impl DistributedSampler {
    /// Rank `rank` of `world` over `len` examples, in order, padding the last round.
    ///
    /// # Panics
    /// If `world` is 0 or `rank >= world` (a communicator never gives those).
    #[must_use]
    pub fn new(len: usize, world: usize, rank: usize) -> Self {
        assert!(rank < world, "rank {rank} is not in a world of {world}");
        DistributedSampler {
            len,
            world,
            rank,
            seed: None,
            drop_last: false,
            pad: true,
        }
    }

    /// Shuffle every epoch with the same permutation a single process seeded with `seed`
    /// uses (`permutation(len, seed + epoch + 1)`).
    #[must_use]
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Drop the last `len % world` examples of each epoch's order instead of padding.
    #[must_use]
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Neither pad nor drop: rank `r` takes the positions `r, r + world, …` below `len`, so the
    /// shards are exactly a partition of the data (ranks may get one example more than others).
    /// For evaluation, where every example must count once.
    #[must_use]
    pub fn exact(mut self) -> Self {
        self.pad = false;
        self.drop_last = false;
        self
    }

    /// Examples this rank takes per epoch: `⌈len / world⌉` on every rank, `⌊len / world⌋`
    /// with `drop_last`, or this rank's count of the exact partition.
    #[must_use]
    pub fn num_samples(&self) -> usize {
        if !self.pad {
            self.len.saturating_sub(self.rank).div_ceil(self.world)
        } else if self.drop_last {
            self.len / self.world
        } else {
            self.len.div_ceil(self.world)
        }
    }

    /// This rank's example indices for `epoch`, in the order it visits them.
    #[must_use]
    pub fn indices(&self, epoch: u64) -> Vec<usize> {
        let mut order = match self.seed {
            Some(seed) => permutation(self.len, seed.wrapping_add(epoch + 1)),
            None => (0..self.len).collect(),
        };
        let total = if self.pad {
            self.num_samples() * self.world
        } else {
            self.len
        };
        if order.is_empty() {
            return Vec::new();
        }
        let mut k = 0;
        while order.len() < total {
            order.push(order[k]);
            k += 1;
        }
        order.truncate(total);
        order
            .into_iter()
            .skip(self.rank)
            .step_by(self.world)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_a_seeded_shuffle() {
        let p = permutation(1000, 3);
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_eq!(p, permutation(1000, 3));
        assert_ne!(p, permutation(1000, 4));
        assert_ne!(p, sorted);
    }

    #[test]
    fn padding_repeats_the_first_examples() {
        let shards: Vec<Vec<usize>> = (0..3)
            .map(|r| DistributedSampler::new(7, 3, r).indices(0))
            .collect();
        assert_eq!(shards, vec![vec![0, 3, 6], vec![1, 4, 0], vec![2, 5, 1]]);
        let dropped: Vec<Vec<usize>> = (0..3)
            .map(|r| DistributedSampler::new(7, 3, r).drop_last(true).indices(0))
            .collect();
        assert_eq!(dropped, vec![vec![0, 3], vec![1, 4], vec![2, 5]]);
        let exact: Vec<Vec<usize>> = (0..3)
            .map(|r| DistributedSampler::new(7, 3, r).exact().indices(0))
            .collect();
        assert_eq!(exact, vec![vec![0, 3, 6], vec![1, 4], vec![2, 5]]);
        assert_eq!(DistributedSampler::new(7, 3, 1).exact().num_samples(), 2);
    }
}

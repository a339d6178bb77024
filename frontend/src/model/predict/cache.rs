//! The bounded cache of a model's compiled predict executables: how many are kept
//! ([`PredictorCache::capacity`], the least recently used evicted first) and which batch sizes
//! are compiled ([`BatchBuckets`]: a batch is padded up to the next compiled size, a larger one
//! split, instead of compiling an executable per batch size).
//!
//! The cache is a short list of slots behind one mutex, each slot with a mutex of its own
//! around its compiled value: the list lock is held only to find, add or evict a slot, the
//! slot lock while compiling, so concurrent first calls of one batch size compile once and a
//! call that hits the cache never waits for another size to compile. An evicted executable
//! lives on until the calls running it finish.
//!
//! It does NOT compile, pad or run anything: `predictor.rs` does, asking
//! [`BatchBuckets::compiled_size`] which executable runs a batch.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::super::Model;
use crate::error::{Error, Result};

/// Which batch sizes a model compiles predict executables for. A batch of `n` examples runs
/// on the smallest compiled size that holds it (padded with zero examples, whose outputs are
/// dropped), or, above the largest, in batches of the largest size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchBuckets {
    /// 1, 2, 4, 8, … up to `max` (and `max` itself when it is not a power of two).
    PowersOfTwo {
        /// The largest batch compiled.
        max: usize,
    },
    /// These sizes (in any order, at least one, none zero).
    Sizes(Vec<usize>),
    /// Every batch size its own executable: no padding (the cache still holds at most
    /// [`PredictorCache::capacity`] of them).
    Exact,
}

impl BatchBuckets {
    /// The compiled batch size that runs a batch of `n` (at least 1) examples.
    ///
    /// ```
    /// use kiln::model::BatchBuckets;
    /// let buckets = BatchBuckets::PowersOfTwo { max: 48 };
    /// assert_eq!(buckets.compiled_size(1), 1);
    /// assert_eq!(buckets.compiled_size(5), 8);
    /// assert_eq!(buckets.compiled_size(40), 48);
    /// assert_eq!(buckets.compiled_size(100), 48);
    /// assert_eq!(BatchBuckets::Sizes(vec![16, 4]).compiled_size(5), 16);
    /// ```
    pub fn compiled_size(&self, n: usize) -> usize {
        let n = n.max(1);
        match self {
            BatchBuckets::PowersOfTwo { max } => n.next_power_of_two().min(*max).max(1),
            BatchBuckets::Sizes(sizes) => {
                let fits = sizes.iter().copied().filter(|&s| s >= n).min();
                fits.or_else(|| sizes.iter().copied().max()).unwrap_or(n)
            }
            BatchBuckets::Exact => n,
        }
    }

    /// An error when no batch size could be compiled (a zero size or none).
    fn check(&self) -> Result<()> {
        let bad = match self {
            BatchBuckets::PowersOfTwo { max } => *max == 0,
            BatchBuckets::Sizes(sizes) => sizes.is_empty() || sizes.contains(&0),
            BatchBuckets::Exact => false,
        };
        if bad {
            return Err(Error::InvalidArgument {
                name: "buckets",
                msg: format!("{self:?} compiles no batch size: sizes must be at least 1"),
            });
        }
        Ok(())
    }
}

/// How a model caches its predict executables: at most `capacity` compiled batch sizes
/// (per model, all devices together), for the sizes of `buckets`. The default keeps 16
/// executables of the batch sizes 1, 2, 4, … 256.
///
/// ```
/// use kiln::model::{BatchBuckets, PredictorCache};
/// use kiln::prelude::*;
/// let mut model = Sequential::of([Input::new([3]).into(), Dense::new(2).into()]);
/// model.set_predictor_cache(PredictorCache {
///     capacity: 2,
///     buckets: BatchBuckets::PowersOfTwo { max: 8 },
/// })?;
/// for n in [1, 3, 7, 20] {
///     let x = kiln::Tensor::new([n, 3], vec![0.5; n * 3]).expect("3 values per example");
///     assert_eq!(model.predict(&x, 32)?.shape.dims(), [n, 2]);
/// }
/// // Compiled sizes 1, 4 (for 3), 8 (for 7) and 8 again (20 ran as 8 + 8 + 4 padded to 8):
/// // the two most recently used stay, least recent first.
/// assert_eq!(model.cached_batch_sizes(), [4, 8]);
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredictorCache {
    /// How many executables are kept; at least 1.
    pub capacity: usize,
    /// Which batch sizes are compiled.
    pub buckets: BatchBuckets,
}

impl Default for PredictorCache {
    fn default() -> Self {
        PredictorCache {
            capacity: 16,
            buckets: BatchBuckets::PowersOfTwo { max: 256 },
        }
    }
}

/// One cached value: compiled once, on first use, under its own lock.
type Slot<V> = Arc<Mutex<Option<Arc<V>>>>;

/// The slots by key, least recently used first.
struct Entries<K, V> {
    slots: Vec<(K, Slot<V>)>,
}

/// A least-recently-used cache of values built on first use (the model's predictors, keyed
/// by device and compiled batch size), bounded by its options' capacity.
pub(crate) struct Lru<K, V> {
    options: PredictorCache,
    entries: Mutex<Entries<K, V>>,
}

impl<K: Copy + PartialEq, V> Lru<K, V> {
    /// An empty cache with `options`.
    pub(crate) fn new(options: PredictorCache) -> Self {
        Lru {
            options,
            entries: Mutex::new(Entries { slots: Vec::new() }),
        }
    }

    /// The cache's options.
    pub(crate) fn options(&self) -> &PredictorCache {
        &self.options
    }

    fn lock(&self) -> MutexGuard<'_, Entries<K, V>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The keys held, least recently used first.
    pub(crate) fn keys(&self) -> Vec<K> {
        self.lock().slots.iter().map(|(key, _)| *key).collect()
    }

    /// The value of `key`, built by `make` when absent (concurrent callers of one key build
    /// it once; a failed build is retried by the next caller). Makes `key` the most recently
    /// used, evicting the least recently used key when the cache is full.
    pub(crate) fn get_or_make(&self, key: K, make: impl FnOnce() -> Result<V>) -> Result<Arc<V>> {
        let slot = {
            let mut entries = self.lock();
            let slots = &mut entries.slots;
            let slot = match slots.iter().position(|(k, _)| *k == key) {
                Some(at) => slots.remove(at).1,
                None => {
                    if slots.len() >= self.options.capacity.max(1) {
                        slots.remove(0);
                    }
                    Slot::default()
                }
            };
            slots.push((key, Arc::clone(&slot)));
            slot
        };
        let mut value = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = &*value {
            return Ok(Arc::clone(value));
        }
        let made = Arc::new(make()?);
        *value = Some(Arc::clone(&made));
        Ok(made)
    }
}

impl Model {
    /// Sets how many predict executables the model keeps and which batch sizes it compiles
    /// (see [`PredictorCache`]), forgetting those compiled so far.
    pub fn set_predictor_cache(&mut self, options: PredictorCache) -> Result<()> {
        if options.capacity == 0 {
            return Err(Error::InvalidArgument {
                name: "capacity",
                msg: "the predictor cache must hold at least 1 executable".into(),
            });
        }
        options.buckets.check()?;
        self.predictors = super::Predictors::new(options);
        Ok(())
    }

    /// How the model caches its predict executables.
    pub fn predictor_cache(&self) -> &PredictorCache {
        self.predictors.options()
    }

    /// The batch sizes of the predict executables the cache holds now (on any device), least
    /// recently used first; never more than [`PredictorCache::capacity`].
    pub fn cached_batch_sizes(&self) -> Vec<usize> {
        self.predictors.keys().into_iter().map(|(_, n)| n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(capacity: usize) -> PredictorCache {
        PredictorCache {
            capacity,
            buckets: BatchBuckets::Exact,
        }
    }

    #[test]
    fn the_least_recently_used_key_goes_first() {
        let lru: Lru<usize, usize> = Lru::new(options(2));
        let mut made = 0;
        for key in [1, 2, 1, 3, 1, 2] {
            let value = lru
                .get_or_make(key, || {
                    made += 1;
                    Ok(key * 10)
                })
                .unwrap();
            assert_eq!(*value, key * 10);
        }
        // 1, 2 made; 1 hit; 3 evicts 2; 1 hit; 2 evicts 3.
        assert_eq!(made, 4);
        assert_eq!(lru.keys(), [1, 2]);
    }

    #[test]
    fn a_failed_build_is_retried() {
        let lru: Lru<usize, usize> = Lru::new(options(1));
        let failed = lru.get_or_make(7, || {
            Err(Error::InvalidArgument {
                name: "x",
                msg: "no".into(),
            })
        });
        assert!(failed.is_err());
        assert_eq!(*lru.get_or_make(7, || Ok(70)).unwrap(), 70);
    }

    #[test]
    fn buckets_pad_up_and_split_above_the_largest() {
        let powers = BatchBuckets::PowersOfTwo { max: 256 };
        let sizes: Vec<usize> = [1, 2, 3, 5, 64, 65, 256, 1000]
            .iter()
            .map(|&n| powers.compiled_size(n))
            .collect();
        assert_eq!(sizes, [1, 2, 4, 8, 64, 128, 256, 256]);
        assert_eq!(BatchBuckets::Sizes(vec![8, 32]).compiled_size(1), 8);
        assert_eq!(BatchBuckets::Sizes(vec![8, 32]).compiled_size(33), 32);
        assert_eq!(BatchBuckets::Exact.compiled_size(37), 37);
        assert!(BatchBuckets::Sizes(vec![]).check().is_err());
        assert!(BatchBuckets::PowersOfTwo { max: 0 }.check().is_err());
    }
}

//! [`Generator`]: training or evaluation data that arrives one batch at a time — from an
//! iterator, or produced on a background thread with a bounded prefetch queue (Keras'
//! `fit(generator, steps_per_epoch=..)` with `max_queue_size`), for data larger than memory
//! or computed on the fly.
//!
//! Each item is one batch: a [`Dataset`] (or `Result<Dataset>`, or with the `ndarray` feature
//! a `(features, labels)` pair of arrays). A generator is consumed as it is read: `fit` draws
//! `steps_per_epoch` batches per epoch and continues where the last epoch stopped. This
//! module does not shuffle, batch or repeat: the iterator decides what comes next.

use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use crate::datasets::Dataset;
use crate::error::{Error, Result};

/// What a generator may yield: one batch of examples.
pub trait GeneratorItem {
    /// The batch as a dataset, or the error that producing it met.
    fn into_batch(self) -> Result<Dataset>;
}

impl GeneratorItem for Dataset {
    fn into_batch(self) -> Result<Dataset> {
        Ok(self)
    }
}

impl GeneratorItem for Result<Dataset> {
    fn into_batch(self) -> Result<Dataset> {
        self
    }
}

#[cfg(feature = "ndarray")]
impl<S, T, D, E> GeneratorItem for (ndarray::ArrayBase<S, D>, ndarray::ArrayBase<T, E>)
where
    S: ndarray::Data<Elem = f32>,
    T: ndarray::Data,
    T::Elem: crate::datasets::labels::Label,
    D: ndarray::Dimension,
    E: ndarray::Dimension,
{
    fn into_batch(self) -> Result<Dataset> {
        Dataset::from_ndarray(&self.0, &self.1)
    }
}

/// A stream of batches, read once, in order.
///
/// ```
/// use kiln::datasets::Generator;
/// use kiln::Dataset;
/// // Batches of 4 examples produced on a background thread, at most 2 waiting.
/// let batches = Generator::background(2, || {
///     (0..3).map(|i| Dataset::new(vec![i as f32; 8], &[4, 2], vec![0.0; 4], &[4]))
/// });
/// let lens: Vec<usize> = batches.map(|b| b.unwrap().len()).collect();
/// assert_eq!(lens, [4, 4, 4]);
/// ```
pub struct Generator<'a> {
    batches: Box<dyn Iterator<Item = Result<Dataset>> + 'a>,
    /// The producing thread of a background generator, joined when its queue ends.
    worker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Generator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("background", &self.worker.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a> Generator<'a> {
    /// Batches read from `batches` on the calling thread, as they are needed.
    pub fn new<I>(batches: I) -> Self
    where
        I: IntoIterator,
        I::IntoIter: 'a,
        I::Item: GeneratorItem + 'a,
    {
        Generator {
            batches: Box::new(batches.into_iter().map(GeneratorItem::into_batch)),
            worker: None,
        }
    }
}

impl Generator<'static> {
    /// Batches produced on a background thread by the iterator that `make` returns (called on
    /// that thread), while the caller trains on earlier ones. At most `prefetch` finished
    /// batches wait in the queue (`0`: each batch is handed over as it is made); the thread
    /// stops when the iterator ends or the generator is dropped. A panic on the thread ends
    /// the stream with an [`Error::Generator`].
    pub fn background<F, I>(prefetch: usize, make: F) -> Self
    where
        F: FnOnce() -> I + Send + 'static,
        I: IntoIterator,
        I::Item: GeneratorItem,
    {
        let (sender, receiver) = sync_channel(prefetch);
        let worker = std::thread::spawn(move || {
            for item in make() {
                if sender.send(item.into_batch()).is_err() {
                    break; // the generator was dropped
                }
            }
        });
        Generator {
            batches: Box::new(Queue(receiver)),
            worker: Some(worker),
        }
    }
}

/// The receiving end of a background generator's queue, as an iterator.
struct Queue(Receiver<Result<Dataset>>);

impl Iterator for Queue {
    type Item = Result<Dataset>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.recv().ok()
    }
}

impl Iterator for Generator<'_> {
    type Item = Result<Dataset>;

    fn next(&mut self) -> Option<Result<Dataset>> {
        if let Some(batch) = self.batches.next() {
            return Some(batch);
        }
        let worker = self.worker.take()?;
        worker
            .join()
            .is_err()
            .then(|| Err(Error::Generator("its background thread panicked".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(value: f32) -> Dataset {
        Dataset::new(vec![value; 2], &[1, 2], vec![0.0], &[1]).unwrap()
    }

    #[test]
    fn background_batches_arrive_in_order_and_the_queue_is_bounded() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let made = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&made);
        let mut batches = Generator::background(2, move || {
            (0..100).map(move |i| {
                counter.fetch_add(1, Ordering::SeqCst);
                batch(i as f32)
            })
        });
        let first = batches.next().unwrap().unwrap();
        assert_eq!(first.features(), &[0.0, 0.0]);
        std::thread::sleep(std::time::Duration::from_millis(50));
        // One taken, two queued, one made and waiting to be sent.
        assert!(
            made.load(Ordering::SeqCst) <= 4,
            "{}",
            made.load(Ordering::SeqCst)
        );
        let rest: Vec<f32> = batches.map(|b| b.unwrap().features()[0]).collect();
        assert_eq!(rest, (1..100).map(|i| i as f32).collect::<Vec<_>>());
    }

    #[test]
    fn a_panicking_producer_ends_the_stream_with_an_error() {
        let mut batches = Generator::background(1, || {
            (0..3).map(|i| {
                if i == 2 {
                    panic!("boom")
                } else {
                    batch(i as f32)
                }
            })
        });
        assert!(batches.next().unwrap().is_ok());
        assert!(batches.next().unwrap().is_ok());
        assert!(matches!(batches.next(), Some(Err(Error::Generator(_)))));
        assert!(batches.next().is_none());
    }
}

//! Data-parallel training with the in-process `ThreadWorld` (each rank a thread): two ranks of
//! batch 16 train like one process of batch 32 (mean-loss gradients average exactly up to
//! float rounding), ranks end bit-identical, a CNN with BatchNormalization keeps its moving
//! statistics equal across ranks, the sampler shards are disjoint, covering and seeded,
//! mismatched models or batch sizes fail on every rank before any step, distributed
//! `evaluate` equals single-process `evaluate`, and a dead rank is an error, not a hang.

use std::collections::BTreeMap;

use ir::Tensor;
use kiln::distributed::{Communicator, DistributedSampler, ThreadComm, ThreadWorld};
use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::{Adam, SGD};
use kiln::prelude::*;

mod common;

use common::{CLASSES, FEATURES, relu_classifier, synthetic};

/// Weights after training may differ from one process by the rounding of a sum taken in a
/// different order (two half-batch means averaged vs one batch mean): measured 4.5e-8 here.
const TOLERANCE: f32 = 1e-6;

/// SGD with momentum: Adam's `m / sqrt(v)` would turn the rounding noise of a gradient
/// that is nearly zero into a full step, which no tolerance on the weights could state.
fn mlp(seed: u64) -> Sequential {
    let mut model = relu_classifier(8, seed);
    model
        .compile(
            SGD::default().learning_rate(0.1).momentum(0.9),
            SoftmaxCrossEntropyWithLogits,
            [Accuracy],
        )
        .unwrap();
    model
}

/// Runs `job(comm)` on `n` ranks, one thread each; the results by rank.
fn on_ranks<T: Send>(n: usize, job: impl Fn(ThreadComm) -> T + Sync) -> Vec<T> {
    let handles = ThreadWorld::new(n);
    std::thread::scope(|s| {
        let threads: Vec<_> = handles
            .into_iter()
            .map(|comm| s.spawn(|| job(comm)))
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

fn max_difference(a: &BTreeMap<String, Tensor>, b: &BTreeMap<String, Tensor>) -> f32 {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    a.values()
        .zip(b.values())
        .flat_map(|(x, y)| x.data.iter().zip(&y.data).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

#[test]
fn two_ranks_of_16_train_like_one_process_of_32() {
    let data = synthetic(96, 5);
    let options = || FitOptions::new(3, 32).verbose(false);
    let mut single = mlp(7);
    let single_history = single.fit_with(&data, options()).unwrap();
    let single_weights = single.weights().unwrap();
    let ranks = on_ranks(2, |comm| {
        let mut model = mlp(7);
        if comm.rank() == 1 {
            // Rank 1 starts from other weights: rank 0's are broadcast before training.
            let mut shifted = model.weights().unwrap();
            shifted
                .values_mut()
                .for_each(|t| t.data.iter_mut().for_each(|v| *v += 1.0));
            model.set_weights(&shifted).unwrap();
        }
        let history = model.fit_with(&data, options().distributed(&comm)).unwrap();
        let timings = model.step_timings().expect("distributed steps ran");
        assert_eq!(timings.steps, 9);
        eprintln!("rank {}: {timings:?}", comm.rank());
        (model.weights().unwrap(), history)
    });
    for (rank, (weights, history)) in ranks.iter().enumerate() {
        let difference = max_difference(weights, &single_weights);
        eprintln!("rank {rank}: largest weight difference from one process {difference:e}");
        assert!(difference < TOLERANCE, "rank {rank}: {difference}");
        let (a, b) = (
            history.get("loss").unwrap(),
            single_history.get("loss").unwrap(),
        );
        assert!(
            a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4),
            "{a:?} vs {b:?}"
        );
    }
    assert_eq!(ranks[0].0, ranks[1].0, "the ranks' weights differ");
    assert_eq!(
        ranks[0].1.history, ranks[1].1.history,
        "the ranks' logs differ"
    );
}

#[test]
fn an_uneven_data_set_pads_the_shards_and_keeps_ranks_identical() {
    // 37 examples on 2 ranks: 19 each (one padded), batches of 5 per rank, the last of 4.
    let data = synthetic(37, 2);
    let ranks = on_ranks(2, |comm| {
        let mut model = mlp(3);
        let options = FitOptions::new(2, 10)
            .verbose(false)
            .distributed(&comm)
            .bucket_bytes(64);
        model.fit_with(&data, options).unwrap();
        model.weights().unwrap()
    });
    assert_eq!(ranks[0], ranks[1]);
}

fn bn_cnn(seed: u64) -> Sequential {
    let mut model = sequential![
        Input::new([6, 6, 1]),
        Conv2D::new(3, 3),
        BatchNormalization::new(),
        Flatten::new(),
        Dense::new(3),
    ]
    .with_seed(seed);
    model
        .compile(
            SGD::default().learning_rate(0.05),
            SoftmaxCrossEntropyWithLogits,
            [Accuracy],
        )
        .unwrap();
    model
}

fn images(n: usize) -> Dataset {
    let x: Vec<f32> = (0..n * 36)
        .map(|i| ir::random::uniform(9, i as u32) * (1 + i / 36 % 3) as f32)
        .collect();
    let mut y = vec![0.0; n * 3];
    (0..n).for_each(|b| y[b * 3 + b % 3] = 1.0);
    Dataset::new(x, &[n, 6, 6, 1], y, &[n, 3]).unwrap()
}

#[test]
fn batch_normalization_moving_statistics_agree_across_ranks() {
    let data = images(24);
    let before = bn_cnn(4).weights().unwrap();
    let ranks = on_ranks(2, |comm| {
        let mut model = bn_cnn(4);
        let history = model
            .fit_with(
                &data,
                FitOptions::new(3, 8).verbose(false).distributed(&comm),
            )
            .unwrap();
        (
            model.weights().unwrap(),
            history.get("loss").unwrap().to_vec(),
        )
    });
    assert_eq!(
        ranks[0].0, ranks[1].0,
        "weights or moving statistics differ"
    );
    let moving = &ranks[0].0["batch_normalization/moving_mean"];
    assert_ne!(moving, &before["batch_normalization/moving_mean"]);
    assert!(ranks[0].1.iter().all(|l| l.is_finite()), "{:?}", ranks[0].1);
}

#[test]
fn sampler_shards_are_disjoint_covering_and_seeded() {
    let shards = |epoch| -> Vec<Vec<usize>> {
        (0..3)
            .map(|r| DistributedSampler::new(30, 3, r).shuffle(5).indices(epoch))
            .collect()
    };
    let epoch0 = shards(0);
    let mut all: Vec<usize> = epoch0.concat();
    all.sort_unstable();
    assert_eq!(all, (0..30).collect::<Vec<_>>(), "disjoint and covering");
    assert_eq!(epoch0, shards(0), "seeded");
    assert_ne!(epoch0, shards(1), "reshuffled each epoch");
    // Step k of all ranks together is batch k of one process's shuffle.
    let global = kiln::distributed::permutation(30, 5 + 1);
    let step0: Vec<usize> = (0..3).flat_map(|r| epoch0[r][..2].to_vec()).collect();
    let mut expected = global[..6].to_vec();
    let mut got = step0;
    expected.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, expected);
}

#[test]
fn a_mismatched_model_or_batch_size_fails_on_every_rank_before_training() {
    let data = synthetic(32, 1);
    let errors = on_ranks(2, |comm| {
        let hidden = if comm.rank() == 1 { 9 } else { 8 };
        let mut model = relu_classifier(hidden, 1);
        model
            .compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])
            .unwrap();
        let before = model.weights().unwrap();
        let err = model
            .fit_with(
                &data,
                FitOptions::new(1, 16).verbose(false).distributed(&comm),
            )
            .unwrap_err()
            .to_string();
        assert_eq!(model.weights().unwrap(), before, "a step ran");
        err
    });
    for err in &errors {
        assert!(
            err.contains("the model") && err.contains("rank 1 has"),
            "{err}"
        );
    }
    let errors = on_ranks(2, |comm| {
        let mut model = mlp(1);
        let batch = if comm.rank() == 0 { 16 } else { 8 };
        let options = FitOptions::new(1, batch).verbose(false).distributed(&comm);
        model.fit_with(&data, options).unwrap_err().to_string()
    });
    for err in &errors {
        assert!(
            err.contains("global batch size") && err.contains("rank 1 has 8"),
            "{err}"
        );
    }
    let err = on_ranks(2, |comm| {
        let options = FitOptions::new(1, 15).verbose(false).distributed(&comm);
        mlp(1).fit_with(&data, options).unwrap_err().to_string()
    });
    assert!(
        err[0].contains("not divisible by the 2 ranks"),
        "{}",
        err[0]
    );
}

/// [`mlp`] with a summed metric too (Precision: four counts, where the loss and accuracy are
/// one value each).
fn mlp_with_counts(seed: u64) -> Sequential {
    let mut model = relu_classifier(8, seed);
    let metrics: Vec<Box<dyn kiln::metrics::Metric>> = vec![
        Box::new(Accuracy),
        Box::new(kiln::metrics::Precision::new()),
    ];
    model
        .compile(
            SGD::default().learning_rate(0.1).momentum(0.9),
            SoftmaxCrossEntropyWithLogits,
            metrics,
        )
        .unwrap();
    model
}

#[test]
fn distributed_evaluate_equals_single_process_evaluate() {
    let mut trained = mlp_with_counts(2);
    trained
        .fit_with(&synthetic(64, 4), FitOptions::new(2, 16).verbose(false))
        .unwrap();
    let weights = trained.weights().unwrap();
    // 37 examples over 2 and 3 ranks (uneven shards), and 2 examples over 3 ranks (one rank
    // holds none).
    for (examples, ranks, batch) in [(37, 2, 8), (37, 3, 6), (2, 3, 6)] {
        let test = synthetic(examples, 8);
        let single = trained.evaluate(&test, batch).unwrap();
        let ranks = on_ranks(ranks, |comm| {
            let mut model = mlp_with_counts(2);
            model.set_weights(&weights).unwrap();
            model.evaluate_distributed(&test, batch, &comm).unwrap()
        });
        for evaluation in &ranks {
            assert!(
                (evaluation.loss - single.loss).abs() < 1e-5,
                "{examples} examples: {evaluation:?} vs {single:?}"
            );
            assert_eq!(evaluation.metrics, single.metrics);
        }
    }
}

#[test]
fn a_rank_that_leaves_is_an_error_not_a_hang() {
    let mut handles = ThreadWorld::new(2);
    drop(handles.pop());
    let mut buffer = [1.0f32; 4];
    let err = handles[0].all_reduce_sum(&mut buffer).unwrap_err();
    assert!(err.to_string().contains("rank 1 is gone"), "{err}");
}

/// A communicator that records the length of every sum started, in order.
struct Recording {
    inner: ThreadComm,
    starts: std::sync::Mutex<Vec<usize>>,
}

impl Communicator for Recording {
    fn rank(&self) -> usize {
        self.inner.rank()
    }
    fn world_size(&self) -> usize {
        self.inner.world_size()
    }
    fn all_reduce_sum(&self, buffer: &mut [f32]) -> Result<(), kiln::distributed::CommError> {
        self.inner.all_reduce_sum(buffer)
    }
    fn start_all_reduce_sum(
        &self,
        buffer: Vec<f32>,
    ) -> Result<Box<dyn kiln::distributed::PendingSum>, kiln::distributed::CommError> {
        self.starts.lock().unwrap().push(buffer.len());
        self.inner.start_all_reduce_sum(buffer)
    }
    fn broadcast(
        &self,
        buffer: &mut [f32],
        root: usize,
    ) -> Result<(), kiln::distributed::CommError> {
        self.inner.broadcast(buffer, root)
    }
    fn all_gather_u64(&self, value: u64) -> Result<Vec<u64>, kiln::distributed::CommError> {
        self.inner.all_gather_u64(value)
    }
}

/// With one bucket per tensor, the sums start in the order backward finishes the gradients
/// (the last layer's first), not in the order of the parameters: each starts inside the
/// gradient step, as soon as its gradient is ready. The timings account for every sum.
#[test]
fn each_bucket_is_summed_as_soon_as_backward_has_produced_it() {
    let data = synthetic(64, 5);
    let ranks = on_ranks(2, |comm| {
        let recording = Recording {
            inner: comm,
            starts: std::sync::Mutex::new(Vec::new()),
        };
        let mut model = mlp(3);
        let options = FitOptions::new(1, 32)
            .verbose(false)
            .bucket_bytes(4)
            .distributed(&recording);
        model.fit_with(&data, options).unwrap();
        let timings = model.step_timings().unwrap();
        (recording.starts.into_inner().unwrap(), timings)
    });
    // relu_classifier(8): kernel, bias of the hidden layer, then of the output layer.
    let sizes = [FEATURES * 8, 8, 8 * CLASSES, CLASSES];
    for (starts, timings) in ranks {
        // One sum per trainable tensor per step (the last also holds the loss and accuracy).
        let steps = starts.len() / sizes.len();
        assert_eq!(steps, 2, "{starts:?}");
        let first_step = &starts[..sizes.len()];
        let mut started_first = first_step[..2].to_vec();
        started_first.sort_unstable();
        assert_eq!(
            started_first,
            [CLASSES, 8 * CLASSES],
            "the last layer's kernel and bias are summed first: {first_step:?} for {sizes:?}"
        );
        assert_eq!(
            timings.reduced_bytes,
            4 * starts.iter().sum::<usize>() as u64
        );
        assert!(timings.reduce_in_flight >= timings.reduce_hidden);
        assert!(timings.reduce_hidden > std::time::Duration::ZERO);
    }
}

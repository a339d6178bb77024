//! The bounded predictor cache and its batch-size buckets: padded batches give what the
//! exact batch sizes give (up to rounding), for one-input and multi-input/multi-output
//! models; several threads predicting with several batch sizes at once get exactly what one
//! thread gets, while the cache never holds more than its capacity; bad options are errors;
//! a model compiled for the GPU pads and evicts the same way (lavapipe in CI; skipped where
//! no GPU adapter exists unless `KILN_GPU_TESTS=require`).

use codegen_gpu::gpu_tests_enabled;
use kiln::Tensor;
use kiln::layers::Concatenate;
use kiln::losses::MeanSquaredError;
use kiln::metrics::Accuracy;
use kiln::model::{BatchBuckets, Functional, PredictorCache};
use kiln::optimizers::SGD;
use kiln::prelude::*;

const FEATURES: usize = 5;
const CLASSES: usize = 3;

fn features(n: usize, seed: u32) -> Tensor {
    let data = (0..n * FEATURES)
        .map(|i| 2.0 * ir::random::uniform(seed, i as u32) - 1.0)
        .collect();
    Tensor::new([n, FEATURES], data).unwrap()
}

fn mlp(cache: PredictorCache) -> Sequential {
    let mut model = sequential![
        Input::new([FEATURES]),
        Dense::new(8).activation(Activation::Tanh),
        Dense::new(CLASSES).activation(Activation::Softmax),
    ]
    .with_seed(5);
    model.set_predictor_cache(cache).unwrap();
    model
}

fn cache(capacity: usize, max: usize) -> PredictorCache {
    PredictorCache {
        capacity,
        buckets: BatchBuckets::PowersOfTwo { max },
    }
}

fn exact() -> PredictorCache {
    PredictorCache {
        capacity: 64,
        buckets: BatchBuckets::Exact,
    }
}

fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}: value {i}: {g} vs {w}"
        );
    }
}

#[test]
fn padded_batches_predict_what_exact_batches_predict() {
    let padded = mlp(cache(3, 16));
    let unpadded = mlp(exact());
    for (n, batch) in [(1, 1), (3, 8), (5, 32), (13, 4), (37, 10), (40, 40)] {
        let x = features(n, n as u32);
        let got = padded.predict(&x, batch).unwrap();
        let want = unpadded.predict(&x, batch).unwrap();
        assert_eq!(got.shape.dims(), [n, CLASSES]);
        assert_close(
            &format!("{n} in batches of {batch}"),
            &got.data,
            &want.data,
            1e-5,
        );
        assert!(padded.cached_batch_sizes().len() <= 3);
    }
    // Compiled in turn: 1; 4 (3); 8 (5); 4, 1 (13 = 3 x 4 + 1); 16, 8 (37 = 3 x 10 + 7);
    // 16 (40 in one batch of 40: split into 16 + 16 + 8 padded to 16). Three stay.
    assert_eq!(padded.cached_batch_sizes(), [1, 8, 16]);
    assert!(
        unpadded.cached_batch_sizes().contains(&(37 % 10)),
        "exact buckets compile the remainder's own size"
    );
    let one = padded.predict_one(&features(1, 1).data).unwrap();
    assert_close(
        "predict_one",
        &one,
        &unpadded.predict(&features(1, 1), 1).unwrap().data,
        1e-6,
    );
}

/// Two inputs, two outputs: the padded copy handles every input and output.
fn two_in_two_out(cache: PredictorCache) -> Model {
    let mut f = Functional::builder("two").with_seed(3);
    let a = f.input(Input::new([FEATURES]));
    let b = f.input(Input::new([2]).named("b"));
    let joined = f.apply_many(Concatenate::new(), &[a, b]).unwrap();
    let hidden = f
        .apply(Dense::new(6).activation(Activation::Relu), joined)
        .unwrap();
    let first = f.apply(Dense::new(CLASSES), hidden).unwrap();
    let second = f.apply(Dense::new(1).named("second"), hidden).unwrap();
    let mut model = f.build(&[a, b], &[first, second]).unwrap();
    model.set_predictor_cache(cache).unwrap();
    model
}

#[test]
fn several_inputs_and_outputs_pad_and_trim() {
    let padded = two_in_two_out(cache(2, 8));
    let unpadded = two_in_two_out(exact());
    let n = 11;
    let a = features(n, 7);
    let b = Tensor::new([n, 2], (0..n * 2).map(|i| i as f32 * 0.1).collect()).unwrap();
    let got = padded.predict_many(&[&a, &b], 6).unwrap();
    let want = unpadded.predict_many(&[&a, &b], 6).unwrap();
    assert_eq!(got[0].shape.dims(), [n, CLASSES]);
    assert_eq!(got[1].shape.dims(), [n, 1]);
    for k in 0..2 {
        assert_close(&format!("output {k}"), &got[k].data, &want[k].data, 1e-5);
    }
    // Batches of 6 (and the last 5) both run on the compiled 8.
    assert_eq!(padded.cached_batch_sizes(), [8]);
}

#[test]
fn threads_with_several_batch_sizes_match_one_thread_and_stay_in_bound() {
    const CAPACITY: usize = 2;
    let model = mlp(cache(CAPACITY, 32));
    let cases: Vec<(Tensor, usize)> = [(1, 1), (7, 4), (20, 8), (33, 16), (50, 32), (9, 9)]
        .iter()
        .map(|&(n, batch)| (features(n, 100 + n as u32), batch))
        .collect();
    let want: Vec<Vec<f32>> = cases
        .iter()
        .map(|(x, batch)| model.predict(x, *batch).unwrap().data)
        .collect();
    std::thread::scope(|s| {
        for t in 0..6 {
            let (model, cases, want) = (&model, &cases, &want);
            s.spawn(move || {
                for round in 0..8 {
                    // Each thread walks the cases in its own order, so sizes interleave.
                    for c in 0..cases.len() {
                        let k = (c * (t + 1) + round) % cases.len();
                        let (x, batch) = &cases[k];
                        let got = model.predict(x, *batch).unwrap();
                        assert_eq!(got.data, want[k], "thread {t} round {round} case {k}");
                        let held = model.cached_batch_sizes().len();
                        assert!(held <= CAPACITY, "the cache holds {held} > {CAPACITY}");
                    }
                    let row = &cases[0].0.data;
                    assert_eq!(model.predict_one(row).unwrap(), want[0], "thread {t}");
                }
            });
        }
    });
    assert!(model.cached_batch_sizes().len() <= CAPACITY);
}

#[test]
fn cache_options_are_checked_and_kept_across_layer_changes() {
    let mut model = mlp(PredictorCache::default());
    assert_eq!(*model.predictor_cache(), PredictorCache::default());
    for bad in [
        cache(0, 8),
        cache(4, 0),
        PredictorCache {
            capacity: 4,
            buckets: BatchBuckets::Sizes(vec![4, 0]),
        },
        PredictorCache {
            capacity: 4,
            buckets: BatchBuckets::Sizes(vec![]),
        },
    ] {
        let err = model.set_predictor_cache(bad.clone()).unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{bad:?}: {err}");
    }
    let sizes = PredictorCache {
        capacity: 4,
        buckets: BatchBuckets::Sizes(vec![4, 10]),
    };
    model.set_predictor_cache(sizes.clone()).unwrap();
    model.predict(&features(3, 1), 3).unwrap();
    model.predict(&features(25, 1), 25).unwrap();
    assert_eq!(model.cached_batch_sizes(), [4, 10]);
    model.add(Dense::new(2)).unwrap();
    assert_eq!(model.cached_batch_sizes(), [] as [usize; 0]);
    assert_eq!(*model.predictor_cache(), sizes);
    assert_eq!(
        model.predict(&features(3, 1), 3).unwrap().shape.dims(),
        [3, 2]
    );
}

#[test]
fn a_gpu_model_pads_and_evicts_like_the_cpu() {
    if !gpu_tests_enabled() {
        return;
    }
    let compiled = |device: Device, cache: PredictorCache| {
        let mut model = mlp(cache);
        model
            .compile_on(
                device,
                SGD::default(),
                MeanSquaredError,
                [] as [Accuracy; 0],
            )
            .unwrap();
        model
    };
    let gpu = compiled(Device::Gpu, cache(2, 8));
    let cpu = compiled(Device::Cpu, exact());
    for (n, batch) in [(1, 1), (3, 4), (13, 16), (6, 6), (21, 5)] {
        let x = features(n, 40 + n as u32);
        let got = gpu.predict(&x, batch).unwrap();
        let want = cpu.predict(&x, batch).unwrap();
        assert_close(
            &format!("gpu {n} in batches of {batch}"),
            &got.data,
            &want.data,
            1e-4,
        );
        assert!(gpu.cached_batch_sizes().len() <= 2);
    }
    let x = features(1, 9);
    assert_close(
        "gpu predict_one",
        &gpu.predict_one(&x.data).unwrap(),
        &cpu.predict(&x, 1).unwrap().data,
        1e-4,
    );
}

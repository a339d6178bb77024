//! `Model::predict_one_into`, the latency path of batch-1 inference: the same bits as
//! `predict_one` and as `predict` at batch 1, from several threads at once (each call with a
//! workspace of its own from the predictor's pool), the current weights on every call,
//! clear errors for wrong buffer lengths, and no heap allocation on the calling thread once
//! it has predicted before (counted by this test binary's global allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ir::Tensor;
use kiln::prelude::*;

/// Counts the calling thread's allocations (frees are not counted).
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

const FEATURES: usize = 12;
const OUTPUTS: usize = 5;

/// An uncompiled MLP (initial weights), 12-20-5.
fn mlp() -> Sequential {
    Sequential::of([
        Input::new([FEATURES]).into(),
        Dense::new(20).activation(Activation::Relu).into(),
        Dense::new(OUTPUTS).into(),
    ])
}

fn example(seed: u32) -> Vec<f32> {
    (0..FEATURES)
        .map(|i| 2.0 * ir::random::uniform(seed, i as u32) - 1.0)
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn into_gives_the_bits_of_predict_one_and_of_predict_at_batch_one() {
    let model = mlp();
    let x = example(1);
    let mut out = [f32::NAN; OUTPUTS];
    model.predict_one_into(&x, &mut out).unwrap();
    assert_eq!(bits(&out), bits(&model.predict_one(&x).unwrap()));
    let batch = model
        .predict(&Tensor::new([1, FEATURES], x.clone()).unwrap(), 1)
        .unwrap();
    assert_eq!(bits(&out), bits(&batch.data));
    // A pooled workspace carries nothing from one call to the next.
    let other = model.predict_one(&example(2)).unwrap();
    let mut again = [0.0; OUTPUTS];
    model.predict_one_into(&x, &mut again).unwrap();
    assert_eq!(bits(&again), bits(&out));
    assert_ne!(bits(&other), bits(&out));
}

#[test]
fn four_threads_at_once_get_what_one_thread_gets() {
    let model = mlp();
    let inputs: Vec<Vec<f32>> = (0..16).map(example).collect();
    let want: Vec<Vec<f32>> = inputs
        .iter()
        .map(|x| model.predict_one(x).unwrap())
        .collect();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (model, inputs, want) = (&model, &inputs, &want);
            s.spawn(move || {
                for round in 0..50 {
                    let i = (t * 7 + round) % inputs.len();
                    let mut out = [0.0; OUTPUTS];
                    model.predict_one_into(&inputs[i], &mut out).unwrap();
                    assert_eq!(bits(&out), bits(&want[i]), "thread {t}, round {round}");
                }
            });
        }
    });
}

#[test]
fn every_call_reads_the_current_weights() {
    let mut model = mlp();
    let x = example(3);
    let before = model.predict_one(&x).unwrap();
    let bias = model.weight("dense_1/bias").unwrap();
    let ones = Tensor::new([OUTPUTS], vec![1.0; OUTPUTS]).unwrap();
    let update = [("dense_1/bias".to_string(), ones)].into_iter().collect();
    model.set_weights(&update).unwrap();
    let mut after = [0.0; OUTPUTS];
    model.predict_one_into(&x, &mut after).unwrap();
    for j in 0..OUTPUTS {
        let want = before[j] - bias.data[j] + 1.0;
        assert!(
            (after[j] - want).abs() < 1e-5,
            "output {j}: {} != {want}",
            after[j]
        );
    }
}

#[test]
fn wrong_lengths_are_errors_naming_them() {
    let model = mlp();
    let mut out = [0.0; OUTPUTS];
    let err = model.predict_one_into(&[0.0; 3], &mut out).unwrap_err();
    assert!(err.to_string().contains("3 feature values"), "{err}");
    let err = model
        .predict_one_into(&example(4), &mut [0.0; OUTPUTS + 1])
        .unwrap_err();
    assert!(err.to_string().contains("holds 6 values"), "{err}");
}

#[test]
fn a_warm_call_allocates_nothing() {
    let model = mlp();
    let x = example(5);
    let mut out = [0.0; OUTPUTS];
    model.predict_one_into(&x, &mut out).unwrap();
    let before = allocations();
    for _ in 0..100 {
        model.predict_one_into(&x, &mut out).unwrap();
    }
    assert_eq!(allocations() - before, 0, "allocations in 100 warm calls");
    // predict_one allocates exactly its result.
    let before = allocations();
    model.predict_one(&x).unwrap();
    assert_eq!(allocations() - before, 1, "allocations of one predict_one");
}

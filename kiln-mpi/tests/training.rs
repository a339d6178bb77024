//! Data-parallel training over MPI, on every rank of `mpirun -np N` (CI: 2): the replicas'
//! weights are identical after training, equal (up to rounding) to one process training at the
//! same global batch, and ranks that disagree on the model or the batch size fail before the
//! first step with an error. It does NOT kill ranks (tests/faults.rs does).
//!
//! `harness = false`, as tests/collectives.rs (one MPI init and finalize per process). Small
//! synthetic data: a few steps.

use std::collections::BTreeMap;

use kiln::Tensor;
use kiln::distributed::Communicator;
use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;
use kiln_mpi::MpiComm;

type Case = fn(&MpiComm) -> Result<(), String>;

const EXAMPLES: usize = 240;
const GLOBAL_BATCH: usize = 24;
const FEATURES: usize = 12;
const CLASSES: usize = 3;

/// A learnable toy problem: the class is which third of the feature sum's range it falls in.
fn data() -> Dataset {
    let mut features = Vec::with_capacity(EXAMPLES * FEATURES);
    let mut labels = Vec::with_capacity(EXAMPLES * CLASSES);
    for i in 0..EXAMPLES {
        let row: Vec<f32> = (0..FEATURES)
            .map(|j| (((i * 7919 + j * 104_729) % 1000) as f32 / 500.0) - 1.0)
            .collect();
        let class = ((row.iter().sum::<f32>() + 3.0) / 2.0).clamp(0.0, 2.0) as usize;
        features.extend(row);
        labels.extend((0..CLASSES).map(|c| f32::from(u8::from(c == class))));
    }
    Dataset::new(
        features,
        &[EXAMPLES, FEATURES],
        labels,
        &[EXAMPLES, CLASSES],
    )
    .expect("toy data")
}

/// A small MLP; with `batch_norm`, BatchNormalization after the hidden layer.
fn model(hidden: usize, batch_norm: bool) -> Result<Model, String> {
    let mut layers: Vec<Box<dyn Layer>> = vec![
        Input::new([FEATURES]).into(),
        Dense::new(hidden).activation(Activation::Relu).into(),
    ];
    if batch_norm {
        layers.push(BatchNormalization::new().into());
    }
    layers.push(Dense::new(CLASSES).into());
    let mut model = Sequential::of(layers);
    model
        .compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])
        .map_err(|e| e.to_string())?;
    Ok(model)
}

fn options(batch: usize) -> FitOptions<'static> {
    FitOptions::new(2, batch).verbose(Verbosity::Silent)
}

fn fnv(weights: &BTreeMap<String, Tensor>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, t) in weights {
        for b in name
            .bytes()
            .chain(t.data.iter().flat_map(|x| x.to_bits().to_le_bytes()))
        {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Trains `model` distributed; errs unless every rank ends with bit-identical weights.
fn train_identical(comm: &MpiComm, model: &mut Model) -> Result<BTreeMap<String, Tensor>, String> {
    model
        .fit_with(&data(), options(GLOBAL_BATCH).distributed(comm))
        .map_err(|e| e.to_string())?;
    let weights = model.weights().map_err(|e| e.to_string())?;
    let all = comm
        .all_gather_u64(fnv(&weights))
        .map_err(|e| e.to_string())?;
    if all.iter().any(|&h| h != all[0]) {
        return Err(format!("weight checksums differ across ranks: {all:x?}"));
    }
    Ok(weights)
}

/// With BatchNormalization (batch statistics per rank, moving statistics averaged), the
/// replicas stay bit-identical, moving statistics included.
fn batch_norm_replicas_identical(comm: &MpiComm) -> Result<(), String> {
    let weights = train_identical(comm, &mut model(16, true)?)?;
    if weights.keys().any(|k| k.contains("moving_mean")) {
        Ok(())
    } else {
        Err(format!("no moving statistics among {:?}", weights.keys()))
    }
}

/// Trains on every rank and on one process (on each rank, without the communicator) at the
/// same global batch: the ranks' weights are bit-identical, and within 1e-4 of one process's
/// (each step's gradient comes from the same examples; only the summation order differs).
/// Without BatchNormalization: its batch statistics are per rank, as in DDP.
fn ranks_match_one_process(comm: &MpiComm) -> Result<(), String> {
    let train = data();
    let weights = train_identical(comm, &mut model(16, false)?)?;
    let mut single = model(16, false)?;
    single
        .fit_with(&train, options(GLOBAL_BATCH))
        .map_err(|e| e.to_string())?;
    let reference = single.weights().map_err(|e| e.to_string())?;
    for (name, t) in &weights {
        let r = &reference[name];
        let worst = t
            .data
            .iter()
            .zip(&r.data)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            .fold(0.0f32, f32::max);
        if worst > 1e-4 {
            return Err(format!("{name}: differs from one process by {worst:e}"));
        }
    }
    Ok(())
}

/// Rank 1 builds a wider hidden layer: every rank's `fit` fails before training.
fn mismatched_model_fails(comm: &MpiComm) -> Result<(), String> {
    let hidden = if comm.rank() == 1 { 17 } else { 16 };
    expect_refusal(comm, model(hidden, false)?, GLOBAL_BATCH)
}

/// Rank 1 asks for another global batch size: every rank's `fit` fails before training.
fn mismatched_batch_fails(comm: &MpiComm) -> Result<(), String> {
    let batch = if comm.rank() == 1 {
        2 * GLOBAL_BATCH
    } else {
        GLOBAL_BATCH
    };
    expect_refusal(comm, model(16, false)?, batch)
}

fn expect_refusal(comm: &MpiComm, mut model: Model, batch: usize) -> Result<(), String> {
    if comm.world_size() < 2 {
        return Ok(()); // nothing to disagree with
    }
    let before = fnv(&model.weights().map_err(|e| e.to_string())?);
    match model.fit_with(&data(), options(batch).distributed(comm)) {
        Ok(_) => Err("fit trained although the ranks disagree".into()),
        Err(e) => {
            let after = fnv(&model.weights().map_err(|e| e.to_string())?);
            if comm.rank() == 0 {
                println!("    rank 0's error: {e}");
            }
            if after == before {
                Ok(())
            } else {
                Err(format!("the weights changed before the error ({e})"))
            }
        }
    }
}

fn main() {
    let mpi = kiln_mpi::init().expect("MPI starts with MPI_THREAD_MULTIPLE");
    let comm = mpi.world().expect("the world communicator");
    let cases: [(&str, Case); 4] = [
        ("ranks_match_one_process", ranks_match_one_process),
        (
            "batch_norm_replicas_identical",
            batch_norm_replicas_identical,
        ),
        ("mismatched_model_fails", mismatched_model_fails),
        ("mismatched_batch_fails", mismatched_batch_fails),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, case) in cases {
        let verdict = case(&comm);
        if let Err(msg) = &verdict {
            eprintln!("rank {}: {name} FAILED: {msg}", comm.rank());
        }
        let verdicts = comm
            .all_gather_u64(u64::from(verdict.is_err()))
            .expect("gathering the verdicts");
        let ok = verdicts.iter().all(|&v| v == 0);
        if comm.rank() == 0 {
            println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        }
        if ok {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    if comm.rank() == 0 {
        println!("{passed} passed, {failed} failed");
    }
    drop(comm);
    drop(mpi);
    if failed > 0 {
        std::process::exit(1);
    }
}

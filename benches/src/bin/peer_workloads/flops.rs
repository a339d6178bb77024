//! The analytic FLOP counts of the peer workloads, computed exactly as the peers' `common.py`
//! does (a multiply-add is 2 FLOP; biases, activations and pooling are not counted; training
//! is 3x the forward pass), and the peak they are compared with. Numbers only: no timing.

use serde_json::{Map, Value, json};

/// The peers' 2-core f32 FMA peak in GFLOP/s (`common.PEAK_GFLOPS_2CORE`: ~117 per core
/// measured on the AVX-512 Zen 4 machines, times 2).
pub const PEAK_GFLOPS_2CORE: f64 = 234.0;
/// Training images per W1 epoch: the first 57,000 of MNIST's 60,000.
pub const N_TRAIN: usize = 57_000;
/// Forward plus backward is counted as 3 forward passes.
const TRAIN_FACTOR: u64 = 3;
/// VGG16's convolution widths, `0` standing for a 2x2 max-pool (`common.VGG16_CFG`).
const VGG16_CFG: [u64; 18] = [
    64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0,
];

fn dense(n_in: u64, n_out: u64) -> u64 {
    2 * n_in * n_out
}

fn conv(h_out: u64, w_out: u64, c_in: u64, c_out: u64, k: u64) -> u64 {
    2 * h_out * w_out * c_out * c_in * k * k
}

fn w1_forward_per_sample() -> u64 {
    dense(784, 300) + dense(300, 100) + dense(100, 10)
}

fn w2_forward_per_sample() -> u64 {
    conv(26, 26, 1, 32, 3) + conv(11, 11, 32, 64, 3) + dense(5 * 5 * 64, 128) + dense(128, 10)
}

/// One 224x224 image through VGG16 with its classifier.
pub fn w3_forward_per_image() -> u64 {
    let (mut side, mut channels, mut flops) = (224, 3, 0);
    for width in VGG16_CFG {
        if width == 0 {
            side /= 2;
        } else {
            flops += conv(side, side, channels, width, 3);
            channels = width;
        }
    }
    flops + dense(7 * 7 * 512, 4096) + dense(4096, 4096) + dense(4096, 1000)
}

/// One W1 training epoch (57,000 images).
pub fn w1_train_per_epoch() -> u64 {
    TRAIN_FACTOR * w1_forward_per_sample() * N_TRAIN as u64
}

/// W2's 100 training steps of 100 images.
pub fn w2_train_per_100_steps() -> u64 {
    TRAIN_FACTOR * w2_forward_per_sample() * 100 * 100
}

/// The `flops` object of the results file, under `common.FLOPS`' keys (`summarize.py` reads
/// `w1_train_per_epoch`, `w2_train_per_100_steps` and `w3_forward_per_image`).
pub fn table() -> Map<String, Value> {
    let mut table = Map::new();
    let entries = [
        (
            "w1_train_per_sample",
            TRAIN_FACTOR * w1_forward_per_sample(),
        ),
        ("w1_train_per_epoch", w1_train_per_epoch()),
        (
            "w2_train_per_sample",
            TRAIN_FACTOR * w2_forward_per_sample(),
        ),
        ("w2_train_per_100_steps", w2_train_per_100_steps()),
        ("w3_forward_per_image", w3_forward_per_image()),
    ];
    for (key, value) in entries {
        table.insert(key.into(), json!(value));
    }
    table
}

/// `flop` done in `seconds`, in GFLOP/s.
pub fn gflops(flop: u64, seconds: f64) -> f64 {
    flop as f64 / seconds / 1e9
}

/// `gflops` as a percentage of [`PEAK_GFLOPS_2CORE`].
pub fn pct_peak(gflops: f64) -> f64 {
    100.0 * gflops / PEAK_GFLOPS_2CORE
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values `python3 ../shared/peers/common.py` prints.
    #[test]
    fn counts_match_the_peers_common_py() {
        let table = table();
        let expected = [
            ("w1_train_per_sample", 1_597_200_u64),
            ("w1_train_per_epoch", 91_040_400_000),
            ("w2_train_per_sample", 15_786_240),
            ("w2_train_per_100_steps", 157_862_400_000),
            ("w3_forward_per_image", 30_940_528_640),
        ];
        assert_eq!(table.len(), expected.len());
        for (key, value) in expected {
            assert_eq!(table[key], json!(value), "{key}");
        }
    }
}

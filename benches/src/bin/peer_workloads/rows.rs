//! One line of the peers' results table: the `rows` schema their `bench_*.py` scripts write
//! and `summarize.py` reads, field by field, with the same workload and metric strings and
//! the same number formats, so Kiln's rows land in the same table lines. Formatting only:
//! the workloads measure, `payload.rs` writes the file.

use serde::Serialize;

use crate::flops;

/// The `framework` of every row this program writes (and the key of its `results`).
pub const FRAMEWORK: &str = "kiln";

/// One row: `{"workload", "framework", "metric", "time", "throughput", "acc", "GFLOP/s",
/// "%peak"}`, as the peers write it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// `"W1 MLP"`, `"W2 CNN"`, `"W3 VGG16 b1"`, `"W3 VGG16 b8"` or `"W4 compile"`.
    pub workload: &'static str,
    /// Always [`FRAMEWORK`].
    pub framework: &'static str,
    /// The unit of `time`: `"s/epoch"`, `"s/100 steps"`, `"latency s"`, `"s/batch"` or
    /// `"first-steady s"`.
    pub metric: &'static str,
    /// The workload's metric, in seconds.
    pub time: f64,
    /// Images per second (`"1,234 img/s"`), or W4's steady step (`"steady 1.23 ms/step"`).
    pub throughput: String,
    /// Test accuracy with four decimals (W1), else `"-"`.
    pub acc: String,
    /// GFLOP/s of the timed work, `null` for W4.
    #[serde(rename = "GFLOP/s")]
    pub gflops: Option<f64>,
    /// `gflops` as a percentage of the 234 GFLOP/s 2-core peak, `null` for W4.
    #[serde(rename = "%peak")]
    pub pct_peak: Option<f64>,
}

impl Row {
    /// A row of `flop` done in `time` seconds.
    fn timed(
        workload: &'static str,
        metric: &'static str,
        time: f64,
        flop: u64,
        throughput: String,
    ) -> Row {
        let gflops = flops::gflops(flop, time);
        Row {
            workload,
            framework: FRAMEWORK,
            metric,
            time,
            throughput,
            acc: "-".into(),
            gflops: Some(gflops),
            pct_peak: Some(flops::pct_peak(gflops)),
        }
    }

    /// W1: median seconds per epoch of 57,000 images, and the test accuracy.
    pub fn w1(seconds_per_epoch: f64, test_accuracy: f64) -> Row {
        let images_per_second = flops::N_TRAIN as f64 / seconds_per_epoch;
        let mut row = Row::timed(
            "W1 MLP",
            "s/epoch",
            seconds_per_epoch,
            flops::w1_train_per_epoch(),
            format!("{} img/s", thousands(images_per_second)),
        );
        row.acc = format!("{test_accuracy:.4}");
        row
    }

    /// W2: median seconds per 100 steps of batch 100.
    pub fn w2(seconds_per_100_steps: f64) -> Row {
        Row::timed(
            "W2 CNN",
            "s/100 steps",
            seconds_per_100_steps,
            flops::w2_train_per_100_steps(),
            format!("{} img/s", thousands(10_000.0 / seconds_per_100_steps)),
        )
    }

    /// W3 at batch 1: median latency in seconds.
    pub fn w3_b1(latency: f64) -> Row {
        Row::timed(
            "W3 VGG16 b1",
            "latency s",
            latency,
            flops::w3_forward_per_image(),
            format!("{:.2} img/s", 1.0 / latency),
        )
    }

    /// W3 at batch 8: median seconds per batch.
    pub fn w3_b8(seconds_per_batch: f64) -> Row {
        Row::timed(
            "W3 VGG16 b8",
            "s/batch",
            seconds_per_batch,
            8 * flops::w3_forward_per_image(),
            format!("{:.2} img/s", 8.0 / seconds_per_batch),
        )
    }

    /// W4: the first step's excess over a steady step, and the steady step.
    pub fn w4(compile_overhead: f64, steady_step: f64) -> Row {
        Row {
            workload: "W4 compile",
            framework: FRAMEWORK,
            metric: "first-steady s",
            time: compile_overhead,
            throughput: format!("steady {:.2} ms/step", steady_step * 1e3),
            acc: "-".into(),
            gflops: None,
            pct_peak: None,
        }
    }
}

/// `x` rounded to a whole number with thousands separators, as Python's `f"{x:,.0f}"`.
pub fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if x < 0.0 && digits != "0" {
        grouped.insert(0, '-');
    }
    grouped
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn thousands_groups_like_python() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(107_750.6), "107,751");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(thousands(-5250.0), "-5,250");
    }

    #[test]
    fn rows_serialize_with_the_peers_field_names_and_strings() {
        let row = serde_json::to_value(Row::w1(0.5, 0.98123)).unwrap();
        let peak = 100.0 * 91.0404 / 0.5 / 234.0;
        assert_eq!(row["workload"], "W1 MLP");
        assert_eq!(row["framework"], "kiln");
        assert_eq!(row["metric"], "s/epoch");
        assert_eq!(row["time"], 0.5);
        assert_eq!(row["throughput"], "114,000 img/s");
        assert_eq!(row["acc"], "0.9812");
        assert!((row["GFLOP/s"].as_f64().unwrap() - 182.0808).abs() < 1e-9);
        assert!((row["%peak"].as_f64().unwrap() - peak).abs() < 1e-9);
        assert_eq!(row.as_object().unwrap().len(), 8);
    }

    #[test]
    fn each_workload_has_the_peers_metric_and_throughput_form() {
        let w2 = Row::w2(2.0);
        assert_eq!((w2.workload, w2.metric), ("W2 CNN", "s/100 steps"));
        assert_eq!(w2.throughput, "5,000 img/s");
        let b1 = Row::w3_b1(0.25);
        assert_eq!((b1.workload, b1.metric), ("W3 VGG16 b1", "latency s"));
        assert_eq!(b1.throughput, "4.00 img/s");
        let b8 = Row::w3_b8(1.6);
        assert_eq!((b8.workload, b8.metric), ("W3 VGG16 b8", "s/batch"));
        assert_eq!(b8.throughput, "5.00 img/s");
        let w4 = serde_json::to_value(Row::w4(0.02, 0.00123)).unwrap();
        assert_eq!(w4["metric"], "first-steady s");
        assert_eq!(w4["throughput"], "steady 1.23 ms/step");
        assert_eq!((&w4["GFLOP/s"], &w4["%peak"]), (&json!(null), &json!(null)));
    }
}

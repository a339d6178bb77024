//! What the results file records about the machine, as the peers' `common.py` does: the load
//! average and cumulative steal time around each workload (`snap`), the CPU, the threads
//! Kiln uses, and the time of writing. Reads `/proc` only; it measures no workload and runs
//! no capacity probe (the peers' probe is a numpy sgemm; its field is written as `null`).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// Linux's `USER_HZ`, the unit of `/proc/stat` times (100 on every Linux architecture
/// Kiln builds for; the peers read it with `sysconf(SC_CLK_TCK)`).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// The 1, 5 and 15 minute load averages, if `/proc/loadavg` can be read.
pub fn loadavg() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

/// Cumulative CPU steal time of all CPUs in seconds (the 8th value of `/proc/stat`'s `cpu`
/// line): how much a hypervisor took from this VM.
pub fn steal_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: f64 = text
        .lines()
        .next()?
        .split_whitespace()
        .nth(8)?
        .parse()
        .ok()?;
    Some(ticks / CLOCK_TICKS_PER_SECOND)
}

/// The peers' `snap()`: `{"loadavg", "steal_s", "probe_sgemm_gflops"}`.
pub fn snap() -> Value {
    json!({"loadavg": loadavg(), "steal_s": steal_seconds(), "probe_sgemm_gflops": null})
}

/// Threads Kiln's kernels use: its worker pool and `gemm`'s rayon pool are both sized by
/// `available_parallelism` (the CPUs this process may run on), with no setting of their own.
pub fn kiln_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `{"cpu", "nproc", "platform"}` as the peers' `machine_info()`, for Rust.
pub fn info() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        });
    json!({
        "cpu": cpu,
        "nproc": kiln_threads(),
        "platform": format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
    })
}

/// The current UTC time as `2026-12-06T05:53:00+0000` (the peers' `written_at` format).
pub fn utc_timestamp() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(seconds)
}

/// `seconds` since 1970 as an ISO date and time in UTC.
fn format_utc(seconds: u64) -> String {
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+0000",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_utc() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00+0000");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00+0000");
        assert_eq!(format_utc(1_796_535_180), "2026-12-06T05:33:00+0000");
    }
}

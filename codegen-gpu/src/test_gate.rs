//! Whether GPU tests run on this machine: one decision, from the `KILN_GPU_TESTS` environment
//! variable and whether a GPU adapter exists, shared by this crate's tests and the frontend's
//! GPU tests.
//!
//! - unset: the tests run where a GPU adapter exists; elsewhere they pass without running,
//!   after one line on stderr that says how to install a driver.
//! - `require`: no adapter is a test failure with that advice (CI sets this, so GPU tests
//!   cannot silently stop running).
//! - `skip`: the tests are skipped without looking for an adapter.
//! - any other value: a test failure naming the accepted values.

use std::ffi::OsStr;
use std::io::Write;
use std::sync::OnceLock;

use crate::{Gpu, GpuError};

/// The environment variable that says how GPU tests treat a machine without a GPU adapter.
pub const GPU_TESTS_VAR: &str = "KILN_GPU_TESTS";

/// How to get a GPU adapter where there is none, for the messages below.
const INSTALL_ADVICE: &str = "install a Vulkan driver, e.g. on Debian/Ubuntu \
     `apt-get install mesa-vulkan-drivers libvulkan1` (lavapipe, a CPU Vulkan driver, is enough)";

/// Whether the calling test should run its GPU part, per the rules in this module's doc.
/// Decided once per process: the first call reads [`GPU_TESTS_VAR`] and, unless it is
/// `skip`, probes for an adapter with [`Gpu::new`]; when it skips, it says why on stderr,
/// once.
///
/// A GPU test starts with `if !codegen_gpu::gpu_tests_enabled() { return; }`.
///
/// # Panics
///
/// With `KILN_GPU_TESTS=require` and no adapter, or with a value other than `require` and
/// `skip`, every call panics with a message saying what to do: the calling test fails.
pub fn gpu_tests_enabled() -> bool {
    static DECISION: OnceLock<Result<bool, String>> = OnceLock::new();
    let decision = DECISION.get_or_init(|| {
        let setting = std::env::var_os(GPU_TESTS_VAR);
        match decide(setting.as_deref(), probe_adapter)? {
            Decision::Run => Ok(true),
            Decision::Skip { notice } => {
                // Straight to the process's stderr: the test harness captures `eprintln!`
                // of passing tests, and this line must be seen.
                let _ = writeln!(std::io::stderr(), "{notice}");
                Ok(false)
            }
        }
    });
    match decision {
        Ok(run) => *run,
        Err(msg) => panic!("{msg}"),
    }
}

/// What the tests of this process do.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// Run the GPU tests.
    Run,
    /// Skip them; `notice` (one line) says why.
    Skip {
        /// Printed once on stderr.
        notice: String,
    },
}

/// The decision for the variable's value `setting` (`None`: unset). `probe` looks for an
/// adapter, returning why there is none; it is called only when the setting needs it.
/// `Err` is the message of a failing test.
fn decide(
    setting: Option<&OsStr>,
    probe: impl FnOnce() -> Result<(), String>,
) -> Result<Decision, String> {
    let Some(value) = setting else {
        return Ok(match probe() {
            Ok(()) => Decision::Run,
            Err(reason) => Decision::Skip {
                notice: format!(
                    "GPU tests skipped: no GPU adapter found; {INSTALL_ADVICE}; \
                     {GPU_TESTS_VAR}=require makes this a failure (wgpu: {reason})"
                ),
            },
        });
    };
    match value.to_str() {
        Some("require") => match probe() {
            Ok(()) => Ok(Decision::Run),
            Err(reason) => Err(format!(
                "{GPU_TESTS_VAR}=require, but no GPU adapter found; {INSTALL_ADVICE} \
                 (wgpu: {reason})"
            )),
        },
        Some("skip") => Ok(Decision::Skip {
            notice: format!("GPU tests skipped: {GPU_TESTS_VAR}=skip"),
        }),
        _ => Err(format!(
            "{GPU_TESTS_VAR}={:?} is not understood: leave it unset (GPU tests run where a GPU \
             adapter exists and are skipped elsewhere), or set it to `require` (no adapter fails \
             them) or `skip` (never run them)",
            value.to_string_lossy()
        )),
    }
}

/// `Ok` when [`Gpu::new`] finds an adapter, else wgpu's reason on one line. An adapter whose
/// device cannot be created counts as found: the tests then run and report that error.
fn probe_adapter() -> Result<(), String> {
    match Gpu::new() {
        Err(GpuError::NoAdapter(reason)) => {
            Err(reason.split_whitespace().collect::<Vec<_>>().join(" "))
        }
        Ok(_) | Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter() -> Result<(), String> {
        Ok(())
    }

    fn no_adapter() -> Result<(), String> {
        Err("no suitable adapter".into())
    }

    fn must_not_probe() -> Result<(), String> {
        panic!("this setting decides without probing")
    }

    fn with(value: &str, probe: fn() -> Result<(), String>) -> Result<Decision, String> {
        decide(Some(OsStr::new(value)), probe)
    }

    #[test]
    fn unset_runs_where_an_adapter_exists_and_skips_with_advice_elsewhere() {
        assert_eq!(decide(None, adapter), Ok(Decision::Run));
        let Ok(Decision::Skip { notice }) = decide(None, no_adapter) else {
            panic!("no adapter skips when the variable is unset")
        };
        assert!(!notice.contains('\n'), "one line: {notice}");
        for part in [
            "GPU tests skipped",
            "no suitable adapter",
            "apt-get install mesa-vulkan-drivers libvulkan1",
            "KILN_GPU_TESTS=require",
        ] {
            assert!(notice.contains(part), "{notice}");
        }
    }

    #[test]
    fn require_runs_where_an_adapter_exists_and_fails_elsewhere() {
        assert_eq!(with("require", adapter), Ok(Decision::Run));
        let msg = with("require", no_adapter).expect_err("no adapter is a failure");
        assert!(
            msg.contains("KILN_GPU_TESTS=require")
                && msg.contains("no suitable adapter")
                && msg.contains("mesa-vulkan-drivers"),
            "{msg}"
        );
    }

    #[test]
    fn skip_skips_without_probing() {
        let Ok(Decision::Skip { notice }) = with("skip", must_not_probe) else {
            panic!("skip skips")
        };
        assert!(notice.contains("KILN_GPU_TESTS=skip"), "{notice}");
    }

    #[test]
    fn other_values_fail_naming_the_accepted_ones() {
        for value in ["", "yes", "Require", "skip "] {
            let msg = with(value, must_not_probe).expect_err("not an accepted value");
            assert!(
                msg.contains(&format!("{value:?}"))
                    && msg.contains("unset")
                    && msg.contains("`require`")
                    && msg.contains("`skip`"),
                "{msg}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_value_that_is_not_unicode_fails_too() {
        use std::os::unix::ffi::OsStrExt;
        let msg = decide(Some(OsStr::from_bytes(b"sk\xffip")), must_not_probe)
            .expect_err("not an accepted value");
        assert!(msg.contains("`require`"), "{msg}");
    }
}

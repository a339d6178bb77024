//! Shared by the tests: the tolerance check, deterministic bindings, the GPU every test of
//! a binary shares and a runner for several steps on it; the catalogue of small graphs
//! covering every node kind the GPU backend lowers (`catalogue`, each checked against
//! `ir::interp`) and whole training steps written in IR (`training_step`).

#![allow(dead_code)]

mod catalogue;
pub mod training_step;

#[allow(
    unused_imports,
    reason = "each test binary uses its part of the shared code"
)]
pub use catalogue::{Case, catalogue, fused_kinds, optimized};

use ir::interp::Bindings;
use ir::{Graph, Op, Tensor};

/// Relative tolerance of elementwise results (transcendentals may differ by a few ulps).
pub const ELEMENTWISE_TOL: f32 = 1e-5;
/// Relative tolerance of contractions, reductions and windows (summation order differs).
pub const CONTRACTION_TOL: f32 = 1e-4;

/// `|a - b| <= tol * max(1, |a|, |b|)`, NaN matching only NaN.
pub fn close(a: f32, b: f32, tol: f32) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    a == b || (a - b).abs() <= tol * 1f32.max(a.abs()).max(b.abs())
}

/// Compare two value lists, naming the first mismatch.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} values, expected {}",
        got.len(),
        want.len()
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            close(*g, *w, tol),
            "{what}: element {i} is {g}, expected {w} (tolerance {tol})"
        );
    }
}

/// Deterministic bindings for every input and param of `g`, uniform in `[lo, hi)`.
pub fn bindings(g: &Graph, lo: f32, hi: f32) -> Bindings {
    g.node_ids()
        .filter_map(|id| match g.op(id) {
            Op::Input { name, shape } | Op::Param { name, shape } => {
                let data = (0..shape.numel())
                    .map(|i| {
                        lo + (hi - lo) * ir::random::uniform(1000 + id.index() as u32, i as u32)
                    })
                    .collect();
                Some((
                    name.clone(),
                    Tensor {
                        shape: shape.clone(),
                        data,
                    },
                ))
            }
            _ => None,
        })
        .collect()
}

/// The GPU every test of one binary shares, or `None` where GPU tests do not run (see
/// [`codegen_gpu::gpu_tests_enabled`]: no adapter, or `KILN_GPU_TESTS=skip`).
pub fn gpu() -> Option<&'static codegen_gpu::Gpu> {
    static GPU: std::sync::OnceLock<Option<codegen_gpu::Gpu>> = std::sync::OnceLock::new();
    GPU.get_or_init(|| {
        give_mesa_a_runtime_dir();
        codegen_gpu::gpu_tests_enabled()
            .then(|| codegen_gpu::Gpu::new().unwrap_or_else(|e| panic!("{e}")))
    })
    .as_ref()
}

/// Mesa warns without a runtime dir; give it a private one unless there is one.
fn give_mesa_a_runtime_dir() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("kiln-xdg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .expect("own temp dir");
    }
    // SAFETY: set once, inside the OnceLock initialiser of `gpu`, before any GPU code of this
    // process reads the environment.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
}

/// The outputs of every step, and the parameters after the last.
pub type GpuRun = (Vec<Vec<(String, Tensor)>>, Vec<(String, Vec<f32>)>);

/// Run `graph` under `plan` on the GPU for `steps` steps from `bindings` (params set
/// once, inputs every step); the outputs of each step and the final params.
pub fn run_gpu(
    gpu: &codegen_gpu::Gpu,
    graph: &Graph,
    plan: &ir::MemoryPlan,
    bindings: &Bindings,
    steps: usize,
) -> Result<GpuRun, codegen_gpu::GpuError> {
    let exe = gpu.compile(graph, plan)?;
    let mut state = exe.new_state()?;
    for p in exe.params() {
        state.set_param(&p.name, &bindings[&p.name].data)?;
    }
    let inputs: Vec<(&str, &[f32])> = exe
        .inputs()
        .iter()
        .map(|l| (l.name.as_str(), bindings[&l.name].data.as_slice()))
        .collect();
    let mut outputs = Vec::new();
    for _ in 0..steps {
        outputs.push(exe.run(&mut state, &inputs)?);
    }
    let params = exe
        .params()
        .iter()
        .map(|p| Ok((p.name.clone(), state.param(&p.name)?)))
        .collect::<Result<_, codegen_gpu::GpuError>>()?;
    Ok((outputs, params))
}

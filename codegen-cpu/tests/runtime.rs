//! The runtime contract: input checks before any code runs, parameter state and updates
//! (copied and in place), thread safety, and object emission.

mod common;

use codegen_cpu::{CodegenError, Executable, compile, emit_object};
use common::{assert_close, values};
use cranelift_object::object::{Object, ObjectSymbol};
use ir::{BinaryOp, Graph, MemoryPlan, Storage, UnaryOp};

/// `y = x * w + 1`; `w` is updated to `w - x` (a training-step-like graph).
fn scaled() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", [2, 3]);
    let w = g.param("w", [2, 3]);
    let one = g.scalar(1.0);
    let xw = g.binary(BinaryOp::Mul, x, w).unwrap();
    let y = g.binary(BinaryOp::Add, xw, one).unwrap();
    let w_new = g.binary(BinaryOp::Sub, w, x).unwrap();
    g.add_output("y", y).unwrap();
    g.add_update(w, w_new).unwrap();
    g
}

#[test]
fn inputs_are_checked_before_running() {
    let g = scaled();
    let exe = compile(&g, &MemoryPlan::naive(&g)).unwrap();
    let mut state = exe.new_state();
    let short = [1.0f32; 5];
    let err = exe.run(&mut state, &[("x", &short)]).unwrap_err();
    assert!(
        matches!(&err, CodegenError::Input { name, msg } if name == "x" && msg.contains("[2, 3]") && msg.contains("5 values")),
        "{err}"
    );
    let err = exe.run(&mut state, &[]).unwrap_err();
    assert!(
        matches!(&err, CodegenError::Input { name, msg } if name == "x" && msg.contains("missing")),
        "{err}"
    );
    let ok = [1.0f32; 6];
    let err = exe.run(&mut state, &[("x", &ok), ("z", &ok)]).unwrap_err();
    assert!(
        matches!(&err, CodegenError::Input { name, .. } if name == "z"),
        "{err}"
    );
    assert_eq!(
        state.param("w").unwrap(),
        &[0.0; 6],
        "a failed run leaves the state alone"
    );
    let err = state.set_param("w", &[1.0; 2]).unwrap_err();
    assert!(err.to_string().contains("holds 6 values, got 2"), "{err}");
}

#[test]
fn updates_are_copied_back_or_computed_in_place() {
    let g = scaled();
    let naive = MemoryPlan::naive(&g);
    let mut in_place = naive.clone();
    let w_new = g.updates[0].1;
    in_place.storage[w_new.index()] = Storage::InPlace(0);
    for plan in [naive, in_place] {
        let exe = compile(&g, &plan).unwrap();
        let mut state = exe.new_state();
        state
            .set_param("w", &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
            .unwrap();
        let x = [0.5f32; 6];
        for step in 0..2 {
            let out = exe.run(&mut state, &[("x", &x)]).unwrap();
            let w_before: Vec<f32> = (1..=6).map(|v| v as f32 - 0.5 * step as f32).collect();
            let want: Vec<f32> = w_before.iter().map(|w| 0.5 * w + 1.0).collect();
            assert_eq!(out[0].1.data, want, "{:?}", plan.storage);
        }
        let w: Vec<f32> = (1..=6).map(|v| v as f32 - 1.0).collect();
        assert_eq!(state.param("w").unwrap(), &w[..]);
    }
}

#[test]
fn a_bad_plan_is_an_error_not_a_crash() {
    let g = scaled();
    let mut plan = MemoryPlan::naive(&g);
    plan.arena_len = 3;
    let err = compile(&g, &plan).err().expect("rejected");
    assert!(matches!(err, CodegenError::Plan { .. }), "{err}");
}

#[test]
fn executables_are_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Executable>();
    let g = scaled();
    let exe = compile(&g, &MemoryPlan::naive(&g)).unwrap();
    std::thread::scope(|s| {
        for t in 0..2 {
            let exe = &exe;
            s.spawn(move || {
                let mut state = exe.new_state();
                let x = [t as f32; 6];
                let out = exe.run(&mut state, &[("x", &x)]).unwrap();
                assert_eq!(out[0].1.data, vec![1.0; 6]);
            });
        }
    });
}

#[test]
fn parallel_kernels_from_many_threads_at_once_stay_correct() {
    // A product large enough to be split across threads and an elementwise kernel large
    // enough to be chunked, run concurrently: one caller owns the worker pool at a time, the
    // others run their chunks themselves; every result must match the reference.
    let (m, k, n) = (64, 128, 160);
    let mut g = Graph::new();
    let a = g.input("a", [m, k]);
    let b = g.input("b", [k, n]);
    let u = g.input("u", [200, 100]);
    let c = g.matmul(a, b, false, false).unwrap();
    let e = g.unary(UnaryOp::Square, u).unwrap();
    g.add_output("c", c).unwrap();
    g.add_output("e", e).unwrap();
    let exe = compile(&g, &MemoryPlan::naive(&g)).unwrap();
    let (av, bv, uv) = (
        values(m * k, 50, -1.0, 1.0),
        values(k * n, 51, -1.0, 1.0),
        values(20_000, 52, -2.0, 2.0),
    );
    let c_want: Vec<f32> = (0..m * n)
        .map(|ij| {
            (0..k)
                .map(|l| av[ij / n * k + l] * bv[l * n + ij % n])
                .sum()
        })
        .collect();
    let e_want: Vec<f32> = uv.iter().map(|v| v * v).collect();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let mut state = exe.new_state();
                for _ in 0..20 {
                    let out = exe
                        .run(&mut state, &[("a", &av), ("b", &bv), ("u", &uv)])
                        .unwrap();
                    assert_close("c", &out[0].1.data, &c_want, 1e-5, 1e-5);
                    assert_close("e", &out[1].1.data, &e_want, 0.0, 0.0);
                }
            });
        }
    });
}

#[test]
fn object_emission_exports_the_step_symbol() {
    let g = scaled();
    let bytes = emit_object(&g, &MemoryPlan::naive(&g), "mlp_step").unwrap();
    let file = cranelift_object::object::File::parse(&*bytes).unwrap();
    let step = file
        .symbols()
        .find(|s| s.name() == Ok("mlp_step"))
        .expect("step symbol present");
    assert!(step.is_definition() && step.is_global());
    let imports: Vec<&str> = file
        .symbols()
        .filter(|s| s.is_undefined())
        .filter_map(|s| s.name().ok())
        .collect();
    assert!(imports.contains(&"kiln_parallel_for"), "{imports:?}");
}

#[test]
fn leaves_and_aliases_can_be_outputs() {
    let mut g = Graph::new();
    let x = g.input("x", [2, 2]);
    let c = g.constant(ir::Tensor::new([3], vec![1.0, 2.0, 3.0]).unwrap());
    let flat = g.reshape(x, [4]).unwrap();
    g.add_output("x", x).unwrap();
    g.add_output("c", c).unwrap();
    g.add_output("flat", flat).unwrap();
    let mut plan = MemoryPlan::naive(&g);
    plan.storage[flat.index()] = Storage::Alias(x);
    let exe = compile(&g, &plan).unwrap();
    let out = exe
        .run(&mut exe.new_state(), &[("x", &[1.0, 2.0, 3.0, 4.0])])
        .unwrap();
    assert_eq!(out[0].1.data, [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(out[1].1.data, [1.0, 2.0, 3.0]);
    assert_eq!(out[2].1.data, [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(out[2].1.shape, ir::Shape::from([4]));
    // Only a reshape may alias: an aliased add would be written through.
    let y = g.binary(BinaryOp::Add, x, x).unwrap();
    let mut plan = MemoryPlan::naive(&g);
    plan.storage[y.index()] = Storage::Alias(x);
    let err = compile(&g, &plan).err().expect("rejected");
    assert!(
        err.to_string().contains("only a reshape may alias"),
        "{err}"
    );
}

#[test]
fn read_only_runs_share_borrowed_params_across_threads() {
    // The inference half of `scaled`: `y = x * w + 1`, no update.
    let mut g = Graph::new();
    let x = g.input("x", [2, 3]);
    let w = g.param("w", [2, 3]);
    let one = g.scalar(1.0);
    let xw = g.binary(BinaryOp::Mul, x, w).unwrap();
    let y = g.binary(BinaryOp::Add, xw, one).unwrap();
    g.add_output("y", y).unwrap();
    let exe = compile(&g, &MemoryPlan::naive(&g)).unwrap();
    assert!(!exe.updates_params());
    let weights = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let err = exe
        .run_read_only(&mut exe.new_workspace(), &[], &[("x", &[0.0; 6])])
        .unwrap_err();
    assert!(
        matches!(&err, CodegenError::Param { name, msg } if name == "w" && msg.contains("missing")),
        "{err}"
    );
    let err = exe
        .run_read_only(
            &mut exe.new_workspace(),
            &[("w", &weights[..2])],
            &[("x", &[0.0; 6])],
        )
        .unwrap_err();
    assert!(err.to_string().contains("2 values"), "{err}");
    std::thread::scope(|s| {
        for t in 0..4 {
            let (exe, weights) = (&exe, &weights);
            s.spawn(move || {
                let mut workspace = exe.new_workspace();
                for step in 0..50 {
                    let x = [(t * 100 + step) as f32; 6];
                    let out = exe
                        .run_read_only(&mut workspace, &[("w", weights)], &[("x", &x)])
                        .unwrap();
                    let want: Vec<f32> = weights.iter().map(|w| x[0] * w + 1.0).collect();
                    assert_eq!(out[0].1.data, want);
                }
            });
        }
    });
    // A training step writes its parameters, so it needs a State.
    let train = scaled();
    let exe = compile(&train, &MemoryPlan::naive(&train)).unwrap();
    assert!(exe.updates_params());
    let err = exe
        .run_read_only(
            &mut exe.new_workspace(),
            &[("w", &weights)],
            &[("x", &[0.0; 6])],
        )
        .unwrap_err();
    assert!(err.to_string().contains("updates parameters"), "{err}");
}

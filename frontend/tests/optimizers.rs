//! Optimizer updates checked on the reference interpreter: each optimizer's first two steps
//! against a plain-f32 transcription of the tf.keras 2.x formula, gradient clipping, the
//! learning-rate and iteration params, and configuration errors.

use std::collections::HashMap;

use ir::interp::{Bindings, run};
use ir::{Graph, Tensor};
use kiln::Error;
use kiln::optimizers::{
    AdaDelta, AdaGrad, Adam, Adamax, GradientClipping, Nadam, Optimizer, RMSProp, SGD,
};

/// Absolute plus relative tolerance of every comparison.
const TOL: f32 = 1e-6;

const W0: [f32; 3] = [0.5, -1.0, 2.0];
/// The second step's zero gradient makes `v` shrink, which AMSGrad and Adamax treat specially.
const GRADS: [[f32; 3]; 2] = [[0.1, -0.2, 0.3], [0.4, 0.0, -0.6]];

fn close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= TOL + TOL * 10.0 * b.abs(),
            "{what}[{i}]: got {a}, want {b} (all: {got:?} vs {want:?})"
        );
    }
}

/// A training graph over named params (shapes from `values`) whose gradients are inputs
/// `<name>/grad`; the optimizer's update is built in. Returns the graph and the bindings
/// holding params and initial optimizer state.
fn training_graph(
    opt: &dyn Optimizer,
    values: &[(&str, Vec<f32>)],
) -> Result<(Graph, Bindings), Error> {
    let mut g = Graph::new();
    let params: Vec<_> = values
        .iter()
        .map(|(name, v)| g.param(*name, [v.len()]))
        .collect();
    let grads: Vec<_> = values
        .iter()
        .map(|(name, v)| g.input(format!("{name}/grad"), [v.len()]))
        .collect();
    let state = opt.build_update(&mut g, &params, &grads)?;
    let mut bindings: Bindings = HashMap::new();
    for (name, v) in values {
        bindings.insert(name.to_string(), Tensor::new([v.len()], v.clone()).unwrap());
    }
    bindings.extend(state);
    Ok((g, bindings))
}

/// One step: bind the gradients, run, and write every update back into `bindings`.
fn step(g: &Graph, bindings: &mut Bindings, grads: &[(&str, &[f32])]) {
    for (name, grad) in grads {
        bindings.insert(
            format!("{name}/grad"),
            Tensor::new([grad.len()], grad.to_vec()).unwrap(),
        );
    }
    let eval = run(g, bindings).expect("the training graph runs");
    for (name, value) in eval.updates {
        bindings.insert(name, value);
    }
}

/// The values of `w` after each of two steps with `GRADS`, run through the graph.
fn two_steps(opt: &dyn Optimizer) -> [Vec<f32>; 2] {
    let (g, mut bindings) = training_graph(opt, &[("w", W0.to_vec())]).expect("the update builds");
    let mut after = [Vec::new(), Vec::new()];
    for (k, grad) in GRADS.iter().enumerate() {
        step(&g, &mut bindings, &[("w", grad)]);
        after[k] = bindings["w"].data.clone();
    }
    assert_eq!(bindings["optimizer/iterations"].data, vec![2.0]);
    after
}

/// Runs a per-element reference rule `update(w, g, t, state) -> w` over two steps.
fn reference<const S: usize>(
    init: [f32; S],
    mut update: impl FnMut(f32, f32, f32, &mut [f32; S]) -> f32,
) -> [Vec<f32>; 2] {
    let mut w = W0.to_vec();
    let mut state = vec![init; w.len()];
    let mut after = [Vec::new(), Vec::new()];
    for (k, grad) in GRADS.iter().enumerate() {
        let t = (k + 1) as f32;
        for i in 0..w.len() {
            w[i] = update(w[i], grad[i], t, &mut state[i]);
        }
        after[k] = w.clone();
    }
    after
}

fn check(opt: &dyn Optimizer, want: [Vec<f32>; 2]) {
    let got = two_steps(opt);
    close(&got[0], &want[0], &format!("{} step 1", opt.name()));
    close(&got[1], &want[1], &format!("{} step 2", opt.name()));
    assert_ne!(got[0], W0.to_vec(), "{} moved the weights", opt.name());
}

#[test]
fn sgd_plain_momentum_and_nesterov() {
    let lr = 0.1;
    check(
        &SGD::new().learning_rate(lr),
        reference([], |w, g, _, _: &mut [f32; 0]| w - lr * g),
    );
    check(
        &SGD::new().learning_rate(lr).momentum(0.9),
        reference([0.0], |w, g, _, [v]| {
            *v = 0.9 * *v - lr * g;
            w + *v
        }),
    );
    check(
        &SGD::new().learning_rate(lr).momentum(0.9).nesterov(true),
        reference([0.0], |w, g, _, [v]| {
            *v = 0.9 * *v - lr * g;
            w + 0.9 * *v - lr * g
        }),
    );
}

fn adam_reference(lr: f32, amsgrad: bool) -> [Vec<f32>; 2] {
    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-7f32);
    reference([0.0, 0.0, 0.0], move |w, g, t, [m, v, vhat]| {
        *m = b1 * *m + (1.0 - b1) * g;
        *v = b2 * *v + (1.0 - b2) * g * g;
        *vhat = vhat.max(*v);
        let lr_t = lr * (1.0 - b2.powf(t)).sqrt() / (1.0 - b1.powf(t));
        w - lr_t * *m / ((if amsgrad { *vhat } else { *v }).sqrt() + eps)
    })
}

#[test]
fn adam_and_amsgrad() {
    check(&Adam::new().learning_rate(0.1), adam_reference(0.1, false));
    check(
        &Adam::new().learning_rate(0.1).amsgrad(true),
        adam_reference(0.1, true),
    );
    assert_ne!(
        adam_reference(0.1, true)[1],
        adam_reference(0.1, false)[1],
        "the data tells AMSGrad apart"
    );
    check(&Adam::default(), adam_reference(0.001, false));
}

#[test]
fn rmsprop_plain_momentum_and_centered() {
    let (lr, rho, eps) = (0.1f32, 0.9f32, 1e-7f32);
    // Without momentum epsilon is added after the square root ...
    check(
        &RMSProp::new().learning_rate(lr),
        reference([0.0], |w, g, _, [s]| {
            *s = rho * *s + (1.0 - rho) * g * g;
            w - lr * g / (s.sqrt() + eps)
        }),
    );
    // ... with momentum (TF's fused kernel) inside it.
    check(
        &RMSProp::new().learning_rate(lr).momentum(0.5),
        reference([0.0, 0.0], |w, g, _, [s, mom]| {
            *s = rho * *s + (1.0 - rho) * g * g;
            *mom = 0.5 * *mom + lr * g / (*s + eps).sqrt();
            w - *mom
        }),
    );
    check(
        &RMSProp::new().learning_rate(lr).centered(true),
        reference([0.0, 0.0], |w, g, _, [s, a]| {
            *s = rho * *s + (1.0 - rho) * g * g;
            *a = rho * *a + (1.0 - rho) * g;
            w - lr * g / ((*s - *a * *a).sqrt() + eps)
        }),
    );
    check(
        &RMSProp::new()
            .learning_rate(lr)
            .centered(true)
            .momentum(0.5),
        reference([0.0, 0.0, 0.0], |w, g, _, [s, a, mom]| {
            *s = rho * *s + (1.0 - rho) * g * g;
            *a = rho * *a + (1.0 - rho) * g;
            *mom = 0.5 * *mom + lr * g / (*s - *a * *a + eps).sqrt();
            w - *mom
        }),
    );
}

#[test]
fn adagrad() {
    let (lr, eps) = (0.1f32, 1e-7f32);
    check(
        &AdaGrad::new().learning_rate(lr),
        reference([0.1], |w, g, _, [acc]| {
            *acc += g * g;
            w - lr * g / (acc.sqrt() + eps)
        }),
    );
}

#[test]
fn adadelta() {
    let (lr, rho, eps) = (1.0f32, 0.95f32, 1e-7f32);
    check(
        &AdaDelta::new().learning_rate(lr),
        reference([0.0, 0.0], |w, g, _, [acc_g, acc_u]| {
            *acc_g = rho * *acc_g + (1.0 - rho) * g * g;
            let update = (*acc_u + eps).sqrt() / (*acc_g + eps).sqrt() * g;
            *acc_u = rho * *acc_u + (1.0 - rho) * update * update;
            w - lr * update
        }),
    );
}

#[test]
fn adamax() {
    let (lr, b1, b2, eps) = (0.1f32, 0.9f32, 0.999f32, 1e-7f32);
    check(
        &Adamax::new().learning_rate(lr),
        reference([0.0, 0.0], |w, g, t, [m, u]| {
            *m = b1 * *m + (1.0 - b1) * g;
            *u = (b2 * *u).max(g.abs());
            w - lr / (1.0 - b1.powf(t)) * *m / (*u + eps)
        }),
    );
}

#[test]
fn nadam_with_momentum_cache() {
    let (lr, b1, b2, eps) = (0.1f32, 0.9f32, 0.999f32, 1e-7f32);
    let mu = |t: f32| b1 * (1.0 - 0.5 * 0.96f32.powf(0.004 * t));
    // The cache is global; in this single-param reference each element recomputes it, so
    // keep it per element with the same value.
    check(
        &Nadam::new().learning_rate(lr),
        reference([0.0, 0.0, 1.0], |w, g, t, [m, v, cache]| {
            let (mu_t, mu_next) = (mu(t), mu(t + 1.0));
            *cache *= mu_t;
            let schedule_next = *cache * mu_next;
            let g_prime = g / (1.0 - *cache);
            *m = b1 * *m + (1.0 - b1) * g;
            let m_prime = *m / (1.0 - schedule_next);
            *v = b2 * *v + (1.0 - b2) * g * g;
            let v_prime = *v / (1.0 - b2.powf(t));
            let m_bar = (1.0 - mu_t) * g_prime + mu_next * m_prime;
            w - lr * m_bar / (v_prime.sqrt() + eps)
        }),
    );
}

#[test]
fn keras_defaults_and_names() {
    assert_eq!(
        (
            SGD::new().learning_rate,
            SGD::new().momentum,
            SGD::new().nesterov
        ),
        (0.01.into(), 0.0, false)
    );
    let adam = Adam::new();
    assert_eq!(
        (
            adam.learning_rate,
            adam.beta_1,
            adam.beta_2,
            adam.epsilon,
            adam.amsgrad
        ),
        (0.001.into(), 0.9, 0.999, 1e-7, false)
    );
    let rms = RMSProp::new();
    assert_eq!(
        (
            rms.learning_rate,
            rms.rho,
            rms.momentum,
            rms.epsilon,
            rms.centered
        ),
        (0.001.into(), 0.9, 0.0, 1e-7, false)
    );
    let ada = AdaGrad::new();
    assert_eq!(
        (
            ada.learning_rate,
            ada.initial_accumulator_value,
            ada.epsilon
        ),
        (0.001.into(), 0.1, 1e-7)
    );
    let delta = AdaDelta::new();
    assert_eq!(
        (delta.learning_rate, delta.rho, delta.epsilon),
        (0.001.into(), 0.95, 1e-7)
    );
    let max = Adamax::new();
    assert_eq!(
        (max.learning_rate, max.beta_1, max.beta_2, max.epsilon),
        (0.001.into(), 0.9, 0.999, 1e-7)
    );
    let nadam = Nadam::new();
    assert_eq!(
        (
            nadam.learning_rate,
            nadam.beta_1,
            nadam.beta_2,
            nadam.epsilon
        ),
        (0.001.into(), 0.9, 0.999, 1e-7)
    );
    let all: [Box<dyn Optimizer>; 7] = [
        Box::new(SGD::new()),
        Box::new(Adam::new()),
        Box::new(RMSProp::new()),
        Box::new(AdaGrad::new()),
        Box::new(AdaDelta::new()),
        Box::new(Adamax::new()),
        Box::new(Nadam::new()),
    ];
    let names: Vec<&str> = all.iter().map(|o| o.name()).collect();
    assert_eq!(
        names,
        [
            "SGD", "Adam", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam"
        ]
    );
}

#[test]
fn state_params_are_named_and_initialised() {
    let mut g = Graph::new();
    let w = g.param("w0", [2, 3]);
    let grad = g.input("dw0", [2, 3]);
    let state = Adam::new()
        .amsgrad(true)
        .build_update(&mut g, &[w], &[grad])
        .unwrap();
    let names: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "optimizer/learning_rate",
            "optimizer/iterations",
            "w0/m",
            "w0/v",
            "w0/vhat"
        ]
    );
    assert_eq!(state[0].1, Tensor::scalar(0.001));
    assert_eq!(state[1].1, Tensor::scalar(0.0));
    assert_eq!(state[2].1, Tensor::zeros([2, 3]));
    // One update per param and state param.
    assert_eq!(g.updates.len(), 5);
    let accumulator = AdaGrad::new()
        .build_update(&mut Graph::new(), &[], &[])
        .unwrap();
    assert_eq!(accumulator.len(), 2, "no params: only the globals");
    let mut g = Graph::new();
    let w = g.param("w", [2]);
    let grad = g.input("dw", [2]);
    let state = AdaGrad::new()
        .initial_accumulator_value(0.25)
        .build_update(&mut g, &[w], &[grad])
        .unwrap();
    assert_eq!(
        state[2],
        ("w/accumulator".to_string(), Tensor::full([2], 0.25))
    );
}

#[test]
fn learning_rate_param_changes_take_effect_without_rebuilding() {
    let (g, mut bindings) = training_graph(&SGD::new(), &[("w", W0.to_vec())]).unwrap();
    step(&g, &mut bindings, &[("w", &GRADS[0])]);
    let after_first = bindings["w"].data.clone();
    close(
        &after_first,
        &[0.5 - 0.01 * 0.1, -1.0 + 0.01 * 0.2, 2.0 - 0.01 * 0.3],
        "lr 0.01",
    );
    bindings.insert("optimizer/learning_rate".into(), Tensor::scalar(0.5));
    step(&g, &mut bindings, &[("w", &GRADS[1])]);
    let want: Vec<f32> = after_first
        .iter()
        .zip(GRADS[1])
        .map(|(w, g)| w - 0.5 * g)
        .collect();
    close(&bindings["w"].data, &want, "lr 0.5");
    assert_eq!(
        bindings["optimizer/learning_rate"].data,
        vec![0.5],
        "the optimizer never updates the learning rate itself"
    );
}

/// `g · c / max(‖g‖, c)`.
fn clip_by_norm(g: &[f32], c: f32, norm: f32) -> Vec<f32> {
    g.iter().map(|x| x * c / norm.max(c)).collect()
}

fn norm(tensors: &[&[f32]]) -> f32 {
    tensors
        .iter()
        .flat_map(|t| t.iter())
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
}

#[test]
fn clipping_by_value_norm_and_global_norm() {
    let lr = 1.0;
    let (a, b): (&[f32], &[f32]) = (&[3.0, -4.0], &[0.5, 0.2]);
    let sgd = || SGD::new().learning_rate(lr);
    let run_once = |opt: SGD| {
        let (g, mut bindings) =
            training_graph(&opt, &[("a", vec![0.0; 2]), ("b", vec![0.0; 2])]).unwrap();
        step(&g, &mut bindings, &[("a", a), ("b", b)]);
        // With lr 1 from zero weights, each weight is minus its clipped gradient.
        let neg = |v: &Tensor| v.data.iter().map(|x| -x).collect::<Vec<f32>>();
        (neg(&bindings["a"]), neg(&bindings["b"]))
    };
    let (ca, cb) = run_once(sgd().clipvalue(1.0));
    close(&ca, &[1.0, -1.0], "clipvalue a");
    close(&cb, b, "clipvalue b (inside the range)");
    let (ca, cb) = run_once(sgd().clipnorm(1.0));
    close(
        &ca,
        &clip_by_norm(a, 1.0, norm(&[a])),
        "clipnorm a (norm 5)",
    );
    close(&cb, b, "clipnorm b (norm below 1: unchanged)");
    let (ca, cb) = run_once(sgd().global_clipnorm(2.0));
    let global = norm(&[a, b]);
    close(&ca, &clip_by_norm(a, 2.0, global), "global_clipnorm a");
    close(&cb, &clip_by_norm(b, 2.0, global), "global_clipnorm b");
    // Value first, then norm: [1, -1] has norm √2 > 1.
    let (ca, _) = run_once(sgd().clipvalue(1.0).clipnorm(1.0));
    close(
        &ca,
        &clip_by_norm(&[1.0, -1.0], 1.0, 2f32.sqrt()),
        "clipvalue then clipnorm",
    );
    // A zero gradient stays zero (no division by its zero norm).
    let (g, mut bindings) = training_graph(&sgd().clipnorm(1.0), &[("z", vec![1.0, 2.0])]).unwrap();
    step(&g, &mut bindings, &[("z", &[0.0, 0.0])]);
    close(&bindings["z"].data, &[1.0, 2.0], "zero gradient");
}

#[test]
fn clipping_applies_to_stateful_optimizers() {
    let clipped: Vec<f32> = GRADS[0].iter().map(|g| g.clamp(-0.15, 0.15)).collect();
    let (g, mut bindings) = training_graph(
        &Adam::new().learning_rate(0.1).clipvalue(0.15),
        &[("w", W0.to_vec())],
    )
    .unwrap();
    step(&g, &mut bindings, &[("w", &GRADS[0])]);
    let want: Vec<f32> = clipped.iter().map(|g| 0.1 * g).collect();
    close(
        &bindings["w/m"].data,
        &want,
        "Adam's first moment sees the clipped gradient",
    );
}

#[test]
fn bad_configurations_are_errors() {
    let mut g = Graph::new();
    let w = g.param("w", [2]);
    let dw = g.input("dw", [2]);
    let wrong = g.input("wrong", [3]);
    let expect_err = |result: Result<Vec<(String, Tensor)>, Error>, needle: &str| {
        let err = result.expect_err("must fail").to_string();
        assert!(
            err.contains(needle),
            "error `{err}` should mention `{needle}`"
        );
    };
    expect_err(
        Adam::new().build_update(&mut g.clone(), &[w], &[]),
        "1 params but 0 gradients",
    );
    expect_err(
        Adam::new().build_update(&mut g.clone(), &[w], &[wrong]),
        "shape [3]",
    );
    expect_err(
        Adam::new().build_update(&mut g.clone(), &[dw], &[dw]),
        "not a param",
    );
    expect_err(
        Adam::new()
            .beta_1(1.5)
            .build_update(&mut g.clone(), &[w], &[dw]),
        "beta_1",
    );
    expect_err(
        RMSProp::new()
            .epsilon(-1.0)
            .build_update(&mut g.clone(), &[w], &[dw]),
        "epsilon",
    );
    expect_err(
        SGD::new()
            .learning_rate(f32::NAN)
            .build_update(&mut g.clone(), &[w], &[dw]),
        "learning_rate",
    );
    expect_err(
        SGD::new()
            .clipnorm(1.0)
            .global_clipnorm(1.0)
            .build_update(&mut g.clone(), &[w], &[dw]),
        "at most one",
    );
    expect_err(
        SGD::new()
            .clipvalue(0.0)
            .build_update(&mut g.clone(), &[w], &[dw]),
        "clipvalue",
    );
    expect_err(
        AdaGrad::new()
            .initial_accumulator_value(-0.1)
            .build_update(&mut g.clone(), &[w], &[dw]),
        "initial_accumulator_value",
    );
    // Building twice into one graph would create a second `optimizer/iterations`.
    let mut twice = g.clone();
    Adam::new().build_update(&mut twice, &[], &[]).unwrap();
    expect_err(
        Adam::new().build_update(&mut twice, &[], &[]),
        "optimizer/learning_rate",
    );
    let checks = GradientClipping {
        clipnorm: Some(1.0),
        global_clipnorm: Some(2.0),
        ..Default::default()
    };
    assert!(checks.validate("test").is_err());
    // A failed validation leaves the graph untouched.
    let mut untouched = g.clone();
    let _ = Adam::new()
        .beta_2(-1.0)
        .build_update(&mut untouched, &[w], &[dw]);
    assert_eq!(untouched.len(), g.len());
}

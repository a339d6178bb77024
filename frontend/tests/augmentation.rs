//! The image augmentation layers (`RandomFlip`, `RandomCrop`, `RandomTranslation`,
//! `RandomRotation`, `RandomZoom`, `RandomContrast`) and `Normalization::adapt`: fixed
//! transforms against tf-keras' own outputs (fixtures made by
//! `fixtures/augment/make_fixtures.py`), whole-pixel moves against hand-computed values,
//! training statistics, seeds, the identity at inference, gradients, config round trips
//! through `.h5` and `.keras` files, and CPU≡GPU training with augmentation in the model.

mod devices;
mod gradcheck;

use std::collections::HashMap;

use gradcheck::{Init, case, check_all};
use ir::{Graph, Shape, Tensor};
use kiln::datasets::Dataset;
use kiln::layers::{
    FillMode, FlipMode, Interpolation, Layer, LayerContext, Normalization, RandomContrast,
    RandomCrop, RandomFlip, RandomRotation, RandomTranslation, RandomZoom, layer_from_config,
    layer_from_json, layer_to_json,
};
use kiln::losses::MeanSquaredError;
use kiln::metrics::Accuracy;
use kiln::optimizers::{ITERATIONS, SGD};
use kiln::prelude::*;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/augment");

/// Deterministic values in `[0, 10)`.
fn image(dims: &[usize], seed: u32) -> Tensor {
    let n: usize = dims.iter().product();
    Tensor::new(
        dims,
        (0..n as u32)
            .map(|i| 10.0 * ir::random::uniform(seed, i))
            .collect(),
    )
    .unwrap()
}

/// `layer` lowered alone (training or inference) and run by the interpreter at step
/// `iterations` with the model seed `seed`.
fn run(layer: &dyn Layer, x: &Tensor, training: bool, iterations: f32, seed: u64) -> Tensor {
    let mut g = Graph::new();
    let input = g.input("x", x.shape.clone());
    let ctx = LayerContext {
        params: &[],
        training,
        seed,
    };
    let y = layer.build(&mut g, input, ctx).unwrap();
    g.add_output("y", y).unwrap();
    let mut bindings = HashMap::from([("x".to_string(), x.clone())]);
    bindings.insert(ITERATIONS.to_string(), Tensor::scalar(iterations));
    ir::interp::run(&g, &bindings).unwrap().outputs[0].1.clone()
}

/// `run` in training mode at step `iterations`, model seed 7.
fn train(layer: &dyn Layer, x: &Tensor, iterations: f32) -> Tensor {
    run(layer, x, true, iterations, 7)
}

/// Image `b` of a batch `[n, h, w, c]` as a vector.
fn example(t: &Tensor, b: usize) -> Vec<f32> {
    let size = t.data.len() / t.shape.dims()[0];
    t.data[b * size..(b + 1) * size].to_vec()
}

/// Image `[h, w, c]` mirrored left-right (`horizontal`) and/or up-down (`vertical`).
fn mirrored(img: &[f32], [h, w, c]: [usize; 3], horizontal: bool, vertical: bool) -> Vec<f32> {
    let mut out = Vec::with_capacity(img.len());
    for y in 0..h {
        for x in 0..w {
            let sy = if vertical { h - 1 - y } else { y };
            let sx = if horizontal { w - 1 - x } else { x };
            out.extend_from_slice(&img[(sy * w + sx) * c..(sy * w + sx + 1) * c]);
        }
    }
    out
}

#[test]
fn fixed_transforms_match_tf_keras() {
    let text = std::fs::read_to_string(format!("{FIXTURES}/keras_transforms.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 15);
    let dims = |v: &Value| -> Vec<usize> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect()
    };
    let floats = |v: &Value| -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_f64().unwrap() as f32)
            .collect()
    };
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let layer = layer_from_config(c["class_name"].as_str().unwrap(), &c["config"]).unwrap();
        let x = Tensor::new(dims(&c["input_shape"]).as_slice(), floats(&c["input"])).unwrap();
        let training = c["training"].as_bool().unwrap();
        let got = run(layer.as_ref(), &x, training, 0.0, 1);
        assert_eq!(got.shape.dims(), dims(&c["output_shape"]), "{name}: shape");
        let want = floats(&c["output"]);
        for (i, (g, w)) in got.data.iter().zip(&want).enumerate() {
            // Values in [0, 10); the sine and cosine are polynomials here, TF's own there.
            assert!(
                (g - w).abs() <= 2e-4,
                "{name}: element {i} is {g}, tf-keras {w}"
            );
        }
    }
}

#[test]
fn flips_mirror_whole_images_about_half_the_time() {
    let dims = [64, 2, 3, 2];
    let x = image(&dims, 1);
    let horizontal = train(&RandomFlip::new(FlipMode::Horizontal), &x, 0.0);
    let mut flipped = 0;
    for b in 0..64 {
        let (got, img) = (example(&horizontal, b), example(&x, b));
        if got == mirrored(&img, [2, 3, 2], true, false) {
            flipped += 1;
        } else {
            assert_eq!(got, img, "image {b} neither kept nor mirrored");
        }
    }
    // Binomial(64, ½): standard deviation 4; 12 is three of them.
    assert!((flipped - 32i32).abs() <= 12, "{flipped} of 64 flipped");

    let both = train(&RandomFlip::default(), &x, 3.0);
    let mut seen = [0; 4];
    for b in 0..64 {
        let (got, img) = (example(&both, b), example(&x, b));
        let k = (0..4)
            .find(|&k| got == mirrored(&img, [2, 3, 2], k & 1 == 1, k & 2 == 2))
            .unwrap_or_else(|| panic!("image {b} is no flip of its input"));
        seen[k] += 1;
    }
    assert!(seen.iter().all(|&n| n >= 4), "flip kinds drawn {seen:?}");
}

#[test]
fn random_crops_are_windows_at_one_offset_per_batch() {
    let x = image(&[3, 5, 6, 1], 2);
    let crop = RandomCrop::new(3, 4);
    let mut offsets = std::collections::HashSet::new();
    for step in 0..30 {
        let got = train(&crop, &x, step as f32);
        assert_eq!(got.shape.dims(), [3, 3, 4, 1]);
        let window = |top: usize, left: usize, b: usize| -> Vec<f32> {
            let img = example(&x, b);
            (0..3)
                .flat_map(|y| (0..4).map(move |c| (y, c)))
                .map(|(y, c)| img[(top + y) * 6 + left + c])
                .collect()
        };
        let offset = (0..3)
            .flat_map(|t| (0..3).map(move |l| (t, l)))
            .find(|&(t, l)| (0..3).all(|b| example(&got, b) == window(t, l, b)))
            .unwrap_or_else(|| panic!("step {step}: not one window of every image"));
        offsets.insert(offset);
    }
    // 9 possible offsets, 30 draws.
    assert!(offsets.len() >= 6, "offsets drawn {offsets:?}");
    // At inference, a window of the input's own size is the identity.
    let same = run(&RandomCrop::new(5, 6), &x, false, 0.0, 7);
    assert_eq!(same.data, x.data);
}

/// `img` `[h, w, 1]` moved down by `dy` and right by `dx` whole pixels, outside read by `at`.
fn shifted(
    img: &[f32],
    h: usize,
    w: usize,
    (dy, dx): (i64, i64),
    at: impl Fn(i64, i64) -> Option<(usize, usize)>,
) -> Vec<f32> {
    let mut out = Vec::new();
    for y in 0..h as i64 {
        for x in 0..w as i64 {
            out.push(at(y - dy, x - dx).map_or(0.0, |(sy, sx)| img[sy * w + sx]));
        }
    }
    out
}

#[test]
fn whole_pixel_translations_match_hand_computed_moves() {
    let x = image(&[2, 5, 5, 1], 3);
    // 0.2 · 5 = 1 pixel down, -0.4 · 5 = 2 pixels left.
    let constant = RandomTranslation::new((0.2, 0.2), (-0.4, -0.4))
        .fill_mode(FillMode::Constant)
        .interpolation(Interpolation::Nearest);
    let inside = |y: i64, x: i64| {
        ((0..5).contains(&y) && (0..5).contains(&x)).then_some((y as usize, x as usize))
    };
    // Reflect about the edge: -1 → 0, -2 → 1, 5 → 4, 6 → 3.
    let reflect = |c: i64| {
        if c < 0 {
            (-c - 1) as usize
        } else if c > 4 {
            (9 - c) as usize
        } else {
            c as usize
        }
    };
    let reflected = RandomTranslation::new((0.2, 0.2), (-0.4, -0.4));
    for step in [0.0, 5.0] {
        let got = train(&constant, &x, step);
        let got_reflected = train(&reflected, &x, step);
        for b in 0..2 {
            let img = example(&x, b);
            assert_eq!(example(&got, b), shifted(&img, 5, 5, (1, -2), inside));
            let want = shifted(&img, 5, 5, (1, -2), |y, x| Some((reflect(y), reflect(x))));
            assert_eq!(example(&got_reflected, b), want, "reflect, image {b}");
        }
    }
}

#[test]
fn geometric_layers_draw_per_image_per_step_and_follow_their_seed() {
    let x = image(&[4, 6, 6, 2], 4);
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(RandomRotation::new(0.2)),
        Box::new(RandomZoom::new(0.3).width_factor(0.2)),
        Box::new(RandomTranslation::new(0.3, 0.3)),
    ];
    for layer in &layers {
        let what = layer.class_name();
        let step0 = train(layer.as_ref(), &x, 0.0);
        assert_eq!(step0.shape, x.shape, "{what}: shape");
        assert_eq!(
            step0.data,
            train(layer.as_ref(), &x, 0.0).data,
            "{what}: same step"
        );
        assert_ne!(
            step0.data,
            train(layer.as_ref(), &x, 1.0).data,
            "{what}: next step"
        );
        assert_ne!(
            step0.data,
            run(layer.as_ref(), &x, true, 0.0, 8).data,
            "{what}: model seed"
        );
        // A batch of one image repeated: each copy moves differently.
        let same = Tensor::new([4, 6, 6, 2].as_slice(), example(&x, 0).repeat(4)).unwrap();
        let moved = train(layer.as_ref(), &same, 0.0);
        assert_ne!(example(&moved, 0), example(&moved, 1), "{what}: per image");
        // Reflect fill and interpolation keep values within the input's range.
        let (lo, hi) = (0.0, 10.0);
        assert!(
            step0.data.iter().all(|v| (lo..=hi).contains(v)),
            "{what}: range"
        );
    }
    // An explicit Keras seed fixes the draws whatever the model's seed.
    let seeded = RandomRotation::new(0.2).seed(42);
    assert_eq!(
        run(&seeded, &x, true, 0.0, 7).data,
        run(&seeded, &x, true, 0.0, 8).data
    );
    assert_ne!(
        run(&seeded, &x, true, 0.0, 7).data,
        run(&RandomRotation::new(0.2).seed(43), &x, true, 0.0, 7).data
    );
}

#[test]
fn contrast_scales_each_image_about_its_channel_means() {
    // Values in [20, 30): no output reaches 0 or 255.
    let mut x = image(&[16, 4, 4, 2], 5);
    x.data.iter_mut().for_each(|v| *v += 20.0);
    let layer = RandomContrast::new((0.5, 0.3));
    let got = train(&layer, &x, 0.0);
    let mut factors = Vec::new();
    for b in 0..16 {
        let (img, out) = (example(&x, b), example(&got, b));
        for c in 0..2 {
            let mean = (0..16).map(|p| img[p * 2 + c]).sum::<f32>() / 16.0;
            // The factor by least squares.
            let (mut num, mut den) = (0.0, 0.0);
            for k in 0..16 {
                num += (out[k * 2 + c] - mean) * (img[k * 2 + c] - mean);
                den += (img[k * 2 + c] - mean) * (img[k * 2 + c] - mean);
            }
            let f = num / den;
            for k in 0..16 {
                let want = (img[k * 2 + c] - mean) * f + mean;
                assert!(
                    (out[k * 2 + c] - want).abs() < 1e-4,
                    "image {b} channel {c}"
                );
            }
            assert!((0.5 - 1e-4..1.3 + 1e-4).contains(&f), "factor {f}");
            factors.push(f);
        }
        // One factor per image: both channels agree.
        assert!((factors[factors.len() - 1] - factors[factors.len() - 2]).abs() < 1e-3);
    }
    let spread = factors.iter().cloned().fold(f32::MIN, f32::max)
        - factors.iter().cloned().fold(f32::MAX, f32::min);
    assert!(spread > 0.3, "factors spread only {spread}");
    // Clipped to value_range.
    let clipped = train(&RandomContrast::new(0.9).value_range(22.0, 28.0), &x, 0.0);
    assert!(clipped.data.iter().all(|v| (22.0..=28.0).contains(v)));
    assert!(clipped.data.contains(&22.0) && clipped.data.contains(&28.0));
}

/// A model of one augmentation `layer` on `[h, w, c]` images, compiled.
fn single_layer_model(input: &[usize], layer: impl Layer + 'static) -> Sequential {
    let mut model = Sequential::of([Input::new(input).into(), layer.into()]);
    model
        .compile(SGD::default(), MeanSquaredError, [] as [Accuracy; 0])
        .unwrap();
    model
}

#[test]
fn every_augmentation_is_the_identity_in_predict() {
    let x = image(&[3, 5, 6, 2], 6);
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(RandomFlip::default()),
        Box::new(RandomTranslation::new(0.5, 0.5)),
        Box::new(RandomRotation::new(0.5).fill_mode(FillMode::Wrap)),
        Box::new(RandomZoom::new(0.5)),
        Box::new(RandomContrast::new(0.5)),
        Box::new(RandomCrop::new(5, 6)),
    ];
    for layer in layers {
        let what = layer.class_name();
        let mut model = Sequential::of([Input::new([5, 6, 2]).into(), layer]);
        model
            .compile(SGD::default(), MeanSquaredError, [] as [Accuracy; 0])
            .unwrap();
        assert_eq!(model.predict(&x, 3).unwrap().data, x.data, "{what}");
    }
    // A smaller RandomCrop at inference: the centred window, resized (see the fixtures).
    let model = single_layer_model(&[5, 6, 2], RandomCrop::new(3, 3));
    assert_eq!(model.predict(&x, 3).unwrap().shape.dims(), [3, 3, 3, 2]);
}

#[test]
fn bad_options_are_errors_naming_the_layer() {
    let check = |layer: Box<dyn Layer>, input: &[usize], needle: &str| {
        let err = layer
            .output_shape(&Shape::from(input))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(layer.class_name()) && err.contains(needle),
            "{err}"
        );
    };
    check(Box::<RandomFlip>::default(), &[4, 4], "3-D input");
    check(
        Box::new(RandomTranslation::new(1.5, 0.1)),
        &[4, 4, 1],
        "height_factor",
    );
    check(
        Box::new(RandomZoom::new((0.2, -0.2))),
        &[4, 4, 1],
        "height_factor",
    );
    check(Box::new(RandomContrast::new(-0.1)), &[4, 4, 1], "factor");
    check(Box::new(RandomCrop::new(0, 3)), &[4, 4, 1], "positive");
    let bad_mode = serde_json::json!({"name": "f", "mode": "diagonal"});
    let err = layer_from_config("RandomFlip", &bad_mode)
        .unwrap_err()
        .to_string();
    assert!(err.contains("mode") && err.contains("diagonal"), "{err}");
    let channels_first = serde_json::json!({"name": "c", "height": 2, "width": 2,
        "data_format": "channels_first"});
    let err = layer_from_config("RandomCrop", &channels_first)
        .unwrap_err()
        .to_string();
    assert!(err.contains("data_format"), "{err}");
    let bad_fill = serde_json::json!({"name": "r", "factor": 0.1, "fill_mode": "mirror"});
    let err = layer_from_config("RandomRotation", &bad_fill)
        .unwrap_err()
        .to_string();
    assert!(err.contains("fill_mode") && err.contains("mirror"), "{err}");
}

#[test]
fn gradients_flow_through_the_augmentations() {
    let u = Init::Uniform(-1.0, 1.0);
    check_all(vec![
        case("flip", &[2, 3, 4, 2], RandomFlip::default(), u),
        case("crop", &[2, 4, 5, 1], RandomCrop::new(2, 3), u),
        case("crop inference", &[2, 4, 6, 1], RandomCrop::new(3, 3), u).inference(),
        case(
            "translation",
            &[2, 4, 4, 2],
            RandomTranslation::new(0.3, 0.3),
            u,
        ),
        case(
            "rotation",
            &[2, 5, 4, 1],
            RandomRotation::new(0.2)
                .fill_mode(FillMode::Constant)
                .fill_value(0.5),
            u,
        ),
        case(
            "zoom",
            &[2, 4, 4, 1],
            RandomZoom::new(0.3).interpolation(Interpolation::Nearest),
            u,
        ),
        case(
            "contrast",
            &[2, 3, 3, 2],
            RandomContrast::new(0.4),
            Init::Uniform(10.0, 20.0),
        ),
    ]);
}

/// Every augmentation layer with non-default options.
fn augmentations() -> Vec<Box<dyn Layer>> {
    vec![
        Box::new(RandomFlip::new(FlipMode::Horizontal).seed(3).named("flip")),
        Box::new(
            RandomRotation::new((-0.1, 0.2))
                .fill_mode(FillMode::Nearest)
                .named("rot"),
        ),
        Box::new(
            RandomZoom::new(0.2)
                .width_factor((-0.1, 0.3))
                .interpolation(Interpolation::Nearest)
                .fill_mode(FillMode::Constant)
                .fill_value(0.25)
                .named("zoom"),
        ),
        Box::new(
            RandomTranslation::new(0.1, (-0.2, 0.1))
                .fill_mode(FillMode::Wrap)
                .named("shift"),
        ),
        Box::new(
            RandomContrast::new(0.3)
                .value_range(0.0, 1.0)
                .named("contrast"),
        ),
        Box::new(RandomCrop::new(6, 5).seed(9).named("crop")),
    ]
}

#[test]
fn configs_round_trip_through_json_and_model_files() {
    for layer in augmentations() {
        let json = layer_to_json(layer.as_ref());
        let back = layer_from_json(&json).unwrap();
        assert_eq!(layer_to_json(back.as_ref()), json, "{}", layer.class_name());
    }
    let build = || {
        let mut layers: Vec<Box<dyn Layer>> = vec![Input::new([8, 8, 1]).into()];
        layers.extend(augmentations());
        layers.push(Flatten::new().into());
        layers.push(Dense::new(2).into());
        Sequential::of(layers)
    };
    let model = build();
    let dir = std::env::temp_dir().join(format!("kiln-augment-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let h5 = dir.join("augment.h5");
    model.save_keras(&h5).unwrap();
    let loaded = Model::load_keras(&h5).unwrap();
    assert_eq!(loaded.to_config(), model.to_config(), ".h5");
    let archive = dir.join("augment.keras");
    model.save_keras_archive(&archive).unwrap();
    let loaded = Model::load_keras_archive(&archive).unwrap();
    for (a, b) in loaded.layers().iter().zip(model.layers()) {
        assert_eq!(a.config(), b.config(), ".keras: {}", b.class_name());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A small CNN on 8×8 images with every augmentation in front.
fn augmented_cnn() -> Model {
    let mut layers: Vec<Box<dyn Layer>> = vec![Input::new([8, 8, 1]).into()];
    layers.extend(augmentations());
    layers.push(Conv2D::new(2, 3).into());
    layers.push(Flatten::new().into());
    layers.push(Dense::new(3).into());
    Sequential::of(layers)
}

fn images_dataset(n: usize) -> Dataset {
    let x = image(&[n, 8, 8, 1], 9);
    let labels: Vec<f32> = (0..n * 3).map(|i| ((i * 5) % 3) as f32 * 0.5).collect();
    Dataset::new(x.data.scale(0.1), &[n, 8, 8, 1], labels, &[n, 3]).unwrap()
}

/// Scales every value (keeps contrast's clipping to [0, 1] out of the way).
trait Scale {
    fn scale(self, k: f32) -> Vec<f32>;
}

impl Scale for Vec<f32> {
    fn scale(self, k: f32) -> Vec<f32> {
        self.into_iter().map(|v| v * k).collect()
    }
}

#[test]
fn a_model_trains_with_augmentation_and_predicts_without() {
    let data = images_dataset(8);
    let mut model = augmented_cnn();
    model
        .compile(
            SGD::default().learning_rate(0.05),
            MeanSquaredError,
            [] as [Accuracy; 0],
        )
        .unwrap();
    let history = model.fit(&data, 2, 4).unwrap();
    assert!(history.history["loss"].iter().all(|l| l.is_finite()));
    // Predict skips the random layers: twice the same answer.
    let x = Tensor::new([8, 8, 8, 1].as_slice(), data.features().to_vec()).unwrap();
    assert_eq!(
        model.predict(&x, 8).unwrap().data,
        model.predict(&x, 8).unwrap().data
    );
}

#[test]
fn cpu_and_gpu_draw_the_same_augmentations() {
    devices::assert_training_matches("augmented cnn", &augmented_cnn, &images_dataset(8));
}

#[test]
fn normalization_adapt_equals_numpy_and_keras() {
    let text = std::fs::read_to_string(format!("{FIXTURES}/adapt.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let shape: Vec<usize> = fixture["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let floats = |v: &Value| -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_f64().unwrap() as f32)
            .collect()
    };
    let data = floats(&fixture["data"]);
    let n = shape[0];
    let dataset = Dataset::new(data.clone(), &shape, vec![0.0; n], &[n, 1]).unwrap();
    let close = |got: &[f32], want: &[f32], tol: f32, what: &str| {
        assert_eq!(got.len(), want.len(), "{what}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= tol * w.abs().max(1.0),
                "{what}: {g} vs {w}"
            );
        }
    };
    for c in fixture["cases"].as_array().unwrap() {
        let axes: Option<Vec<i64>> = match &c["axis"] {
            Value::Null => None,
            Value::Array(a) => Some(a.iter().map(|v| v.as_i64().unwrap()).collect()),
            v => Some(vec![v.as_i64().unwrap()]),
        };
        let what = format!("axis {:?}", axes);
        let mut norm = Normalization::new().axes(axes.as_deref());
        norm.adapt(&dataset).unwrap();
        let (mean, variance) = norm.adapted_statistics().unwrap();
        close(mean, &floats(&c["numpy_mean"]), 1e-6, &what);
        close(variance, &floats(&c["numpy_variance"]), 1e-6, &what);
        close(mean, &floats(&c["keras_mean"]), 1e-4, &what);
        close(variance, &floats(&c["keras_variance"]), 1e-4, &what);
        // The same statistics from a tensor, and from pieces.
        let mut whole = Normalization::new().axes(axes.as_deref());
        whole
            .adapt_tensor(&Tensor::new(shape.as_slice(), data.clone()).unwrap())
            .unwrap();
        assert_eq!(whole.adapted_statistics().unwrap().0, mean);
        // The adapted layer normalises the data to mean 0, variance 1 per kept feature.
        let model = Sequential::of([Input::new(&shape[1..]).into(), norm.into()]);
        let x = Tensor::new(shape.as_slice(), data.clone()).unwrap();
        let y = model.predict(&x, n).unwrap();
        let mut check = Normalization::new().axes(axes.as_deref());
        check.adapt_tensor(&y).unwrap();
        let (m, v) = check.adapted_statistics().unwrap();
        assert!(m.iter().all(|m| m.abs() < 1e-4), "{what}: mean {m:?}");
        assert!(
            v.iter().all(|v| (v - 1.0).abs() < 1e-3),
            "{what}: variance {v:?}"
        );
    }
    let mut fixed = Normalization::new().statistics(vec![0.0], vec![1.0]);
    assert!(
        fixed
            .adapt(&dataset)
            .unwrap_err()
            .to_string()
            .contains("given")
    );
}

#[test]
fn onnx_export_drops_the_augmentations_but_not_a_crop() {
    let model = sequential![
        Input::new([8, 8, 1]),
        RandomFlip::default(),
        RandomRotation::new(0.1),
        RandomZoom::new(0.1),
        RandomTranslation::new(0.1, 0.1),
        RandomContrast::new(0.1),
        Flatten::new(),
        Dense::new(2),
    ];
    let proto = kiln::onnx::to_onnx(&model).unwrap();
    let graph = proto.graph.unwrap();
    let ops: Vec<&str> = graph
        .node
        .iter()
        .filter_map(|n| n.op_type.as_deref())
        .collect();
    assert!(!ops.iter().any(|op| op.contains("Random")), "{ops:?}");
    let cropped = sequential![Input::new([8, 8, 1]), RandomCrop::new(4, 4)];
    let err = kiln::onnx::to_onnx(&cropped).unwrap_err().to_string();
    assert!(err.contains("RandomCrop"), "{err}");
}

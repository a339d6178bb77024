"""Writes the Keras-zoo fixtures: one model of each tf-keras 2.21 `keras.applications`
family, built with weights=None and classifier_activation=None, every weight randomised,
saved as `.h5` with a seeded input and Keras' logits in Kiln's tensor JSON format.

Not part of `.ci/run` nor README's test command (TensorFlow is slow to install and the files
are large). Run:

    ~/.cache/kiln-anchors/venv-tf/bin/python frontend/tests/zoo/make_zoo_fixtures.py [OUT] [NAME...]

OUT defaults to `target/zoo` (git-ignored). Then
`KILN_ZOO_DIR=target/zoo cargo test -p kiln --test keras_zoo -- --ignored --nocapture`.

Randomisation: kernels keep their (random) initialiser draws; biases, LayerScale gammas,
Normalization mean/variance and BatchNorm gamma/beta are redrawn; BatchNorm moving statistics
are first calibrated on a separate random batch (one training-mode pass with momentum 0, so
every layer sees normalised activations and logits stay finite) and then perturbed, so no
BatchNorm is the identity and every statistic is random.
"""

import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from tf_keras import applications as apps  # noqa: E402

CLASSES = 10
BATCH = 2

# name: (constructor, input side, input range, extra kwargs). Side: the smallest the family
# accepts with include_top=True. Range: the pixel range its own preprocessing expects.
FAMILIES = {
    "VGG16": (apps.VGG16, 32, "unit", {}),
    "VGG19": (apps.VGG19, 32, "unit", {}),
    "ResNet50": (apps.ResNet50, 32, "unit", {}),
    "ResNet101": (apps.ResNet101, 32, "unit", {}),
    "ResNet50V2": (apps.ResNet50V2, 32, "unit", {}),
    "InceptionV3": (apps.InceptionV3, 75, "unit", {}),
    "InceptionResNetV2": (apps.InceptionResNetV2, 75, "unit", {}),
    "Xception": (apps.Xception, 71, "unit", {}),
    "MobileNet": (apps.MobileNet, 32, "unit", {}),
    "MobileNetV2": (apps.MobileNetV2, 32, "unit", {}),
    "MobileNetV3Small": (apps.MobileNetV3Small, 32, "pixels", {}),
    "MobileNetV3Large": (apps.MobileNetV3Large, 32, "pixels", {}),
    "DenseNet121": (apps.DenseNet121, 32, "unit", {}),
    "NASNetMobile": (apps.NASNetMobile, 32, "unit", {}),
    "EfficientNetB0": (apps.EfficientNetB0, 32, "pixels", {}),
    "EfficientNetV2B0": (apps.EfficientNetV2B0, 32, "pixels", {}),
    "ConvNeXtTiny": (apps.ConvNeXtTiny, 32, "pixels", {}),
    "RegNetX002": (apps.RegNetX002, 32, "pixels", {}),
}


def images(rng, side, kind, batch):
    """A batch of random images in the range the family's own preprocessing expects."""
    x = rng.uniform(0.0, 1.0, size=(batch, side, side, 3)).astype(np.float32)
    if kind == "pixels":
        x *= 255.0
    else:
        x = x * 2.0 - 1.0
    return x


def calibrate_batch_norm(model, x):
    """Moving statistics := the batch statistics of one training-mode pass (momentum 0)."""
    bns = [l for l in iter_layers(model) if isinstance(l, tf_keras.layers.BatchNormalization)]
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 0.0
    model(x, training=True)
    for bn, m in zip(bns, saved):
        bn.momentum = m


def iter_layers(model):
    for layer in model.layers:
        if isinstance(layer, tf_keras.Model):
            yield from iter_layers(layer)
        else:
            yield layer


def randomise(model, rng):
    """Redraws every weight that an initialiser leaves constant; perturbs BatchNorm stats."""
    for layer in iter_layers(model):
        for w in layer.weights:
            name = w.name.split("/")[-1].split(":")[0]
            v = w.numpy()
            if w.dtype not in (tf.float32,):
                continue  # Normalization's int64 `count`
            if name == "moving_variance":
                new = v * rng.uniform(0.7, 1.4, v.shape) + 1e-3
            elif name == "moving_mean":
                new = v + rng.normal(0.0, 0.2, v.shape) * np.sqrt(np.abs(v) + 1e-2)
            elif name == "gamma" and isinstance(layer, tf_keras.layers.BatchNormalization):
                new = rng.uniform(0.6, 1.4, v.shape)
            elif name in ("beta", "bias"):
                new = rng.normal(0.0, 0.1, v.shape)
            elif name == "gamma":  # LayerNormalization scale, LayerScale
                new = rng.uniform(0.3, 1.2, v.shape)
            elif name == "mean":  # Normalization
                new = rng.normal(0.0, 0.3, v.shape)
            elif name == "variance":  # Normalization
                new = rng.uniform(0.5, 2.0, v.shape)
            else:
                # Kernels: their initialiser drew them; make sure none is left constant.
                if v.size > 1 and np.all(v == v.flat[0]):
                    new = rng.normal(0.0, 0.1, v.shape)
                else:
                    continue
            w.assign(new.astype(np.float32))
        # Normalization computes its broadcast mean/variance when built: refresh them, as
        # Keras does after loading weights.
        if hasattr(layer, "finalize_state"):
            layer.finalize_state()


def write_tensor(path, array):
    """Kiln's tensor JSON format, values in a raw little-endian f32 file beside it."""
    array = np.ascontiguousarray(array, dtype="<f4")
    stem = os.path.splitext(os.path.basename(path))[0]
    array.tofile(os.path.join(os.path.dirname(path), stem + ".bin"))
    with open(path, "w") as f:
        json.dump({"dtype": "float32", "shape": list(array.shape), "file": stem + ".bin",
                   "byte_order": "little"}, f)


def make(name, out, seed):
    build, side, kind, extra = FAMILIES[name]
    rng = np.random.default_rng(seed)
    tf.random.set_seed(seed)
    tf_keras.utils.set_random_seed(seed)
    model = build(weights=None, classes=CLASSES, classifier_activation=None,
                  input_shape=(side, side, 3), **extra)
    calibrate_batch_norm(model, images(rng, side, kind, 8))
    randomise(model, rng)
    x = images(rng, side, kind, BATCH)
    y = model(x, training=False).numpy()
    assert np.all(np.isfinite(y)), name
    path = os.path.join(out, f"{name}.h5")
    model.save(path, include_optimizer=False)
    # The file must reproduce the logits in Keras itself.
    again = tf_keras.models.load_model(path, compile=False)(x, training=False).numpy()
    np.testing.assert_allclose(again, y, rtol=1e-5, atol=1e-5 * np.abs(y).max())
    del again
    with open(os.path.join(out, f"{name}_meta.json"), "w") as f:
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        json.dump({"params": model.count_params(), "trainable_params": trainable,
                   "layers": len(model.layers)}, f)
    write_tensor(os.path.join(out, f"{name}_input.json"), x)
    write_tensor(os.path.join(out, f"{name}_output.json"), y)
    print(f"{name:18s} side {side:3d} params {model.count_params():>10d} "
          f"max|logit| {np.abs(y).max():.4g}", flush=True)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "target/zoo"
    names = sys.argv[2:] or list(FAMILIES)
    os.makedirs(out, exist_ok=True)
    for i, name in enumerate(FAMILIES):
        if name in names:
            make(name, out, 1000 + i)


if __name__ == "__main__":
    main()

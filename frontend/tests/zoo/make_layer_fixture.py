"""Writes `frontend/tests/fixtures/keras/zoo_layers/`: one small tf-keras 2.21 functional
model holding every layer the Keras zoo needed (Rescaling, Normalization with weights and
with given statistics, grouped and depthwise-grouped Conv2D, Dropout with noise_shape,
TFOpLambda ops with number and tensor operands, reductions, reshape, transpose, concat,
CustomScaleLayer, LayerScale, a nested Sequential), its weights randomised, saved as `.h5`
with an input, Keras' output and Keras' parameter counts (`expected.json`).

    ~/.cache/kiln-anchors/venv-tf/bin/python frontend/tests/zoo/make_layer_fixture.py
"""

import json
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from tf_keras import layers  # noqa: E402
from tf_keras.src.applications.convnext import LayerScale  # noqa: E402
from tf_keras.src.applications.inception_resnet_v2 import CustomScaleLayer  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras", "zoo_layers")


def build():
    inputs = tf_keras.Input((6, 6, 4), name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inputs)
    x = layers.Normalization(axis=-1, name="norm_weights")(x)
    x = layers.Normalization(mean=[0.1, 0.2, 0.3, 0.4], variance=[1.0, 2.0, 0.5, 4.0],
                             name="norm_given")(x)
    g = layers.Conv2D(6, 3, padding="same", groups=2, name="grouped")(x)
    d = layers.Conv2D(4, 3, padding="same", groups=4, name="depthwise_grouped")(x)
    stem = tf_keras.Sequential([
        tf_keras.Input((6, 6, 4)),
        layers.Conv2D(6, 2, strides=2, name="nested_conv"),
        layers.LayerNormalization(epsilon=1e-6, name="nested_ln"),
    ], name="nested")
    s = stem(d)                                       # (3, 3, 6)
    s = LayerScale(0.5, 6, name="layer_scale")(s)
    h = g + 3.0                                       # __operators__.add, a number
    h = tf.nn.relu6(h) * (1.0 / 6.0)                  # relu6, math.multiply by a number
    h = tf.math.multiply(h, g)                        # a tensor operand
    h = tf.math.maximum(h, -0.5)
    h = tf.nn.swish(h)
    h = layers.Dropout(0.3, noise_shape=(None, 1, 1, 6), name="drop")(h)
    p = tf.math.reduce_mean(h, axis=[1, 2], keepdims=True)   # (1, 1, 6)
    q = tf.reshape(s, (-1, 9, 6))
    q = tf.transpose(q, perm=[0, 2, 1])               # (6, 9)
    q = tf.math.reduce_sum(q, axis=-1)                # (6,)
    r = tf.reshape(p, (-1, 6))
    t = CustomScaleLayer(0.17, name="custom_scale")([r, q])
    u = tf.concat([t, tf.math.subtract(r, q), tf.math.truediv(q, 2.0)], axis=-1)
    u = tf.math.tanh(tf.math.sigmoid(u) - tf.math.minimum(u, 0.25))
    out = layers.Dense(3, name="head")(u)
    return tf_keras.Model(inputs, out, name="zoo_layers")


def main():
    rng = np.random.default_rng(14)
    tf_keras.utils.set_random_seed(14)
    model = build()
    for layer in model.layers:
        sub = layer.layers if isinstance(layer, tf_keras.Model) else [layer]
        for l in sub:
            for w in l.weights:
                if w.dtype != tf.float32:
                    continue
                v = rng.normal(0.0, 0.5, w.shape)
                if w.name.split("/")[-1].startswith("variance"):
                    v = rng.uniform(0.5, 2.0, w.shape)
                w.assign(v.astype(np.float32))
            if hasattr(l, "finalize_state"):
                l.finalize_state()
    x = rng.uniform(0.0, 255.0, (2, 6, 6, 4)).astype(np.float32)
    y = model(x, training=False).numpy()
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "zoo_layers.h5")
    model.save(path, include_optimizer=False)
    again = tf_keras.models.load_model(
        path, compile=False, custom_objects={"LayerScale": LayerScale})(x, training=False).numpy()
    np.testing.assert_allclose(again, y, rtol=1e-6)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    functions = sorted({l.get_config()["function"] for l in model.layers
                        if l.__class__.__name__ == "TFOpLambda"})
    expected = {
        "input": {"shape": list(x.shape), "data": [float(v) for v in x.ravel()]},
        "output": {"shape": list(y.shape), "data": [float(v) for v in y.ravel()]},
        "params": model.count_params(),
        "trainable_params": trainable,
        "tf_functions": functions,
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(model.count_params(), trainable, functions, np.abs(y).max())


if __name__ == "__main__":
    main()

"""Makes the Keras 3 fixtures of tests/keras_archive.rs that the shared fixtures lack: every
weight-nesting rule of Keras 3's object-path layout (sub-layers, wrappers, attention) as
written by Keras 3 itself, as a `.keras` archive AND as `model.to_json()` +
`save_weights("x.weights.h5")`.

Run (not part of the test command; needs Keras 3, here 3.15.1 on TensorFlow 2.21):
    ~/.cache/kiln-anchors/venv-tf/bin/python frontend/tests/keras_archive/make_fixtures.py

Writes into tests/fixtures/keras/archives/k3/: NAME.keras, NAME.json, NAME.weights.h5,
NAME_input.json, NAME_output.json (model(x, training=False)), NAME_summary.txt.
Weights are seeded random values (biases, BatchNorm statistics and gates included), so a
mapping mistake changes the outputs.
"""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras
from keras import layers as L

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras", "archives", "k3")
rng = np.random.default_rng(14)


def randomise(model):
    for w in model.weights:
        shape = tuple(w.shape)
        if "moving_variance" in w.path or "gamma" in w.path:
            value = rng.uniform(0.6, 1.4, shape)
        else:
            fan_in = shape[0] if len(shape) > 0 else 1
            if len(shape) > 2:
                fan_in = int(np.prod(shape[:-1]))
            value = rng.normal(0, 1 / np.sqrt(max(fan_in, 1)), shape)
        w.assign(value.astype("float32"))


def image_model():
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            L.SeparableConv2D(4, 3, name="sep"),
            L.DepthwiseConv2D(3, name="depthwise"),
            L.BatchNormalization(center=False, name="bn"),
            L.PReLU(name="prelu"),
            L.Conv2DTranspose(2, 3, name="deconv"),
            L.LayerNormalization(name="ln"),
            L.Flatten(),
            L.Dense(3, name="head"),
        ],
        name="k3_image",
    )


def sequence_model():
    ids = keras.Input((6,), name="ids")
    x = L.Embedding(20, 8, name="embed")(ids)
    x = L.Conv1D(8, 3, padding="same", name="conv")(x)
    x = L.SimpleRNN(6, return_sequences=True, name="rnn")(x)
    x = L.GRU(5, return_sequences=True, name="gru")(x)
    x = L.Bidirectional(L.LSTM(3, return_sequences=True), name="bilstm")(x)
    x = L.TimeDistributed(L.Dense(4), name="td")(x)
    a = L.MultiHeadAttention(2, 3, name="mha")(x, x)
    x = L.Add(name="residual")([x, a])
    x = L.GlobalAveragePooling1D(name="pool")(x)
    y = L.Dense(2, name="head")(x)
    return keras.Model(ids, y, name="k3_sequence")


def write(model, x):
    randomise(model)
    name = model.name
    base = os.path.join(OUT, name)
    model.save(base + ".keras")
    model.save_weights(base + ".weights.h5")
    with open(base + ".json", "w") as f:
        f.write(model.to_json())
    y = np.asarray(model(x, training=False))
    for suffix, t in [("_input.json", x), ("_output.json", y)]:
        with open(base + suffix, "w") as f:
            json.dump(
                {"dtype": "float32", "shape": list(t.shape),
                 "data": [float(v) for v in np.asarray(t, "float32").ravel()]},
                f,
            )
    lines = []
    model.summary(print_fn=lambda s, **k: lines.append(s))
    with open(base + "_summary.txt", "w") as f:
        f.write("\n".join(lines) + "\n")
    print(name, "params", model.count_params(), "output", y.shape)


os.makedirs(OUT, exist_ok=True)
write(image_model(), rng.normal(0, 1, (2, 8, 8, 3)).astype("float32"))
write(sequence_model(), rng.integers(0, 20, (3, 6)).astype("float32"))

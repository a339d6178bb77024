"""Writes corpus/keras_h5/tfkeras_*.h5: tiny models saved by tf-keras 2 (h5py's layout,
which differs from the one Kiln's HDF5 writer produces). Run with the tf-keras venv:
~/.cache/kiln-anchors/venv-tf/bin/python fuzzing/corpus/make_keras_h5.py"""
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
import tf_keras as keras

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_h5")
mlp = keras.Sequential([keras.layers.Input((3,)), keras.layers.Dense(2, activation="relu")])
mlp.compile(optimizer="adam", loss="mse")
mlp.save(os.path.join(here, "tfkeras_mlp.h5"))
x = keras.layers.Input((4, 4, 1))
y = keras.layers.Conv2D(1, 2)(x)
y = keras.layers.BatchNormalization()(y)
y = keras.layers.Flatten()(y)
cnn = keras.Model(x, keras.layers.Dense(2)(y))
cnn.save(os.path.join(here, "tfkeras_cnn_uncompiled.h5"))

# A Keras 3 `.keras` archive (Keras 3.15 in the same venv).
import keras as keras3

k3 = keras3.Sequential([keras3.layers.Input((3,)), keras3.layers.Dense(2, activation="relu")])
k3.compile(optimizer="adam", loss="mse")
k3.save(os.path.join(os.path.dirname(here), "keras_zip", "keras3_mlp.keras"))

"""Opens the `.keras` archives Kiln wrote in Keras 3 and compares Keras' predictions with
Kiln's. Not run by the test command (needs Keras 3; here 3.15.1 on TensorFlow 2.21):

    KILN_KERAS_ARCHIVE_OUT=/tmp/kiln-archives cargo test -p kiln --test keras_archive \
        written_archives
    ~/.cache/kiln-anchors/venv-tf/bin/python frontend/tests/keras_archive/check_with_keras3.py \
        /tmp/kiln-archives

For each NAME.keras with NAME_input.json / NAME_output.json (Kiln's predictions) beside
it: `keras.models.load_model`, then max |Keras - Kiln| of `model(x, training=False)`.
Exits 1 if any archive fails to load or differs by more than 1e-5 + 1e-5 * |Kiln|.
"""
import glob
import json
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras


def tensor(path):
    with open(path) as f:
        t = json.load(f)
    if "file" in t:  # raw little-endian float32 beside the JSON
        data = np.fromfile(os.path.join(os.path.dirname(path), t["file"]), "<f4")
    else:
        data = np.asarray(t["data"], "float32")
    return data.reshape(t["shape"])


def main(directory):
    failed = False
    for path in sorted(glob.glob(os.path.join(directory, "*.keras"))):
        name = os.path.basename(path)[: -len(".keras")]
        base = os.path.join(directory, name)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = keras.models.load_model(path)
            except Exception as e:  # report every failure, then exit 1
                print(f"{name}: load FAILED: {type(e).__name__}: {e}")
                failed = True
                continue
        notes = "; ".join(str(w.message).splitlines()[0] for w in caught)
        x, want = tensor(base + "_input.json"), tensor(base + "_output.json")
        got = np.asarray(model(x, training=False))
        diff = float(np.max(np.abs(got - want)))
        ok = bool(np.all(np.abs(got - want) <= 1e-5 + 1e-5 * np.abs(want)))
        failed |= not ok
        compiled = getattr(model, "optimizer", None) is not None
        print(
            f"{name}: load ok, compiled={compiled}, max|diff|={diff:.3g}"
            f" {'OK' if ok else 'MISMATCH'}" + (f" (warnings: {notes})" if notes else "")
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/kiln-archives"))

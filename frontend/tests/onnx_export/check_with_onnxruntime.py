"""Checks Kiln's ONNX exports with the reference tools (not run by `cargo test`).

Reads DIR/manifest.json written by the ignored Rust test `write_files_for_onnxruntime`
(frontend/tests/onnx_export.rs): for each model, its `.onnx` file, an input and Kiln's
predictions at batch sizes 1 and 3 (raw little-endian float32). For each model it runs
`onnx.checker.check_model(full_check=True)` (which also runs ONNX shape inference), then
onnxruntime on the input, and asserts max |ort - kiln| <= 1e-5 for every output.

    KILN_ONNX_EXPORT_DIR=/tmp/onnx-export cargo test -p kiln --test onnx_export -- --ignored
    ~/.cache/kiln-anchors/venv-onnx/bin/python \
        frontend/tests/onnx_export/check_with_onnxruntime.py /tmp/onnx-export
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

TOLERANCE = 1e-5


def load(directory, entry):
    data = np.fromfile(directory / entry["file"], dtype="<f4")
    return data.reshape(entry["shape"])


def main(directory):
    directory = Path(directory)
    manifest = json.loads((directory / "manifest.json").read_text())
    checked = set()
    failures = []
    for case in manifest:
        path = directory / case["model"]
        if case["model"] not in checked:
            model = onnx.load(path)
            onnx.checker.check_model(model, full_check=True)
            opsets = {o.domain: o.version for o in model.opset_import}
            ops = sorted({n.op_type for n in model.graph.node})
            print(f"{case['model']}: checker ok (ir {model.ir_version}, opset {opsets['']}); ops {ops}")
            checked.add(case["model"])
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feeds = {
            info.name: load(directory, entry)
            for info, entry in zip(session.get_inputs(), case["inputs"])
        }
        got = session.run(None, feeds)
        for k, (ort_out, entry) in enumerate(zip(got, case["outputs"])):
            want = load(directory, entry)
            if ort_out.shape != want.shape:
                failures.append(f"{case['model']} batch {case['batch']} output {k}: "
                                f"shape {ort_out.shape} vs Kiln {want.shape}")
                continue
            worst = float(np.max(np.abs(ort_out - want)))
            scale = float(np.max(np.abs(want)))
            print(f"  batch {case['batch']} output {k} {list(want.shape)}: "
                  f"max |ort - kiln| = {worst:.3g} (max |kiln| = {scale:.3g})")
            if not worst <= TOLERANCE:
                failures.append(f"{case['model']} batch {case['batch']} output {k}: {worst}")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print(f"all {len(manifest)} cases within {TOLERANCE}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/onnx-export")

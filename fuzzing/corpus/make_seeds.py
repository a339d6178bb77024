"""Writes the small hand-made seeds (plain python 3, no packages): command lines, IDX raw and
gzipped, tensor files, predict bodies, CSV files, differential-fuzzer bytes and two Kiln
model files (format v1 of frontend/src/saving/container.rs: a weights-only file and one with
an SGD training config). Run from this folder: python3 make_seeds.py"""
import gzip, json, os, random, struct, zlib


def put(target, name, data):
    os.makedirs(target, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(target, name), "wb") as f:
        f.write(data)


for name, line in [
    ("summary", "summary model.h5 --weights w.h5"),
    ("predict", "predict --model m.kiln --input x.json --input y.json --output out.json --batch-size 8"),
    ("convert", "convert in.keras out.h5 --model-weights w.weights.h5"),
    ("compile", "compile 9model.onnx -o out --entry both --batch 4 --weights external --target aarch64-unknown-linux-gnu"),
    ("compile_named", "compile m.kiln --output out --name my_model --model-weights w.h5"),
    ("help", "help compile"),
]:
    put("cli_args", name + ".txt", line)
images = bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3]) + bytes(range(18))
labels = bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 1])
for name, data in [("images.idx", images), ("labels.idx", labels)]:
    put("idx_raw", name, data)
    put("idx_gzip", name + ".gz", gzip.compress(data, mtime=0))
put("tensor_file", "inline.json", '{"dtype":"float32","shape":[2,3],"data":[1.0,-2.5,0.0,3.25,0.001,-7.0]}')
put("tensor_file", "binary.json",
    b'{"dtype":"float32","shape":[2,3],"file":"t.bin","byte_order":"little"}\0'
    + struct.pack("<6f", 1, -2.5, 0, 3.25, 1e-3, -7))
put("tensor_file", "scalar.json", '{"dtype": "float32", "shape": [], "data": [1.5]}')
put("serve_body", "flat.json", b'\x02{"instances": [[1, 2, 3], [4.5, -1, 0]]}')
put("serve_body", "nested.json", b'\x03{"instances": [[[1, 2], [3, 4]]]}')
put("serve_body", "scalar.json", b'\x00{"instances": [1, 2.5, -3]}')
put("csv_dataset", "iris.csv", "sepal_length,sepal_width,petal_length,petal_width,species\n"
    "5.1,3.5,1.4,0.2,setosa\n4.9,3.0,1.4,0.2,setosa\n6.3,3.3,6.0,2.5,virginica\n")
put("csv_dataset", "numbers.csv", "a,b,y\n1,2,0.5\n3,4,1.5\n-1,0.25,2\n")
put("csv_dataset", "categories.csv", "color,size,label\nred,1,a\nblue,2,b\nred,3,a\n")
rng = random.Random(7)
for header in [0x00, 0x05, 0x0F, 0x13, 0x1A, 0x1F, 0x06, 0x19]:
    put("graph_diff", "graph_%02x.bin" % header, bytes([header] + [rng.randrange(256) for _ in range(40)]))

config = {"class_name": "Sequential", "config": {"name": "mlp", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3], "dtype": "float32", "name": "input_1"}},
    {"class_name": "Dense", "config": {"name": "dense", "units": 2, "activation": "relu", "use_bias": True}},
]}}


def tensor(name, shape, values):
    head = struct.pack("<I", len(name)) + name.encode() + struct.pack("<I", len(shape))
    head += b"".join(struct.pack("<Q", d) for d in shape)
    return head + struct.pack("<%df" % len(values), *values)


sgd = {"optimizer_config": {"class_name": "SGD", "config": {"learning_rate": 0.01}},
       "loss": "mean_squared_error", "metrics": []}
for name, training in [("weights_only.kiln", None), ("sgd.kiln", sgd)]:
    body = b"KILN" + struct.pack("<I", 1)
    for value in [config, training]:
        text = json.dumps(value).encode()
        body += struct.pack("<Q", len(text)) + text
    body += struct.pack("<Q", 2) + tensor("dense/kernel", [3, 2], [0.1, -0.2, 0.3, 0.4, -0.5, 0.6])
    body += tensor("dense/bias", [2], [0.0, 0.5])
    put("kiln_file", name, body + struct.pack("<I", zlib.crc32(body)))

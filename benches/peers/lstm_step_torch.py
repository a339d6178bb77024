"""PyTorch twin of benches/src/bin/lstm_step.rs: input (batch 64, 100 steps, 32 features)
-> nn.LSTM(32, 128, batch_first) -> Linear(128, 10) on the last state, cross-entropy, Adam,
torch.set_num_threads(2). Prints one JSON line: setup time (model + optimizer creation and
the first step), median and all step times in ms, and the load average.

    ~/.cache/kiln-anchors/venv-torch/bin/python benches/peers/lstm_step_torch.py [steps]
"""
import json
import sys
import time

import torch

BATCH, STEPS, FEATURES, UNITS, CLASSES = 64, 100, 32, 128, 10


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(FEATURES, UNITS, batch_first=True)
        self.dense = torch.nn.Linear(UNITS, CLASSES)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.dense(h[-1])


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().strip()


def main():
    timed = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    torch.set_num_threads(2)
    torch.manual_seed(0)
    load_before = loadavg()
    xs = [torch.rand(BATCH, STEPS, FEATURES) * 2 - 1 for _ in range(timed + 1)]
    ys = [torch.arange(BATCH) % CLASSES for _ in range(timed + 1)]
    start = time.perf_counter()
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss

    step(xs[0], ys[0])
    setup = time.perf_counter() - start
    times = []
    for x, y in zip(xs[1:], ys[1:]):
        t = time.perf_counter()
        step(x, y)
        times.append((time.perf_counter() - t) * 1e3)
    print(json.dumps({
        "bench": "lstm_step",
        "framework": "torch " + torch.__version__,
        "setup_s": setup,
        "step_ms_median": sorted(times)[len(times) // 2],
        "step_ms": times,
        "threads": torch.get_num_threads(),
        "load_before": load_before,
        "load_after": loadavg(),
    }))


if __name__ == "__main__":
    main()

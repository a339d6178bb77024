#!/bin/sh
# Ahead-of-time compilation end to end: train an MNIST MLP and a small CNN (1 epoch),
# compile both with `kiln compile`, link a C program with each, run inference on 1000 test
# images (accuracy) and 5 training steps (losses). Needs MNIST in datasets/mnist and `cc`.
# PROFILE=dev uses the (optimised) dev profile instead of release.
set -eu
cd "$(dirname "$0")/../.."
PROFILE=${PROFILE:-release}
DIR=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
OUT=target/aot_c
cargo build --profile "$PROFILE" -p kiln-cli --bin kiln
cargo run --profile "$PROFILE" -p kiln-examples --example aot_prepare -- "$OUT"
for m in mlp cnn; do
    "target/$DIR/kiln" compile "$OUT/$m.kiln" -o "$OUT/$m" --name "$m" \
        --entry both --batch 100 --weights external
    MU=$(echo "$m" | tr a-z A-Z)
    cc -std=c99 -O2 -Wall -I"$OUT/$m" -DM="$m" -DMU="$MU" -DHEADER="\"$m.h\"" \
        examples/aot_c/main.c "$OUT/$m/$m.o" "$OUT/$m/libkiln_cpu_runtime.a" \
        -lpthread -ldl -lm -o "$OUT/$m/$m"
    echo "== $m (C)"
    "$OUT/$m/$m" "$OUT" "$OUT/$m/$m.weights"
done

/* A C program using a Kiln model compiled ahead of time (see README.md).
 *
 * Built once per model with -DM=<name> -DMU=<NAME> -DHEADER='"<name>.h"' (the model was
 * compiled with `kiln compile --entry both --batch 100`). Usage:
 *   ./<name> <data dir> [<name>.weights]
 * reads <data dir>/test_x.bin, test_y.bin (1000 images and one-hot labels, raw f32),
 * prints the accuracy of <name>_infer on them, then runs 5 training steps on
 * <data dir>/train_x.bin, train_y.bin (500 images) and prints each loss.
 */
#include <stdio.h>
#include <stdlib.h>
#include HEADER

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(x) CAT(M, x)
#define K(x) CAT(MU, x)

#define BATCH 100
#define CLASSES 10
#define PIXELS (K(_INFER_FEATURES_LEN) / BATCH)
#define TEST 1000
#define STEPS 5

static float *load(const char *dir, const char *file, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    float *buf = malloc(n * sizeof(float));
    FILE *f = fopen(path, "rb");
    if (!buf || !f || fread(buf, sizeof(float), n, f) != n) {
        fprintf(stderr, "cannot read %zu floats from %s\n", n, path);
        exit(1);
    }
    fclose(f);
    return buf;
}

static int argmax(const float *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (v[i] > v[best]) best = i;
    return best;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s <data dir> [weights file]\n", argv[0]); return 2; }
    CAT(M, _t) *model = FN(_create)(argc > 2 ? argv[2] : NULL);
    if (!model) { fprintf(stderr, "cannot create the model\n"); return 1; }

    float *x = load(argv[1], "test_x.bin", (size_t)TEST * PIXELS);
    float *y = load(argv[1], "test_y.bin", (size_t)TEST * CLASSES);
    static float logits[K(_INFER_PREDICTIONS_LEN)];
    int correct = 0;
    for (int b = 0; b < TEST / BATCH; b++) {
        if (FN(_infer)(model, x + (size_t)b * BATCH * PIXELS, logits)) return 1;
        for (int i = 0; i < BATCH; i++)
            correct += argmax(logits + i * CLASSES, CLASSES) ==
                       argmax(y + ((size_t)b * BATCH + i) * CLASSES, CLASSES);
    }
    printf("AOT accuracy on %d test images: %.4f\n", TEST, (double)correct / TEST);

    float *tx = load(argv[1], "train_x.bin", (size_t)STEPS * BATCH * PIXELS);
    float *ty = load(argv[1], "train_y.bin", (size_t)STEPS * BATCH * CLASSES);
    for (int s = 0; s < STEPS; s++) {
        float loss, accuracy;
        if (FN(_train_step)(model, tx + (size_t)s * BATCH * PIXELS,
                            ty + (size_t)s * BATCH * CLASSES, &loss, &accuracy)) return 1;
        printf("train step %d: loss %.4f, accuracy %.2f\n", s + 1, loss, accuracy);
    }
    FN(_destroy)(model);
    free(x); free(y); free(tx); free(ty);
    return 0;
}

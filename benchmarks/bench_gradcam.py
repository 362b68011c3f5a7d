"""Grad-CAM against one forward pass of the course model, and ``make evaluate``'s time per film.

Run: ``.venv/bin/python benchmarks/bench_gradcam.py [--evaluate-n 48]``. Every figure is measured in
this one run, on a 320x320 input and the shipped DenseNet121, and printed as a ratio to one forward
pass of one image:

* ``util.explain.gradcam.grad_cam`` for one class, ``util.explain.gradcam.grad_cams`` for all 14 classes of one image, and
  ``util.explain.gradcam.grad_cam_batch`` for all 14 classes of 8 images (per image), which run the network once
  and differentiate only the head above the explained layer;
* the per-class recipe of the course, keras.io and pytorch-grad-cam (the whole network recorded on
  a tape, one backward pass per class), called 14 times: the speed-up of ``grad_cams`` over it;
* ``training.evaluate`` on ``--evaluate-n`` held-out films (predictions and every label's maps from
  one pass), in seconds per film and projected to the card's 2000 films.

Targets (issue 16): 14 classes <= 1.3x a forward pass, one class <= 1.15x, >= 10x faster than 14
calls of the per-class recipe.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
from timing import median_seconds  # noqa: E402


def per_class_recipe(model, image, class_index):
    """The per-class recipe: the whole network on a tape, one backward pass for this class."""
    import tensorflow as tf

    from util.explain.gradcam import channel_weights, gradcam_model, postprocess, weighted_sum

    with tf.GradientTape() as tape:
        acts, preds = gradcam_model(model)(tf.convert_to_tensor(image), training=False)
        score = preds[:, class_index]
    grads = tape.gradient(score, acts)
    raw = weighted_sum(acts.numpy()[0], channel_weights(grads.numpy()[0]))
    return postprocess(raw, image.shape[1], image.shape[2])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaluate-n", type=int, default=48, help="held-out films for the evaluate timing (0: skip)")
    parser.add_argument("--repeat", type=int, default=7, help="calls per median (default 7)")
    args = parser.parse_args(argv)

    from util.config.course import LABELS
    from util.explain.gradcam import grad_cam, grad_cam_batch, grad_cams
    from util.models.densenet import load_C3M3_model

    model = load_C3M3_model()
    rng = np.random.default_rng(0)
    x8 = rng.normal(size=(8, 320, 320, 3)).astype(np.float32)
    x1 = x8[:1]
    every = list(range(len(LABELS)))
    r = args.repeat

    # warm-ups: build the cached sub-models and TensorFlow's kernels once
    model(x1, training=False), model(x8, training=False)
    grad_cam(model, x1, 0), grad_cams(model, x1, every), grad_cam_batch(model, x8), per_class_recipe(model, x1, 0)

    forward = median_seconds(lambda: model(x1, training=False), r)
    forward8 = median_seconds(lambda: model(x8, training=False), max(2, r // 2)) / 8
    one = median_seconds(lambda: grad_cam(model, x1, 3), r)
    all14 = median_seconds(lambda: grad_cams(model, x1, every), r)
    batch8 = median_seconds(lambda: grad_cam_batch(model, x8), max(2, r // 2)) / 8
    recipe1 = median_seconds(lambda: per_class_recipe(model, x1, 3), max(2, r // 2))
    start = time.perf_counter()
    for k in every:
        per_class_recipe(model, x1, k)
    recipe14 = time.perf_counter() - start

    print(f"{'what (320x320, course DenseNet121)':<60} {'seconds':>8} {'x forward':>10}")
    rows = [
        ("forward pass, batch 1", forward),
        ("forward pass per image, batch 8", forward8),
        ("util.explain.gradcam.grad_cam, one class", one),
        ("util.explain.gradcam.grad_cams, all 14 classes", all14),
        ("util.explain.gradcam.grad_cam_batch, 14 classes, per image at batch 8", batch8),
        ("per-class recipe (whole network on the tape), one class", recipe1),
        ("per-class recipe, 14 calls", recipe14),
    ]
    for name, seconds in rows:
        print(f"{name:<60} {seconds:8.3f} {seconds / forward:9.2f}x")
    print()
    print(f"all 14 classes / forward pass        {all14 / forward:5.2f}x   (target <= 1.30x)")
    print(f"one class / forward pass             {one / forward:5.2f}x   (target <= 1.15x)")
    print(f"14 recipe calls / grad_cams          {recipe14 / all14:5.1f}x faster (target >= 10x)")
    print(f"14 classes per image, batch 8 vs 1   {all14 / batch8:5.2f}x faster")

    if args.evaluate_n:
        from training.evaluate import evaluate

        result = evaluate(n=args.evaluate_n, verbose=False)
        per_film = result["seconds"] / args.evaluate_n
        print()
        print(f"training.evaluate, {args.evaluate_n} films: {result['seconds']:.1f} s, {per_film:.3f} s per film "
              f"(predictions and all 14 maps; {per_film / forward:.2f}x a batch-1 forward pass); "
              f"2000 films projected: {2000 * per_film / 60:.1f} min")


if __name__ == "__main__":
    main()

"""Loading time and single-image inference time of the shipped course model.

Run: ``.venv/bin/python benchmarks/bench_model.py``. Each figure is measured in
this one run; the ratio line compares Grad-CAM with a plain prediction.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
from timing import median_seconds  # noqa: E402


def main():
    start = time.perf_counter()
    import keras  # noqa: F401  (TensorFlow's own import, reported apart)

    import_s = time.perf_counter() - start
    from util.explain.gradcam import grad_cam
    from util.models.densenet import load_C3M3_model

    start = time.perf_counter()
    model = load_C3M3_model()
    load_s = time.perf_counter() - start
    x = np.random.default_rng(0).normal(size=(1, 320, 320, 3)).astype(np.float32)
    model(x, training=False)  # warm-up
    predict_s = median_seconds(lambda: model(x, training=False), repeat=20)
    grad_cam(model, x, 0)
    cam_s = median_seconds(lambda: grad_cam(model, x, 0), repeat=10)
    print(f"import keras/tensorflow      {import_s:6.2f} s")
    print(f"load_C3M3_model()            {load_s:6.2f} s   (target < 10 s)")
    print(f"predict one 320x320 image    {predict_s:6.3f} s   (median of 20)")
    print(f"grad_cam one image and class {cam_s:6.3f} s   (median of 10)")
    print(f"grad_cam / predict           {cam_s / predict_s:6.1f}x")


if __name__ == "__main__":
    main()

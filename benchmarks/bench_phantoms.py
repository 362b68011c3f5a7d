"""Time to draw one chest X-ray phantom, and what it means for training and evaluation.

Run: ``.venv/bin/python benchmarks/bench_phantoms.py``. Every figure is measured
in this one run. Training draws a fresh batch of phantoms every step and the
model-card evaluation draws 2000, so drawing must stay a small share of a
training step (target: 40 ms per 320-px image on a free core).
"""

import statistics
import time

from util.config.course import LABELS
from util.data.phantoms import generate_phantom

TARGET_S = 0.040


def median_seconds(fn, seeds):
    times = []
    for seed in seeds:
        start = time.perf_counter()
        fn(seed)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    generate_phantom(0)  # warm-up (imports, caches)
    at_prevalence = median_seconds(lambda s: generate_phantom(s), range(1, 41))
    every_finding = median_seconds(lambda s: generate_phantom(s, findings=list(LABELS)), range(1, 21))
    at_224 = median_seconds(lambda s: generate_phantom(s, size=224), range(1, 41))
    print(f"320 px, findings at prevalence   {at_prevalence * 1e3:7.1f} ms  (median of 40; target {TARGET_S * 1e3:.0f} ms)")
    print(f"320 px, all 14 findings          {every_finding * 1e3:7.1f} ms  (median of 20)")
    print(f"224 px, findings at prevalence   {at_224 * 1e3:7.1f} ms  (median of 40)")
    print(f"prevalence / target              {at_prevalence / TARGET_S:7.2f}x")
    print(f"all findings / prevalence        {every_finding / at_prevalence:7.2f}x")
    print(f"320 px / 224 px                  {at_prevalence / at_224:7.2f}x  (pixels: {320**2 / 224**2:.2f}x)")


if __name__ == "__main__":
    main()

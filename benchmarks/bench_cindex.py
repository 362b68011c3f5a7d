"""How util.metrics.concordance.cindex scales, against the course's O(n²) double loop and lifelines.

Run: ``.venv/bin/python benchmarks/bench_cindex.py``. Prints ratios measured in
this one run, so machine noise affects every column alike.
"""

import time

import numpy as np
from lifelines.utils import concordance_index

from util.metrics.concordance import cindex


def cindex_double_loop(y, s):
    """The course's definition, pair by pair."""
    concordant = permissible = 0.0
    for i in range(len(y)):
        for j in range(i + 1, len(y)):
            if y[i] != y[j]:
                permissible += 1
                hi, lo = (i, j) if y[i] else (j, i)
                concordant += 1.0 if s[hi] > s[lo] else 0.5 if s[hi] == s[lo] else 0.0
    return concordant / permissible


def best_of(fn, *args, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    rng = np.random.default_rng(0)
    print(f"{'n':>8} {'cindex s':>10} {'lifelines/cindex':>17} {'double loop/cindex':>19}")
    for n in (1_000, 2_000, 4_000, 100_000, 1_000_000):
        y = rng.integers(0, 2, n)
        s = np.round(rng.random(n), 3)  # ties on purpose
        ours = best_of(cindex, y, s)
        theirs = best_of(concordance_index, y, s) / ours if n <= 100_000 else float("nan")
        loop = best_of(cindex_double_loop, y, s, repeat=1) / ours if n <= 2_000 else float("nan")
        print(f"{n:>8} {ours:>10.4f} {theirs:>17.1f} {loop:>19.0f}")
    small, large = 100_000, 1_000_000
    y1, s1 = rng.integers(0, 2, small), rng.random(small)
    y2, s2 = rng.integers(0, 2, large), rng.random(large)
    ratio = best_of(cindex, y2, s2) / best_of(cindex, y1, s1)
    print(f"\ntime(10x more rows) / time(rows) = {ratio:.1f}  (O(n log n) predicts ~12, O(n^2) 100)")


if __name__ == "__main__":
    main()

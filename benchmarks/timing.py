"""Timing helpers shared by the benchmark scripts (run as ``python benchmarks/bench_*.py``)."""

import statistics
import time


def median_seconds(fn, repeat):
    """Median wall time of ``repeat`` calls of ``fn`` (warm it up first)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)

"""Seeded random streams: one home for how the course turns a seed into a NumPy generator."""

from __future__ import annotations

import numpy as np

__all__ = ["seeded_rng"]


def seeded_rng(seed, *keys):
    """``numpy.random.default_rng(SeedSequence([seed, *keys]))``: one independent stream per use of a seed.

    ``SeedSequence`` gives the same draws on every machine and keeps the streams of different ``keys``
    statistically independent (a phantom's anatomy and its findings; a training run's batches and its
    evaluation images).
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), *keys]))

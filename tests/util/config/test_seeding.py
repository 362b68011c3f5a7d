"""util.config.seeding: a seed and its keys name one reproducible, independent NumPy stream."""

import numpy as np

from util.config.seeding import seeded_rng


def test_a_seed_and_its_keys_are_one_seed_sequence():
    expected = np.random.default_rng(np.random.SeedSequence([7, 2])).integers(0, 2**40, 5)
    np.testing.assert_array_equal(seeded_rng(7, 2).integers(0, 2**40, 5), expected)
    np.testing.assert_array_equal(seeded_rng(np.int64(7), 2).integers(0, 2**40, 5), expected)


def test_other_keys_give_other_streams():
    draws = {tuple(seeded_rng(7, *keys).integers(0, 2**40, 3)) for keys in [(), (1,), (2,), (1, 1)]}
    assert len(draws) == 4

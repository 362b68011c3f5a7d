"""util.config.checks: one exception type per kind of mistake, and messages that name the argument."""

import numpy as np
import pytest

from util.config.checks import check_int, check_number, check_seed


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3)])
def test_check_int_accepts_python_and_numpy_integers(value):
    got = check_int(value, "n", minimum=1)
    assert got == 3 and type(got) is int


@pytest.mark.parametrize("value", [True, np.bool_(False), 2.0, "2", None, [2]])
def test_a_wrong_type_is_a_type_error_naming_the_argument_and_the_type(value):
    with pytest.raises(TypeError, match=rf"n_rows must be an int \(rows\); got .*, of type {type(value).__name__}"):
        check_int(value, "n_rows", minimum=1, what="rows")


def test_a_value_out_of_range_is_a_value_error_naming_the_bound():
    with pytest.raises(ValueError, match=r"size must be an int >= 64 \(pixels\); got 63\."):
        check_int(63, "size", minimum=64, what="pixels")
    assert check_int(-5, "offset") == -5  # no bound, no error


def test_check_seed():
    assert check_seed(np.int32(7)) == 7
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        check_seed(-1)
    with pytest.raises(TypeError, match="data_seed must be an int"):
        check_seed(1.0, "data_seed")


def test_check_number():
    assert check_number(2, "t") == 2.0 and type(check_number(np.float32(0.5), "t")) is float
    assert check_number(-1.5, "shift") == -1.5
    with pytest.raises(TypeError, match=r"radius must be a number \(a fraction\); got True, of type bool"):
        check_number(True, "radius", what="a fraction")
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="radius must be a positive, finite number"):
            check_number(bad, "radius", positive=True)
    with pytest.raises(ValueError, match="shift must be a finite number"):
        check_number(float("nan"), "shift")

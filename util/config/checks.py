"""Input validators shared by the library: one exception type per kind of mistake.

A value of the wrong *type* (including ``True``/``False`` where a number is meant) raises
:class:`TypeError`; a value of the right type outside its allowed range raises
:class:`ValueError`. Every message names the argument, what it must be and what it got.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["check_int", "check_number", "check_seed"]


def check_int(value, name, *, minimum=None, what="a count"):
    """Return ``value`` as an ``int`` after checking its type and lower bound.

    Parameters
    ----------
    value : object
        The argument to check. NumPy integers count; ``bool`` does not.
    name : str
        The argument's name, used in the message.
    minimum : int, optional
        The smallest allowed value.
    what : str
        What the argument means, for the message (e.g. ``"the number of people"``).

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``value`` is not an integer, or is a bool.
    ValueError
        If ``value`` is below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int ({what}); got {value!r}, of type {type(value).__name__}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum} ({what}); got {value}.")
    return int(value)


def check_seed(seed, name="seed"):
    """Return ``seed`` as a non-negative ``int`` (see :func:`check_int`)."""
    return check_int(seed, name, minimum=0, what="a random seed")


def check_number(value, name, *, positive=False, what="a measurement"):
    """Return ``value`` as a finite ``float`` (strictly positive if ``positive``).

    Raises
    ------
    TypeError
        If ``value`` is not a real number, or is a bool.
    ValueError
        If ``value`` is not finite, or not positive when ``positive`` is set.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number ({what}); got {value!r}, of type {type(value).__name__}.")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0):
        kind = "a positive, finite number" if positive else "a finite number"
        raise ValueError(f"{name} must be {kind} ({what}); got {value!r}.")
    return value

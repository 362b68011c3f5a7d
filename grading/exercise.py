"""What a graded exercise is to the grader, and how its answers are read.

An :class:`Exercise` ties one graded test cell of a notebook (its nbgrader ``grade_id``) to

* ``draw(rng)`` — the cases, drawn in the grader's process at grading time from a seed no
  submission can see, as plain JSON data;
* ``driver`` — Python source defining ``drive(ns, case, cache)``, which runs **inside the
  sandbox** and calls the student's functions (found in the notebook namespace ``ns``) on one
  case, returning plain data (see :mod:`grading.harness`);
* ``expect(cases)`` — what the solution gives on those cases, computed in the grader's
  process (once per grading run, shared by every submission);
* ``check(cases, expected, values)`` — the verdict, in the grader's process: None when every
  case is right, else one sentence for the student. It never names a hidden case.

:func:`judge` wraps ``check``: answers that are errors, missing or malformed fail the
exercise with a message, and nothing a submission returns is trusted beyond its value.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Callable

import numpy as np

from grading.runner import Verdict

__all__ = ["DRIVER_HELPERS", "Exercise", "check_locally", "decode", "driver", "frame_spec", "judge", "spec_data"]

#: Largest array a submission may return (elements); a Grad-CAM map is 102,400.
MAX_ELEMENTS = 10_000_000


@dataclass(frozen=True)
class Exercise:
    """One graded test cell and how the grader checks it (see the module docstring)."""

    test: str
    title: str
    driver: str
    draw: Callable
    check: Callable
    expect: Callable = lambda cases: None  # noqa: E731


def decode(value, depth=0):
    """Rebuild plain data from the box: arrays and dicts as encoded by the harness.

    Raises
    ------
    ValueError
        The data is not in the harness's format (a malformed or forged answer).
    """
    if depth > 20:
        raise ValueError("value nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [decode(v, depth + 1) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__ndarray__", "shape", "data"}:
            dtype = np.dtype(value["__ndarray__"])
            if dtype.kind not in "biuf":
                raise ValueError(f"unexpected array type {dtype}")
            shape = tuple(int(n) for n in value["shape"])
            if any(n < 0 for n in shape) or int(np.prod(shape, dtype=np.int64)) > MAX_ELEMENTS:
                raise ValueError(f"array of shape {shape} is too large")
            raw = base64.b64decode(value["data"], validate=True)
            return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        if set(value) == {"__dict__"}:
            return {_key(decode(k, depth + 1)): decode(v, depth + 1) for k, v in value["__dict__"]}
    raise ValueError(f"unexpected value {str(value)[:80]!r}")


def _key(key):
    return key if isinstance(key, (str, int, float, bool)) or key is None else str(key)


def _first_line(text, limit=300):
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return line[:limit]


def _case_strings(value, found):
    if isinstance(value, str):
        if len(value) >= 5:
            found.add(value)
    elif isinstance(value, dict):
        for v in value.values():
            _case_strings(v, found)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _case_strings(v, found)
    return found


def scrub(message, cases):
    """``message`` with every string of the cases (film names, layers, ids) replaced by ``<hidden>``.

    A submission's own error message may quote its arguments; feedback must not show the cases.
    """
    for text in sorted(_case_strings(cases, set()), key=len, reverse=True):
        message = message.replace(text, "<hidden>")
    return message


def judge(exercise, cases, expected, results, problem, points):
    """The :class:`Verdict` of ``exercise`` from the box's ``results`` (or the ``problem``).

    Errors raised by the student's code are reported by their type and message (not the
    case); a check that fails reports its own sentence. Full points only if every case is
    right.
    """
    if results is None:
        return Verdict(0.0, points, f"{exercise.title}: not graded, because {problem}.")
    values = []
    for result in results:
        if not isinstance(result, dict):
            return Verdict(0.0, points, f"{exercise.title}: the notebook's answer was malformed.")
        if "error" in result:
            return Verdict(0.0, points, f"{exercise.title}: your code raised "
                                        f"{scrub(_first_line(result['error']), cases)}")
        try:
            values.append(decode(result.get("value")))
        except (ValueError, TypeError, KeyError) as err:
            return Verdict(0.0, points, f"{exercise.title}: the notebook's answer could not be read ({err}).")
    try:
        reason = exercise.check(cases, expected, values)
    except Exception as err:  # noqa: BLE001  (a value of an unexpected shape or type)
        reason = f"the values returned are not what the exercise asks for ({type(err).__name__}: {_first_line(err)})"
    if reason:
        return Verdict(0.0, points, f"{exercise.title}: {scrub(reason, cases)}")
    return Verdict(float(points), points, f"{exercise.title}: passed on {len(cases)} case(s) drawn at grading time.")


#: Helpers every driver may use inside the box (prepended to each driver's source).
DRIVER_HELPERS = '''
import numpy as _np
import pandas as _pd


def build_frame(spec):
    """A DataFrame from the grader's spec: {"index": [...], "columns": [[name, values, dtype], ...]}."""
    frame = _pd.DataFrame({name: _pd.Series(values, dtype=dtype) for name, values, dtype in spec["columns"]})
    frame.index = _pd.Index(spec["index"])
    return frame


def frame_data(frame):
    """Plain data of a returned DataFrame (or a note of what it was instead)."""
    if not isinstance(frame, _pd.DataFrame):
        return {"type": type(frame).__name__}
    return {"type": "DataFrame", "index": [str(i) for i in frame.index], "columns": [str(c) for c in frame.columns],
            "data": [[v if isinstance(v, (int, float, str, bool)) or v is None else str(v)
                      for v in frame[c].tolist()] for c in frame.columns]}
'''


def frame_spec(columns, index):
    """The spec :func:`build_frame` rebuilds: ``columns`` is a list of (name, values, dtype)."""
    return {"index": list(index), "columns": [[name, list(values), dtype] for name, values, dtype in columns]}


def spec_data(spec):
    """What :func:`frame_data` returns for the frame built from ``spec``, unchanged."""
    def plain(value, dtype):
        return float(value) if dtype.startswith("float") else int(value) if dtype.startswith("int") else value

    return {"type": "DataFrame", "index": [str(i) for i in spec["index"]],
            "columns": [str(name) for name, _, _ in spec["columns"]],
            "data": [[plain(v, dtype) for v in values] for _, values, dtype in spec["columns"]]}


def driver(source):
    """A driver's full source: :data:`DRIVER_HELPERS`, then ``source``."""
    return DRIVER_HELPERS + "\n" + source


def check_locally(exercise, namespace, cases, expected=None, points=10.0):
    """The verdict on trusted functions in ``namespace``, driven in this process (no sandbox).

    For the grader's own tests: the same driver, encoding, decoding and check as a graded run,
    on functions written in a test file. Never use it on a submission.
    """
    from grading.harness import encode

    scope = {"__name__": "driver"}
    exec(compile(exercise.driver, "<driver>", "exec"), scope)
    cache, results = {}, []
    expected = exercise.expect(cases) if expected is None else expected
    for case in cases:
        try:
            results.append({"value": encode(scope["drive"](namespace, case, cache))})
        except Exception as err:  # noqa: BLE001  (reported as the student's error, as in a graded run)
            results.append({"error": f"{type(err).__name__}: {err}"})
    return judge(exercise, cases, expected, results, None, points)

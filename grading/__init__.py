"""Grading of the course's nbgrader assignments.

* :mod:`grading.core` — what every assignment shares: the :class:`Assignment` record of its
  files, nbgrader's commands (release, autograde, feedback), sample submissions.
* one module per assignment — its hidden-test ``check_*`` functions, tolerances, sample bugs and
  reference writers: :mod:`grading.c1w1` ("Chest X-ray medical diagnosis") and
  :mod:`grading.c3w3` ("Model interpretation methods"). A source notebook's hidden tests import
  from there, e.g. ``from grading.c1w1 import check_leakage``.

Command line (``python -m grading --help``)::

    python -m grading release [C1W1 ...]     # regenerate release/<name> (all by default) = make release
    python -m grading notebook [C1W1 ...]    # re-execute source notebooks in place (stored outputs)
    python -m grading references [C3W3 ...]  # reference outputs of the assignments that store some
    python -m grading samples [C1W1 ...]     # sample submissions, from the release and the solutions
    python -m grading grade C1W1             # autograde source, release and samples; print the grades
    python -m grading check [C3W3 ...]       # exit 1 if stored references are stale
    python -m grading autograde C1W1         # instructor: grade submitted/*/C1W1 (make autograde)
"""

from __future__ import annotations

from importlib import import_module

from grading.core import (  # noqa: F401  (the package's public API)
    Assignment,
    autograde,
    autograde_collected,
    generate_release,
    grade_samples,
    make_course,
    nbgrader,
    normalize_release,
    sample_submissions,
    write_samples,
)

__all__ = [
    "ASSIGNMENT_NAMES",
    "Assignment",
    "all_assignments",
    "autograde",
    "autograde_collected",
    "generate_release",
    "get_assignment",
    "grade_samples",
    "make_course",
    "nbgrader",
    "normalize_release",
    "sample_submissions",
    "write_samples",
]

#: nbgrader assignment id -> the module holding its ``ASSIGNMENT`` record and checks.
_MODULES = {
    "C1W1": "grading.c1w1",
    "C3W3": "grading.c3w3",
}

#: The course's assignments, in course order.
ASSIGNMENT_NAMES = tuple(_MODULES)


def get_assignment(name):
    """The :class:`Assignment` record of ``name`` (e.g. ``"C1W1"``), or an :class:`Assignment` as is.

    Raises
    ------
    ValueError
        ``name`` is not one of :data:`ASSIGNMENT_NAMES`.
    """
    if isinstance(name, Assignment):
        return name
    module = _MODULES.get(str(name).upper())
    if module is None:
        raise ValueError(f"unknown assignment {name!r}; the course's assignments are {', '.join(ASSIGNMENT_NAMES)}.")
    return import_module(module).ASSIGNMENT


def all_assignments():
    """Every assignment's :class:`Assignment` record, in course order."""
    return [get_assignment(name) for name in ASSIGNMENT_NAMES]

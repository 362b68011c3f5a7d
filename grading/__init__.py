"""Grading of the course's nbgrader assignments: instructor-only, never shipped to students.

* :mod:`grading.sandbox` — the box a submission runs in (bubblewrap, limits, unprivileged user);
* :mod:`grading.harness` — the program that runs the submission's cells inside the box;
* :mod:`grading.runner` — runs one submission, cell by cell, and collects its functions' answers;
* :mod:`grading.exercise` — an exercise's cases, driver and verdict, and how answers are read;
* :mod:`grading.assignment` — an assignment's files, exercises, samples, and the box's program;
* :mod:`grading.autograde` — grades every submission into nbgrader's gradebook, writes feedback;
* :mod:`grading.cam_compare` — the Grad-CAM acceptance rule;
* :mod:`grading.core` — nbgrader's commands, releases, the solution's namespace;
* one module per assignment — :mod:`grading.c1w1`, :mod:`grading.c3w3`.

Command line: ``python -m grading --help``.
"""

from __future__ import annotations

from importlib import import_module

__all__ = ["ASSIGNMENT_NAMES", "all_assignments", "get_assignment"]

#: nbgrader assignment id -> the module holding its ``ASSIGNMENT`` record.
_MODULES = {
    "C1W1": "grading.c1w1",
    "C3W3": "grading.c3w3",
}

#: The course's assignments, in course order.
ASSIGNMENT_NAMES = tuple(_MODULES)


def get_assignment(name):
    """The :class:`~grading.assignment.Assignment` record of ``name`` (e.g. ``"C1W1"``), or the record as is.

    Raises
    ------
    ValueError
        ``name`` is not one of :data:`ASSIGNMENT_NAMES`.
    """
    from grading.assignment import Assignment

    if isinstance(name, Assignment):
        return name
    module = _MODULES.get(str(name).upper())
    if module is None:
        raise ValueError(f"unknown assignment {name!r}; the course's assignments are {', '.join(ASSIGNMENT_NAMES)}.")
    return import_module(module).ASSIGNMENT


def all_assignments():
    """Every assignment's record, in course order."""
    return [get_assignment(name) for name in ASSIGNMENT_NAMES]

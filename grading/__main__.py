"""Command line of :mod:`grading`: ``python -m grading <what> [ASSIGNMENT ...]``."""

from __future__ import annotations

import argparse
import sys

from grading import ASSIGNMENT_NAMES, all_assignments, get_assignment
from grading.core import autograde_collected, generate_release, grade_samples, write_samples
from util.paths import REPO_ROOT

_HELP = {
    "release": "regenerate release/<name> from source/<name> (nbgrader generate_assignment, normalised)",
    "notebook": "re-execute source/<name>/<name>_Assignment.ipynb in place, so its stored outputs are current",
    "references": "write autograder/<name>/references/ (only assignments that store reference outputs)",
    "samples": "write autograder/<name>/samples/ from the release and the solutions",
    "grade": "autograde source, release and samples in output/grading/<name>/ and print the grades",
    "check": "exit 1 when stored references are stale (made with other model weights)",
    "autograde": "instructor: grade submitted/<student>/<name>/ in the repository (one assignment)",
}


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m grading",
        description="Release, reference outputs, sample submissions and autograding of the course's assignments.",
        epilog="\n".join(f"{k:<11} {v}" for k, v in _HELP.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("what", choices=list(_HELP), help="what to do (see below)")
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                        help=f"assignment(s) among {', '.join(ASSIGNMENT_NAMES)}; default: all "
                             "(autograde needs exactly one)")
    return parser


def _shown(path):
    return path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        chosen = [get_assignment(name) for name in args.assignments] or all_assignments()
    except ValueError as err:
        parser.error(str(err))
    if args.what == "autograde":
        if len(args.assignments) != 1:
            parser.error(f"autograde grades one assignment: name it, e.g. `python -m grading autograde C1W1` "
                         f"(make autograde ASSIGNMENT=C1W1); choose from {', '.join(ASSIGNMENT_NAMES)}.")
        try:
            found = autograde_collected(chosen[0])
        except (FileNotFoundError, RuntimeError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(f"graded {len(found)} submission(s) of {chosen[0].name}: autograded/, feedback/, gradebook.db")
        return 0
    status = 0
    for assignment in chosen:
        if args.what == "release":
            print(f"wrote {_shown(generate_release(assignment))}")
        elif args.what == "notebook":
            from util.notebooks import execute_notebook

            seconds = execute_notebook(assignment.source_notebook)
            print(f"executed {_shown(assignment.source_notebook)} in {seconds:.0f} s")
        elif args.what == "samples":
            write_samples(assignment)
        elif args.what in ("references", "check"):
            if assignment.write_references is None:
                if args.assignments:
                    print(f"{assignment.name} stores no reference outputs (its hidden checks compute their own)")
                continue
            if args.what == "references":
                assignment.write_references()
            else:
                ok = assignment.references_current()
                print(f"{assignment.name}: references are "
                      + ("current" if ok else "stale: run `make references`"))
                status = status or (0 if ok else 1)
        elif args.what == "grade":
            table = grade_samples(assignment)
            print(f"{assignment.name} (max {table.attrs['max_score']:g}):")
            print(table.to_string())
            print(f"autograde took {table.attrs['elapsed']:.0f} s; feedback in "
                  f"output/grading/{assignment.name}/feedback/")
    return status


if __name__ == "__main__":
    sys.exit(main())

"""Command line of :mod:`grading`: ``python -m grading <what> [ASSIGNMENT ...] [options]``."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from grading import ASSIGNMENT_NAMES, all_assignments, get_assignment
from util.config.paths import REPO_ROOT

_HELP = {
    "release": "regenerate release/<name> from source/<name> (nbgrader generate_assignment, normalised)",
    "notebook": "re-execute source/<name>/<name>_Assignment.ipynb in place, so its stored outputs are current",
    "samples": "write the sample submissions (correct, wrong, attacks) to --out (default output/samples/<name>)",
    "grade": "grade the sample submissions in output/grading/<name>/ and compare with their expected points",
    "autograde": "instructor: grade submitted/<student>/<name>/ in the course root (make autograde)",
    "demo": "make demo's grading part: check that release/ is what source/ gives (writing nothing in the "
            "repository), then `grade C3W3` in output/grading/",
}


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m grading",
        description="Release, sample submissions and sandboxed autograding of the course's assignments.",
        epilog="\n".join(f"{k:<10} {v}" for k, v in _HELP.items()) + (
            "\n\nautograde exits 0 when every submission has a grade (a student's crash is a grade), 1 when there\n"
            "is nothing to grade, 2 when the sandbox or the cluster cannot be used, 3 when the grader could not\n"
            "grade some submission (a grader fault: re-run to grade it), 4 when a submission folder holds no notebook\n"
            "of the assignment's name (the others are graded; put it there and re-run), 130 when interrupted."),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("what", choices=list(_HELP), help="what to do (see below)")
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                        help=f"assignment(s) among {', '.join(ASSIGNMENT_NAMES)}; default: all "
                             "(autograde and grade need exactly one)")
    parser.add_argument("--root", type=Path, default=REPO_ROOT,
                        help="course root for autograde (default: this repository)")
    parser.add_argument("--out", type=Path, help="folder for `samples`")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    parser.add_argument("--cell-seconds", type=float, default=300.0, help="wall-clock limit of one cell")
    parser.add_argument("--submission-seconds", type=float, default=1800.0,
                        help="wall-clock limit of one submission")
    parser.add_argument("--memory-gb", type=float, default=6.0, help="address-space limit of the box, GiB")
    parser.add_argument("--allow-unsandboxed", action="store_true",
                        help="grade without the sandbox where it cannot start (every report says so)")
    parser.add_argument("--no-feedback", action="store_true", help="skip nbgrader generate_feedback")
    grade = parser.add_argument_group("autograde only")
    grade.add_argument("--scheduler", metavar="ADDRESS",
                       help="grade on this Dask cluster (e.g. tcp://host:8786; needs pip install .[cluster]) "
                            "instead of --jobs threads here (make autograde SCHEDULER=...)")
    grade.add_argument("--db-url", metavar="URL",
                       help="the gradebook, e.g. postgresql://grader@dbhost/medxai (default: CourseDirectory.db_url "
                            "of nbgrader_config.py, else gradebook.db in the course root; make autograde DB_URL=...)")
    grade.add_argument("--force", action="store_true",
                       help="grade again the submissions already graded from the same notebook by this grader version")
    grade.add_argument("--student", action="append", metavar="ID",
                       help="grade only this student (repeat for more)")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar (the per-submission lines stay)")
    return parser


def _shown(path):
    path = Path(path)
    return path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path


def _limits(args):
    from grading.sandbox import Limits

    return Limits(cell_seconds=args.cell_seconds, submission_seconds=args.submission_seconds,
                  memory_bytes=int(args.memory_gb * 1024 ** 3))


def release_differences(assignment, generated):
    """The files in which ``release/<name>`` differs from ``generated`` (a fresh release of the source)."""
    import filecmp

    committed = assignment.release_dir

    def files(folder):
        return {p.relative_to(folder) for p in Path(folder).rglob("*") if p.is_file()}

    have, want = files(committed), files(generated)
    return sorted(str(rel) for rel in have ^ want) + sorted(
        str(rel) for rel in have & want if not filecmp.cmp(committed / rel, Path(generated) / rel, shallow=False))


def stale_releases():
    """``name -> differing files`` of each release/<name> that is not what `make release` makes of source/<name>,
    found by generating the releases in a temporary course root (the repository is left as it is)."""
    import tempfile

    from grading.core import generate_release, make_course

    stale = {}
    with tempfile.TemporaryDirectory(prefix="medxai-release-") as tmp:
        for assignment in all_assignments():
            root = make_course(Path(tmp) / assignment.name, assignment)
            differences = release_differences(assignment, generate_release(assignment, root))
            if differences:
                stale[assignment.name] = differences
    return stale


def write_samples(assignment, out):
    """Write ``out/<student>/<name>/<notebook>``: the correct submission, each sample, the bare release."""
    import nbformat

    from grading.assignment import sample_notebook

    notebooks = {"correct": sample_notebook(assignment),
                 "release": nbformat.read(assignment.release_notebook, as_version=4)}
    notebooks.update({s.student: sample_notebook(assignment, s) for s in assignment.samples})
    for student, nb in notebooks.items():
        path = Path(out) / student / assignment.name / assignment.notebook_name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
    return notebooks


def expected_points(assignment, student):
    """Points per test cell the sample ``student`` must get ("correct": all, "release": none)."""
    points = assignment.points()
    if student == "correct":
        return points
    if student == "release":
        return {test: 0.0 for test in points}
    return assignment.expected_points(assignment.sample(student))


def grade_samples(assignment, root=None, jobs=1, limits=None, feedback=True, progress=print):
    """Grade the samples in a fresh course root; return the run and the students whose points differ."""
    from grading.autograde import autograde, clean
    from grading.core import GRADING_DIR, make_course
    from grading.sandbox import Limits

    root = Path(root) if root is not None else GRADING_DIR / assignment.name
    clean(root)
    shutil.rmtree(root / "submitted", ignore_errors=True)
    make_course(root, assignment)
    write_samples(assignment, root / "submitted")
    run = autograde(assignment, root, jobs=jobs, limits=limits or Limits(), feedback=feedback, progress=progress)
    wrong = {}
    for student, report in run.reports.items():
        got = {test: v.score for test, v in report.verdicts.items()}
        want = expected_points(assignment, student)
        if got != want:
            wrong[student] = (got, want)
    return run, wrong


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        chosen = [get_assignment(name) for name in args.assignments] or all_assignments()
    except ValueError as err:
        parser.error(str(err))
    if args.what in ("autograde", "grade") and len(args.assignments) != 1:
        parser.error(f"{args.what} takes one assignment: name it, e.g. `python -m grading {args.what} C1W1` "
                     f"(make autograde ASSIGNMENT=C1W1); choose from {', '.join(ASSIGNMENT_NAMES)}.")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1; got {args.jobs}.")
    if args.what == "autograde":
        return _autograde(chosen[0], args)
    if args.what == "demo":
        chosen = [get_assignment("C3W3")]
        stale = stale_releases()
        for name, files in stale.items():
            print(f"error: release/{name} is not what source/{name} gives ({', '.join(files)} differ): run "
                  "`make release` first, so that the samples are graded against the current release.", file=sys.stderr)
        if stale:
            return 1
        print(f"release/ is what source/ gives ({', '.join(ASSIGNMENT_NAMES)}).")
    status = 0
    for assignment in chosen:
        if args.what == "release":
            from grading.core import generate_release

            print(f"wrote {_shown(generate_release(assignment))}")
        elif args.what == "notebook":
            from training.notebooks import execute_notebook

            seconds = execute_notebook(assignment.source_notebook)
            print(f"executed {_shown(assignment.source_notebook)} in {seconds:.0f} s")
        elif args.what == "samples":
            out = args.out or REPO_ROOT / "output" / "samples" / assignment.name
            for student in write_samples(assignment, out):
                print(f"wrote {_shown(Path(out) / student / assignment.name / assignment.notebook_name)}")
        elif args.what in ("grade", "demo"):
            print(f"Grading the sample submissions of {assignment.name} in the sandbox...")
            run, wrong = grade_samples(assignment, jobs=args.jobs, limits=_limits(args),
                                       feedback=not args.no_feedback)
            print(run.summary())
            for student, (got, want) in sorted(wrong.items()):
                print(f"UNEXPECTED: {student} got {got}, expected {want}", file=sys.stderr)
            status = status or (1 if wrong else 0)
    return status


def _autograde(assignment, args):
    from grading.autograde import autograde
    from grading.sandbox import SandboxUnavailable

    try:
        run = autograde(assignment, args.root, students=args.student, jobs=args.jobs, limits=_limits(args),
                        allow_unsandboxed=args.allow_unsandboxed, feedback=not args.no_feedback, progress=print,
                        scheduler=args.scheduler, db_url=args.db_url, force=args.force,
                        bar=False if args.no_progress else None)
    except SandboxUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted: every submission graded so far is recorded (gradebook, grading-logs/{assignment.name}/); "
              "the ones in flight are not. Run the same command again to grade the rest.", file=sys.stderr)
        return 130
    except RuntimeError as err:
        from grading.cluster import ClusterUnavailable  # imports no Dask

        if isinstance(err, ClusterUnavailable):
            print(f"error: {err}", file=sys.stderr)
            return 2
        raise
    print(run.summary())
    logs = Path(args.root) / "grading-logs" / assignment.name
    print(f"scores: {run.db_url}; table: {_shown(run.csv_path)}; feedback: {_shown(Path(args.root) / 'feedback')}/; "
          f"logs: {_shown(logs)}/")
    return 3 if run.faults else 4 if run.without_notebook else 0


if __name__ == "__main__":
    sys.exit(main())

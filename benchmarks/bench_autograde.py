"""Time of one nbgrader autograde per assignment, against the five-minute budget of the issues.

Run: ``.venv/bin/python benchmarks/bench_autograde.py [C1W1 C3W3]``. For each assignment the source
notebook (full marks, every cell runs) is autograded once through nbgrader in a temporary course
root; the script prints the seconds and their ratio to the 300 s budget, measured in this run.
"""

import sys
import tempfile
import time

import grading

BUDGET_S = 300  # issues 4 and 6: one autograde within five minutes on the CI machine


def main(names):
    for name in names or grading.ASSIGNMENT_NAMES:
        assignment = grading.get_assignment(name)
        with tempfile.TemporaryDirectory() as root:
            start = time.perf_counter()
            table = grading.grade_samples(assignment, root=root, feedback=False, students=["source"])
            wall = time.perf_counter() - start
        seconds = float(table.loc["source", "seconds"])
        print(f"{name}: source notebook autograded in {seconds:.0f} s ({wall:.0f} s with course set-up), "
              f"{seconds / BUDGET_S:.2f} of the {BUDGET_S} s budget; score {table.loc['source', 'total']:g}")


if __name__ == "__main__":
    main(sys.argv[1:])

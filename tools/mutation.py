"""The suite's own strength: plant deliberate bugs and check that the tests meant to catch them fail.

Run: ``make mutation`` (``.venv/bin/python tools/mutation.py [--only SUBSTRING] [--list]``). Not part
of ``make test``: each bug costs a run of the test files named beside it (about 2 minutes in all on
two cores, after one run of all of them on the unchanged tree).

Each mutant replaces one exact snippet of a tracked file (it must occur exactly once) in a
throw-away ``git worktree`` of HEAD, whose ``data/chestxray`` is the repository's own generated
data (a symbolic link, read only by the tests); the repository itself is never touched. A mutant is
*caught* when its tests fail; the command exits 1 if any is missed, naming it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    """One deliberate bug: in ``path``, ``old`` becomes ``new``; ``tests`` should then fail."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple


MUTANTS = (
    Mutant("cindex counts the ranks of the non-events (a flipped sign)", "util/metrics/concordance.py",
           "u = ranks[y].sum() - n_pos", "u = ranks[~y].sum() - n_pos", ("tests/util/metrics/test_concordance.py",)),
    Mutant("the library's Grad-CAM drops the ReLU", "util/explain/gradcam.py",
           "return normalize(resize_to_input(relu(raw), H, W))",
           "return normalize(resize_to_input(np.asarray(raw, dtype=np.float32), H, W))",
           ("tests/util/explain/test_gradcam.py",)),
    Mutant("the fast Grad-CAM pairs each class with another class's gradient", "util/explain/gradcam.py",
           "weights = np.stack([g.mean(axis=(1, 2)) for g in grads], axis=1)",
           "weights = np.stack([g.mean(axis=(1, 2)) for g in grads[::-1]], axis=1)",
           ("tests/util/explain/test_gradcam.py",)),
    Mutant("two labels swapped", "util/config/course.py",
           '    "Cardiomegaly",\n    "Emphysema",', '    "Emphysema",\n    "Cardiomegaly",',
           ("tests/util/config/test_course.py",)),
    Mutant("BatchNorm recalibration skipped (statistics never updated)", "util/models/densenet.py",
           "model(x, training=True)  # eager call", "model(x, training=False)  # eager call",
           ("tests/util/models/test_densenet.py",)),
    Mutant("an off-by-one in the split planner shares a patient between splits", "util/data/chestxray.py",
           "start += len(sizes[name])", "start += len(sizes[name]) - 1", ("tests/util/data/test_chestxray.py",)),
    Mutant("the grader accepts maps ten times less correlated", "grading/cam_compare.py",
           "CORRELATION_MIN = 0.9999", "CORRELATION_MIN = 0.999", ("tests/grading/test_cam_compare.py",)),
    Mutant("the grader counts a check that crashes as passed", "grading/exercise.py",
           "reason = f\"the values returned are not what the exercise asks for",
           "reason = None and f\"the values returned are not what the exercise asks for",
           ("tests/grading/test_grading_exercise.py",)),
)


def _worktree(tmp):
    """A detached worktree of HEAD under ``tmp`` with the generated data linked in."""
    tree = Path(tmp) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(tree), "HEAD"], cwd=REPO, check=True)
    data = REPO / "data" / "chestxray"
    if data.is_dir():
        (tree / "data" / "chestxray").symlink_to(data, target_is_directory=True)
    return tree


def _run_tests(tree, tests):
    """Exit status and output tail of pytest on ``tests`` in ``tree`` (its own code first on sys.path)."""
    env = dict(os.environ, PYTHONPATH=str(tree), TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0")
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=--strict-markers",
           *tests]
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    return proc.returncode, (proc.stdout + proc.stderr).strip().splitlines()[-1:]


def mutate(tree, mutant):
    """Apply ``mutant`` in ``tree``; raise ValueError if its snippet is not there exactly once."""
    path = tree / mutant.path
    text = path.read_text(encoding="utf-8")
    if text.count(mutant.old) != 1:
        raise ValueError(f"{mutant.name}: {mutant.path} holds {text.count(mutant.old)} copies of the snippet "
                         f"{mutant.old!r}; update tools/mutation.py to the code as it is now.")
    path.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="run the mutants whose name contains this text")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if args.only in m.name]
    if args.list or not chosen:
        for m in MUTANTS:
            print(f"{m.name}  ({m.path}; {' '.join(m.tests)})")
        return 0 if chosen or args.list else 1
    missed = []
    with tempfile.TemporaryDirectory(prefix="medxai-mutation-") as tmp:
        tree = _worktree(tmp)
        try:
            status, tail = _run_tests(tree, sorted({t for m in chosen for t in m.tests}))
            if status != 0:
                print(f"the unmutated tree fails its own tests ({tail}); fix that first", file=sys.stderr)
                return 2
            for m in chosen:
                start = time.monotonic()
                mutate(tree, m)
                status, tail = _run_tests(tree, m.tests)
                subprocess.run(["git", "checkout", "--quiet", "--", m.path], cwd=tree, check=True)
                verdict = "caught" if status != 0 else "MISSED"
                if status == 0:
                    missed.append(m.name)
                print(f"{verdict:7} {time.monotonic() - start:6.0f} s  {m.name}  [{' '.join(m.tests)}: "
                      f"{tail[0] if tail else ''}]", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, check=False)
            shutil.rmtree(tree, ignore_errors=True)
    print(f"\n{len(chosen) - len(missed)} of {len(chosen)} deliberate bugs caught")
    for name in missed:
        print(f"MISSED: {name}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Grading a class: serial ``nbgrader autograde`` against the sandboxed grader with ``JOBS=2``, one run.

Run: ``.venv/bin/python benchmarks/bench_grading_scale.py [--n 6] [--jobs 2]``. It writes ``N`` C1W1
submissions (correct, wrong and crashing ones, cycling through :data:`KINDS`) into two temporary course
roots and grades them

* **serial nbgrader**: ``nbgrader autograde C1W1 --create --force``: one Jupyter kernel per submission,
  every cell, one submission after another (what nbgrader does);
* **sandboxed, JOBS=2**: ``grading.autograde.autograde(jobs=2)`` (``make autograde JOBS=2``): each
  submission in its own bubblewrap box, two at once, cells up to the last graded one.

``nbgrader generate_assignment`` runs first in both roots and is not timed; neither path generates
feedback. For each path it prints the wall-clock seconds per submission, the CPU seconds per submission
(every process the path started, sampled from ``/proc`` every 0.1 s) and the peak memory of its
largest process (``VmHWM``), then the ratio of the two wall-clock times (the issue asks for at least
1.6x on 2 cores), and a projection for 1000 and 10 000 students on k machines, from the CPU seconds
and peak memory per submission measured here. All numbers come from this run on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

from grading import c1w1
from grading.assignment import sample_notebook
from grading.core import make_course, nbgrader

A = c1w1.ASSIGNMENT
#: The submissions, in turn: correct, wrong (a check fails), crashing (the kernel dies).
KINDS = ("correct", "row_indices", "segfault", "correct", "no_epsilon", "exit_process")
CLASS = {"correct": "correct", "row_indices": "wrong", "no_epsilon": "wrong", "segfault": "crashing",
         "exit_process": "crashing"}
#: Sampling interval of /proc, seconds.
SAMPLE_SECONDS = 0.1

#: The sandboxed grader as ``make autograde JOBS=n`` runs it, minus generate_assignment (done before).
SANDBOXED = """
import json, sys
from grading import get_assignment
from grading.autograde import autograde
run = autograde(get_assignment("C1W1"), sys.argv[1], jobs=int(sys.argv[2]), feedback=False, register=False)
print(json.dumps({s: sum(v.score for v in r.verdicts.values()) for s, r in run.reports.items()}))
"""


def _course(root, n):
    root = make_course(Path(root), A)
    kinds = {}
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        student = f"s{i:03d}_{kind}"
        folder = root / "submitted" / student / A.name
        folder.mkdir(parents=True)
        nb = sample_notebook(A) if kind == "correct" else sample_notebook(A, A.sample(kind))
        nbformat.write(nb, folder / A.notebook_name)
        kinds[student] = kind
    nbgrader("generate_assignment", A.name, "--force", root=root)
    return root, kinds


def _stat(pid):
    """``(ppid, cpu seconds)`` of ``pid`` from /proc, or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks


def _hwm_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measured(cmd, cwd):
    """Run ``cmd``; return wall seconds, CPU seconds and peak RSS (MiB) of it and every descendant, its output."""
    cpu, peak, stop = {}, {}, threading.Event()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sample():
        while not stop.is_set():
            family = {proc.pid}
            stats = {}
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    got = _stat(int(entry.name))
                    if got:
                        stats[int(entry.name)] = got
            grew = True
            while grew:  # the descendants of proc (children may appear in any order)
                grew = False
                for pid, (ppid, _) in stats.items():
                    if ppid in family and pid not in family:
                        family.add(pid)
                        grew = True
            for pid in family:
                if pid in stats:
                    cpu[pid] = max(cpu.get(pid, 0.0), stats[pid][1])
                    peak[pid] = max(peak.get(pid, 0), _hwm_kib(pid))
            stop.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    start = time.perf_counter()
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    return {"wall": wall, "cpu": sum(cpu.values()), "peak_mib": max(peak.values(), default=0) / 1024,
            "rc": proc.returncode, "stdout": out, "stderr": err}


def _line(name, m, n):
    return (f"  {name:<22} {m['wall'] / n:6.1f} s/submission wall, {m['cpu'] / n:6.1f} CPU s/submission, "
            f"peak {m['peak_mib']:6.0f} MiB (largest process)")


def _hours(seconds):
    return f"{seconds / 3600:7.1f} h" if seconds >= 3600 else f"{seconds / 60:7.1f} min"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6, help="submissions (default 6)")
    parser.add_argument("--jobs", type=int, default=2, help="JOBS of the sandboxed grader (default 2)")
    parser.add_argument("--machines", type=int, nargs="+", default=[1, 4, 16], help="k of the projection")
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    n = args.n
    with tempfile.TemporaryDirectory(prefix="bench-nbgrader-") as a, \
            tempfile.TemporaryDirectory(prefix="bench-sandbox-") as b:
        root_a, kinds = _course(a, n)
        root_b, _ = _course(b, n)
        env_root = Path(__file__).resolve().parents[1]
        before = measured([sys.executable, "-m", "nbgrader", "autograde", A.name, "--create", "--force",
                           f"--CourseDirectory.root={root_a}"], cwd=root_a)
        after = measured([sys.executable, "-c", SANDBOXED, str(root_b), str(args.jobs)], cwd=env_root)
    if after["rc"] != 0:
        sys.exit(f"the sandboxed grader failed:\n{after['stderr'][-3000:]}")
    totals = json.loads(after["stdout"].strip().splitlines()[-1])
    from grading.__main__ import expected_points

    wrong = {s: t for s, t in totals.items() if t != sum(expected_points(A, kinds[s]).values())}
    classes = [CLASS[k] for k in kinds.values()]
    print(f"C1W1, {n} submissions ({classes.count('correct')} correct, {classes.count('wrong')} wrong, "
          f"{classes.count('crashing')} crashing) on {cores} cores:")
    print(_line("nbgrader autograde", before, n) + ("" if before["rc"] == 0 else f"  (nbgrader exit status "
                                                                                  f"{before['rc']})"))
    print(_line(f"sandboxed, JOBS={args.jobs}", after, n))
    print(f"  ratio: the sandboxed grader with JOBS={args.jobs} is {before['wall'] / after['wall']:.2f}x as fast as "
          f"serial nbgrader autograde (wall clock); nbgrader used {before['cpu'] / max(after['cpu'], 1e-9):.2f}x "
          "its CPU time")
    if wrong:
        print(f"  WARNING: the sandboxed grader gave unexpected totals: {wrong}")

    # Projection: CPU-bound, from this run's CPU seconds per submission; a box per core at most, and no more
    # boxes than memory holds at this run's peak per process.
    per_sub = after["cpu"] / n
    wall_per_sub = after["wall"] / n  # on this machine, JOBS=args.jobs
    print(f"projection (from this run: {per_sub:.1f} CPU s and {after['peak_mib']:.0f} MiB peak per submission; "
          f"{wall_per_sub:.1f} s of wall clock per submission on this {cores}-core machine with JOBS={args.jobs}):")
    print(f"  {'students':>8}  {'serial nbgrader':>16}  " + "  ".join(
        f"{f'{k} x this machine':>18}" for k in args.machines) + "  " + "  ".join(
        f"{f'{k} x 16 cores/64 GiB':>20}" for k in args.machines))
    boxes_16 = min(16, int(64 * 1024 * 0.8 // max(after["peak_mib"], 1)))
    for students in (1000, 10_000):
        serial = students * before["wall"] / n
        here = [students * wall_per_sub / k for k in args.machines]
        big = [students * per_sub / (boxes_16 * k) for k in args.machines]
        print(f"  {students:>8}  {_hours(serial):>16}  " + "  ".join(f"{_hours(s):>18}" for s in here) + "  "
              + "  ".join(f"{_hours(s):>20}" for s in big))
    print(f"  (16-core machines: {boxes_16} boxes at once each, CPU-bound; the gradebook and the client add little: "
          "one commit per submission)")


if __name__ == "__main__":
    main()

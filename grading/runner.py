"""Run one submission in the sandbox, cell by cell, and collect what its functions return.

The grader never executes a submission's code itself and never reads a verdict from it.
:func:`run_submission` starts :mod:`grading.harness` in the box (:mod:`grading.sandbox`),
sends it the notebook's cells one at a time, and at each graded test cell asks it to call
the student's functions on the cases the grader drew (:class:`Call`). What comes back is
data; the ``judge`` callback turns it into a verdict in the grader's own process at once, so
a crash later in the notebook cannot take away the points of the tests before it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from grading import sandbox
from grading.sandbox import Limits, WORKDIR

__all__ = ["Call", "Cell", "RunReport", "Verdict", "box_environment", "run_submission"]

#: Longest answer line the grader reads from the box (a few Grad-CAM maps are ~5 MB).
MAX_ANSWER_BYTES = 64 * 1024 ** 2
#: How much unexpected data on the answer channel ends the run.
MAX_JUNK_BYTES = 64 * 1024 ** 2
#: How much of the box's stdout/stderr a report keeps (the end of each).
LOG_TAIL_BYTES = 4000


@dataclass(frozen=True)
class Cell:
    """A code cell to run: its nbgrader ``grade_id`` (or ``cell-<n>``) and its source."""

    name: str
    code: str


@dataclass(frozen=True)
class Call:
    """A graded test cell: call the student's functions through ``driver`` on ``cases``.

    ``driver`` is Python source defining ``drive(ns, case)``, run inside the box; ``cases``
    are plain JSON data drawn by the grader at grading time.
    """

    test: str
    driver: str
    cases: list


@dataclass(frozen=True)
class Verdict:
    """The grade of one test cell: ``score`` out of ``max_score`` and why, for the student."""

    score: float
    max_score: float
    message: str

    @property
    def passed(self):
        return self.score >= self.max_score


@dataclass
class RunReport:
    """What happened to one submission in the box."""

    verdicts: dict = field(default_factory=dict)
    cells: list = field(default_factory=list)      # (name, ok, error or None, seconds)
    ended: str = "finished"                          # finished | crashed | timed out | flooded
    detail: str = ""
    seconds: float = 0.0
    stdout_tail: str = ""
    stderr_tail: str = ""
    isolated: bool = True
    box_uid: int = -1                                # the uid the box's code ran as
    box_name: str = ""                               # the box's private folder (and cgroup) name


def box_environment(threads=1):
    """Environment variables of the box: quiet TensorFlow, ``threads`` per library, no display."""
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": WORKDIR, "TMPDIR": "/tmp", "LANG": "C.UTF-8", "USER": "student", "LOGNAME": "student",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/matplotlib", "KERAS_HOME": "/tmp/keras",
        "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1", "NBGRADER_EXECUTION": "autograde",
        "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
        "TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": str(min(2, threads)),
    }
    for name in ("MEDXAI_DATA_DIR", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


class _Channel:
    """The grader's end of the two pipes: requests out, answers in, with deadlines."""

    def __init__(self, proc, req_w, ans_r):
        self.proc, self.req_w, self.ans_r = proc, req_w, ans_r
        os.set_blocking(req_w, False)
        os.set_blocking(ans_r, False)
        self.buffer = b""
        self.junk = 0

    def send(self, message, deadline):
        data = memoryview((json.dumps(message) + "\n").encode())
        while data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            _, writable, _ = select.select([], [self.req_w], [], min(remaining, 0.5))
            if writable:
                try:
                    data = data[os.write(self.req_w, data):]
                except (BrokenPipeError, BlockingIOError):
                    if self.proc.poll() is not None:
                        raise EOFError from None
            elif self.proc.poll() is not None:
                raise EOFError

    def receive(self, op, seq, deadline):
        """The answer to request ``seq``; anything else on the channel is dropped as junk."""
        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                try:
                    message = json.loads(line)
                except ValueError:
                    message = None
                if isinstance(message, dict) and message.get("op") == op and message.get("seq") == seq:
                    return message
                self.junk += len(line) + 1
            if len(self.buffer) > MAX_ANSWER_BYTES or self.junk > MAX_JUNK_BYTES:
                raise OverflowError
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            readable, _, _ = select.select([self.ans_r], [], [], min(remaining, 0.5))
            if readable:
                chunk = os.read(self.ans_r, 1 << 20)
                if chunk:
                    self.buffer += chunk
                    continue
                raise EOFError
            if self.proc.poll() is not None:
                # the harness is gone; drain what it wrote before it went
                try:
                    chunk = os.read(self.ans_r, 1 << 20)
                except BlockingIOError:
                    chunk = b""
                if chunk:
                    self.buffer += chunk
                    continue
                raise EOFError


def _tail(path):
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - LOG_TAIL_BYTES))
            return fh.read().decode(errors="replace")
    except OSError:
        return ""


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=30)
    except Exception:  # noqa: BLE001
        pass


def _describe_exit(proc):
    code = proc.poll()
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def run_submission(program, judge, files=(), limits=Limits(), isolated=True, threads=1, keep_dir=None):
    """Run ``program`` (a list of :class:`Cell` and :class:`Call`) in a fresh box.

    Parameters
    ----------
    program : list
        The notebook's cells in order, with a :class:`Call` in place of each graded test cell.
    judge : callable
        ``judge(call, results, problem) -> Verdict``: ``results`` is the list of per-case answers
        (``{"value": ...}`` or ``{"error": ...}``), or None when the box did not answer, in which
        case ``problem`` says why. Runs in the grader's process.
    files : iterable of (name, bytes)
        Files placed in the box's working directory first (e.g. the release's public_tests.py).
    limits : Limits
    isolated : bool, default True
        False runs without bubblewrap (only the limits apply); every report says so.
    threads : int
        Threads each numerical library may use in the box.
    keep_dir : path, optional
        Copy the box's stdout and stderr files here (``stdout.txt``, ``stderr.txt``).

    Returns
    -------
    RunReport
    """
    report = RunReport(isolated=isolated)
    start = time.monotonic()
    end_by = start + limits.submission_seconds
    harness = (Path(__file__).with_name("harness.py")).read_text()
    workdir = Path(tempfile.mkdtemp(prefix="medxai-box-"))
    identity = sandbox.box_identity() if isolated else contextlib.nullcontext((os.getuid(), os.getgid()))
    uid, gid = identity.__enter__()
    report.box_uid = uid
    report.box_name = workdir.name
    req_r, req_w = os.pipe()
    ans_r, ans_w = os.pipe()
    proc = None
    pending = [step for step in program if isinstance(step, Call)]
    try:
        for name, data in files:
            (workdir / name).write_bytes(data)
        os.chown(workdir, uid, gid)
        os.chmod(workdir, 0o700)
        for path in workdir.iterdir():
            os.chown(path, uid, gid)
        out_path, err_path = workdir.parent / (workdir.name + ".out"), workdir.parent / (workdir.name + ".err")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            command = [sys.executable, "-c", harness, str(req_r), str(ans_w)]
            proc = sandbox.start(workdir, command, limits, box_environment(threads), pass_fds=(req_r, ans_w),
                                 stdout=out, stderr=err, isolated=isolated, box_id=uid)
        os.close(req_r)
        os.close(ans_w)
        req_r = ans_w = None
        channel = _Channel(proc, req_w, ans_r)
        problem = None
        for step in program:
            seq = secrets.token_hex(16)
            step_start = time.monotonic()
            deadline = min(step_start + limits.cell_seconds, end_by)
            try:
                if isinstance(step, Cell):
                    channel.send({"op": "cell", "seq": seq, "code": step.code}, deadline)
                    answer = channel.receive("cell", seq, deadline)
                    report.cells.append((step.name, bool(answer.get("ok")), answer.get("error"),
                                         round(time.monotonic() - step_start, 2)))
                else:
                    channel.send({"op": "call", "seq": seq, "driver": step.driver, "cases": step.cases}, deadline)
                    answer = channel.receive("call", seq, deadline)
                    results = answer.get("results")
                    if not isinstance(results, list) or len(results) != len(step.cases):
                        results = None
                    pending.remove(step)
                    report.verdicts[step.test] = judge(step, results, None if results is not None else
                                                       "the notebook's answer was malformed")
            except TimeoutError:
                whole = time.monotonic() >= end_by
                report.ended = "timed out"
                problem = (f"the notebook ran past its time limit of {limits.submission_seconds:g} s" if whole else
                           f"cell {step.name if isinstance(step, Cell) else step.test} ran past the time limit "
                           f"of {limits.cell_seconds:g} s")
            except OverflowError:
                report.ended = "flooded"
                problem = "the notebook wrote too much to the grader's channel"
            except EOFError:
                try:
                    proc.wait(timeout=5)
                except Exception:  # noqa: BLE001  (still running: killed below)
                    pass
                report.ended = "crashed"
                where = step.name if isinstance(step, Cell) else step.test
                problem = f"the notebook's process ended ({_describe_exit(proc)}) while running {where}"
            if problem:
                report.detail = problem
                if isinstance(step, Cell):
                    report.cells.append((step.name, False, problem, round(time.monotonic() - step_start, 2)))
                break
        else:
            try:
                channel.send({"op": "exit", "seq": ""}, time.monotonic() + 5)
            except (TimeoutError, EOFError):
                pass
        for step in pending:
            report.verdicts[step.test] = judge(step, None, problem or "the notebook did not reach this test")
    finally:
        if proc is not None:
            _kill(proc)
            sandbox.release(proc)
        for fd in (req_r, req_w, ans_r, ans_w):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        report.seconds = round(time.monotonic() - start, 2)
        if proc is not None:
            report.stdout_tail, report.stderr_tail = _tail(out_path), _tail(err_path)
            if keep_dir is not None:
                keep = Path(keep_dir)
                keep.mkdir(parents=True, exist_ok=True)
                for src, name in ((out_path, "stdout.txt"), (err_path, "stderr.txt")):
                    with open(src, "rb") as fh:
                        (keep / name).write_bytes(fh.read(sandbox.Limits().file_bytes))
            out_path.unlink(missing_ok=True)
            err_path.unlink(missing_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)
        identity.__exit__(None, None, None)
    return report

"""The grading sandbox and runner on small programs (no TensorFlow): isolation, limits, crashes, channel."""

from __future__ import annotations

import json
import os
import time

import pytest

from grading import sandbox
from grading.exercise import decode, judge, Exercise
from grading.runner import Call, Cell, Verdict, run_submission
from grading.sandbox import Limits, SandboxUnavailable
from util.config.paths import REPO_ROOT

SHORT = Limits(cell_seconds=10, submission_seconds=30, memory_bytes=2 * 1024 ** 3, processes=64,
               file_bytes=1024 ** 2)
ECHO = "def drive(ns, case, cache):\n    return ns['answer'](case)\n"


def run(cells, calls=None, limits=SHORT, **kwargs):
    """Run ``cells`` (name -> code) then one Call of ``answer`` on [1, 2]; return (report, judged)."""
    judged = {}

    def judge_fn(call, results, problem):
        judged[call.test] = (results, problem)
        return Verdict(10.0 if results and all("value" in r for r in results) else 0.0, 10.0, problem or "")

    program = [Cell(name, code) for name, code in cells.items()]
    program += calls if calls is not None else [Call("t", ECHO, [1, 2])]
    return run_submission(program, judge_fn, limits=limits, **kwargs), judged


@pytest.fixture(scope="module", autouse=True)
def sandbox_works():
    problem = sandbox.isolation_problem()
    assert problem is None, f"the grading sandbox does not start on this machine: {problem}"


def test_the_box_sees_the_environment_and_the_student_library_but_not_the_instructor_tree():
    probe = (f"import os, json\n"
             f"seen = {{p: os.path.exists(p) for p in {[str(REPO_ROOT / p) for p in ('util', 'data', 'grading', 'source', 'autograder', 'tests', '.git')]!r}}}\n"
             "print('SEEN', json.dumps(seen))\n"
             "answer = lambda x: x * 2\n")
    report, judged = run({"probe": probe}, keep_dir=None)
    assert report.ended == "finished", report.detail
    seen = json.loads(report.stdout_tail.split("SEEN ", 1)[1].splitlines()[0])
    visible = {os.path.basename(p) for p, ok in seen.items() if ok}
    assert visible == {"util", "data"}, seen
    assert [r["value"] for r in judged["t"][0]] == [2, 4]


def test_no_network_read_only_library_private_writable_home_unprivileged_user():
    probe = ("import os, socket\n"
             "try:\n    socket.create_connection(('1.1.1.1', 80), timeout=2); print('NET open')\n"
             "except OSError as e: print('NET closed', e.errno)\n"
             f"try:\n    open({str(REPO_ROOT / 'util' / 'x.py')!r}, 'w'); print('LIB writable')\n"
             "except OSError as e: print('LIB read-only', e.errno)\n"
             "open('notes.txt', 'w').write('mine'); print('HOME', open('notes.txt').read(), os.getcwd())\n"
             "print('UID', os.getuid())\n"
             "answer = lambda x: x\n")
    report, _ = run({"probe": probe})
    out = report.stdout_tail
    assert "NET closed" in out and "LIB read-only" in out and "HOME mine /home/student" in out, out
    if os.geteuid() == 0:
        uid = int(out.split("UID ", 1)[1].split()[0])
        assert sandbox.FIRST_BOX_ID <= uid < sandbox.FIRST_BOX_ID + sandbox.BOX_IDS, out
    assert not (REPO_ROOT / "util" / "x.py").exists()


def test_a_crash_keeps_the_points_before_it_and_fails_those_after():
    cells = {"define": "answer = lambda x: x", "crash": "import os\nos._exit(7)"}
    program = [Cell("define", cells["define"]), Call("before", ECHO, [1]), Cell("crash", cells["crash"]),
               Call("after", ECHO, [1])]
    report, judged = run({}, calls=program)
    assert report.ended == "crashed" and "exit status 7" in report.detail
    assert report.verdicts["before"].score == 10 and report.verdicts["after"].score == 0
    assert judged["after"][0] is None and "exit status 7" in judged["after"][1]


def test_a_cell_past_its_time_limit_is_stopped_and_the_rest_fails():
    limits = Limits(cell_seconds=2, submission_seconds=30, processes=64)
    report, judged = run({"define": "answer = lambda x: x", "loop": "while True:\n    pass"}, limits=limits)
    assert report.ended == "timed out" and "time limit of 2 s" in report.detail
    assert report.seconds < 15
    assert report.verdicts["t"].score == 0


def test_the_process_limit_stops_a_fork_bomb_and_the_box_dies_with_it():
    limits = Limits(cell_seconds=4, submission_seconds=30, processes=64)
    bomb = "import os\nwhile True:\n    os.fork()"
    report, _ = run({"define": "answer = lambda x: x", "bomb": bomb}, limits=limits)
    # the harness's own fork fails at the limit (the cell errors) or the bomb runs to the cell's limit
    assert report.ended in ("finished", "timed out") and report.seconds < 20
    assert report.verdicts["t"].score == (10 if report.ended == "finished" else 0)
    time.sleep(1)
    left = [p for p in os.listdir("/proc") if p.isdigit() and _uid_of(p) == report.box_uid]
    assert not left, f"processes of the box still running: {left}"


def test_memory_and_output_limits():
    report, judged = run({"big": "try:\n    b = bytearray(8 * 1024 ** 3)\nexcept MemoryError:\n    print('MEM refused')",
                          "define": "answer = lambda x: x"})
    assert "MEM refused" in report.stdout_tail and report.verdicts["t"].score == 10
    report, _ = run({"define": "answer = lambda x: x",
                     "flood": "import sys\nsys.stdout.write('x' * (4 * 1024 ** 2))\nsys.stdout.flush()"})
    assert report.ended == "crashed"


def test_forged_and_junk_answers_are_ignored():
    forge = ("import json, os\n"
             "for fd in range(3, 40):\n"
             "    try:\n"
             "        os.write(fd, b'not json\\n')\n"
             "        os.write(fd, (json.dumps({'op': 'call', 'seq': 'guess', 'results': [{'value': 99}]}) + '\\n').encode())\n"
             "    except OSError:\n        pass\n"
             "answer = lambda x: -x\n")
    report, judged = run({"forge": forge})
    assert report.ended == "finished", report.detail
    assert [r["value"] for r in judged["t"][0]] == [-1, -2]


def test_processes_the_submission_forks_never_answer_for_it():
    cells = {"define": "answer = lambda x: x", "fork": "import os\nchildren = [os.fork() for _ in range(3)]"}
    report, judged = run(cells)
    assert report.ended == "finished", report.detail
    assert [r["value"] for r in judged["t"][0]] == [1, 2]


def _uid_of(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("Uid:"))
    except (OSError, StopIteration):
        return None


def test_boxes_running_side_by_side_get_their_own_uid():
    with sandbox.box_identity() as first, sandbox.box_identity() as second:
        assert first != second
    with sandbox.box_identity() as again:
        assert again == first


def test_a_fork_bomb_in_one_box_does_not_starve_a_box_beside_it():
    import threading

    limits = Limits(cell_seconds=6, submission_seconds=30, processes=64)
    bomb = threading.Thread(target=run, args=({"define": "answer = lambda x: x",
                                               "bomb": "import os\nwhile True:\n    os.fork()"},),
                            kwargs={"limits": limits})
    bomb.start()
    time.sleep(2)
    threads = "import threading\nts = [threading.Thread(target=lambda: None) for _ in range(40)]\n" \
              "[t.start() for t in ts]\n[t.join() for t in ts]\nanswer = lambda x: x + 1"
    report, judged = run({"threads": threads}, limits=limits)
    bomb.join()
    assert report.ended == "finished", report.detail
    assert [r["value"] for r in judged["t"][0]] == [2, 3]


@pytest.mark.skipif(os.geteuid() != 0, reason="cgroups are made by a root grader only")
def test_the_box_s_processes_together_stay_within_its_memory():
    """Four processes of 600 MB each, in a box of 1 GiB: each is within the address-space limit, together
    they are not; the box's cgroup kills some of them (the out-of-memory killer), the grader goes on."""
    limits = Limits(cell_seconds=20, submission_seconds=40, memory_bytes=1024 ** 3, processes=64)
    hog = ("import os\n"
           "children = []\n"
           "for _ in range(4):\n"
           "    pid = os.fork()\n"
           "    if pid == 0:\n"
           "        block = bytearray(600 * 1024 ** 2)\n"
           "        for i in range(0, len(block), 4096):\n"
           "            block[i] = 1\n"
           "        os._exit(0)\n"
           "    children.append(pid)\n"
           "print('KILLED', sum(os.WEXITSTATUS(s) != 0 or os.WIFSIGNALED(s) for s in\n"
           "      [os.waitpid(pid, 0)[1] for pid in children]))\n"
           "answer = lambda x: x\n")
    report, judged = run({"hog": hog}, limits=limits)
    killed = int(report.stdout_tail.split("KILLED ", 1)[1].split()[0]) if "KILLED" in report.stdout_tail else None
    # without the cgroup all four finish (2.4 GB on a 24 GB machine); with it, at most one fits
    assert report.ended == "crashed" or (killed is not None and killed >= 2), (report.ended, report.stdout_tail)
    assert not (sandbox.CGROUP_ROOT / "memory" / "medxai-grading" / report.box_name).exists()


def test_limits_reject_nonsense():
    with pytest.raises(ValueError, match="cell_seconds"):
        Limits(cell_seconds=0)
    with pytest.raises(ValueError, match="processes"):
        Limits(processes=True)


def test_the_grader_refuses_without_a_sandbox(monkeypatch, tmp_path):
    from grading import autograde, get_assignment

    monkeypatch.setattr(sandbox, "isolation_problem", lambda: "user namespaces are disabled")
    with pytest.raises(SandboxUnavailable, match="user namespaces are disabled.*--allow-unsandboxed"):
        autograde.autograde(get_assignment("C1W1"), tmp_path)


# --------------------------------------------------------------------------- reading answers
def test_decode_reads_arrays_and_dicts_and_refuses_anything_else():
    import base64

    import numpy as np

    raw = {"__ndarray__": "<f8", "shape": [2], "data": base64.b64encode(np.array([1.5, 2.5]).tobytes()).decode()}
    assert decode(raw).tolist() == [1.5, 2.5]
    assert decode({"__dict__": [["a", 1]]}) == {"a": 1}
    for bad in ({"__ndarray__": "|O", "shape": [1], "data": ""}, {"__ndarray__": "<f8", "shape": [10 ** 9], "data": ""},
                {"__reduce__": "os.system"}, {"__ndarray__": "<f8", "shape": [2], "data": "!!"}):
        with pytest.raises(ValueError):
            decode(bad)


def test_judge_reports_errors_and_failures_without_cases():
    exercise = Exercise("t", "Exercise 9 (f)", "", lambda rng: [], lambda cases, exp, values: None if values == [1]
                        else "wrong value")
    assert judge(exercise, [{"secret": "film-17"}], None, [{"value": 1}], None, 10).score == 10
    failed = judge(exercise, [{"secret": "film-17"}], None, [{"value": 2}], None, 10)
    assert failed.score == 0 and failed.message == "Exercise 9 (f): wrong value"
    raised = judge(exercise, [{"secret": "film-17"}], None, [{"error": "ValueError: nope\ntrace"}], None, 10)
    assert raised.message == "Exercise 9 (f): your code raised ValueError: nope"
    quoting = judge(exercise, [{"secret": "film-17"}], None, [{"error": "ValueError: no file film-17"}], None, 10)
    assert quoting.message == "Exercise 9 (f): your code raised ValueError: no file <hidden>"
    missing = judge(exercise, [{}], None, None, "the notebook's process ended (exit status 3)", 10)
    assert missing.score == 0 and "exit status 3" in missing.message
    assert all("film-17" not in v.message for v in (failed, raised, missing, quoting))

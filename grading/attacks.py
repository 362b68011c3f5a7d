"""Attack code for the sample submissions: what a student might run to get points without solving.

Each constant is the source of a notebook cell (some are ``str.format`` templates: ``{name}``
is the graded function, ``{args}`` its parameters). The assignments' modules put them into
:class:`~grading.assignment.Sample` submissions with the points each must get; ``make test``
grades them all (tests/test_attacks.py). Every attack that looks for something prints what it
found, so the tests can read from the box's log that it found nothing.
"""

from __future__ import annotations

from util.config.paths import REPO_ROOT

__all__ = [
    "ATTACK_ALWAYS_EQUAL",
    "ATTACK_FORGE_CHANNEL",
    "ATTACK_FORK_BOMB",
    "ATTACK_LIBRARY",
    "ATTACK_NOISY",
    "ATTACK_PATCH_CHECKS",
    "ATTACK_READ_SECRETS",
    "ATTACK_WRITE_EVERYWHERE",
    "SECRET_PATHS",
]

#: Where the grader's secrets and records live on the instructor's machine (the box must see none).
SECRET_PATHS = tuple(str(REPO_ROOT / p) for p in (
    "grading/c1w1.py", "grading/c3w3.py", "grading/__init__.py", "autograder", "source/C1W1/C1W1_Assignment.ipynb",
    "source/C3W3/C3W3_Assignment.ipynb", "gradebook.db", "autograded", "submitted", "feedback", "grading-logs",
    "output/grading", "nbgrader_config.py", ".git",
))

#: Switch off every check the kernel can reach: the visible tests, NumPy's and pandas' testing
#: functions and comparisons, a few builtins, and the old in-kernel hidden checkers.
ATTACK_PATCH_CHECKS = '''
import builtins
import sys
import numpy as np
import pandas as pd

def _pass(*args, **kwargs):
    print("All tests passed.")

def _true(*args, **kwargs):
    return True

for _test in [{visible}]:
    globals()[_test.__name__] = _pass
for _name in dir(np.testing):
    if _name.startswith("assert"):
        setattr(np.testing, _name, _pass)
for _name in dir(pd.testing):
    if _name.startswith("assert"):
        setattr(pd.testing, _name, _pass)
np.allclose = np.isclose = np.array_equal = np.array_equiv = _true
builtins.abs = lambda x: 0
builtins.round = lambda x, *args: 0
for _module in ("grading", "grading.c1w1", "grading.c3w3", "util.grading", "util.grading.c1w1", "util.grading.c3w3"):
    try:
        __import__(_module)
        print("imported", _module)
    except Exception:
        sys.modules[_module] = type(sys)(_module)
'''

#: Write fake answers to every descriptor the process has, and patch the JSON encoder.
ATTACK_FORGE_CHANNEL = '''
import json
import os

_fake = {"op": "call", "seq": "0", "results": [{"value": True}], "score": 10, "passed": True}
for _fd in range(3, 64):
    try:
        os.write(_fd, (json.dumps(_fake) + "\\n").encode())
        os.write(_fd, (json.dumps(dict(_fake, op="cell", ok=True)) + "\\n").encode())
    except OSError:
        pass
json.dumps = lambda *args, **kwargs: json.JSONEncoder().encode(_fake)
print("forged the channel")
'''

#: Try to change the instructor's files, the gradebook and other submissions.
ATTACK_WRITE_EVERYWHERE = f'''
import glob
import os

_written = []
for _pattern in {[*SECRET_PATHS, str(REPO_ROOT / "util" / "__init__.py"), str(REPO_ROOT / "data" / "models" / "*"),
                  "/tmp/*/gradebook.db", "/tmp/*/submitted/*/*/*.ipynb", "../*/*.ipynb"]!r}:
    for _path in glob.glob(_pattern) or [_pattern]:
        try:
            with open(_path, "a") as _fh:
                _fh.write("graded 100/100")
            _written.append(_path)
        except OSError:
            pass
print("wrote into", _written or "nothing")
'''

#: A graded function that returns an object equal to everything.
ATTACK_ALWAYS_EQUAL = '''
class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __bool__(self):
        return True

    def __lt__(self, other):
        return True

    __le__ = __gt__ = __ge__ = __lt__
    __hash__ = object.__hash__


def {name}({args}):
    return AlwaysEqual()
'''

#: A graded function that first looks for the grader's files (cases, references, hidden tests).
ATTACK_READ_SECRETS = f'''
import glob
import os

def _grader_secrets():
    found = []
    for pattern in {[*SECRET_PATHS, "/tmp/*/gradebook.db", "/tmp/*/autograded/*/*/*.ipynb", "/proc/1/environ",
                     "/proc/*/cmdline"]!r}:
        for path in glob.glob(pattern):
            try:
                with open(path, "rb") as fh:
                    data = fh.read(1 << 20)
            except OSError:
                continue
            if path.startswith("/proc/") and not any(secret in data for secret in (
                    b"gradebook.db", b"/autograder", b"/source/", b"BEGIN SOLUTION", b"HIDDEN TESTS")):
                continue  # a process's command line or environment that holds none of the grader's files
            found.append(path)
    return found

print("secrets found:", _grader_secrets() or "none")

def {{name}}({{args}}):
    _grader_secrets()
    return {{answer}}
'''

#: A graded function that is the library's own implementation, if the library had one.
ATTACK_LIBRARY = '''
import importlib

{name} = None
for _module in {modules!r}:
    try:
        {name} = getattr(importlib.import_module(_module), "{name}")
        print("found {name} in", _module)
        break
    except (ImportError, AttributeError):
        pass
'''

#: A correct submission that is noisy: warnings and prints on stderr, a network connection attempt.
ATTACK_NOISY = '''
import socket
import sys
import warnings

print("a warning a student left in", file=sys.stderr)
warnings.warn("deprecated call left in the notebook", stacklevel=1)
try:
    socket.create_connection(("1.1.1.1", 80), timeout=2)
    print("network: reachable")
except OSError as err:
    print("network: unreachable", err)
try:
    socket.create_connection(("127.0.0.1", 8786), timeout=2)
    print("loopback: reachable")
except OSError as err:
    print("loopback: unreachable", err)
'''

#: Fork until the process limit stops it.
ATTACK_FORK_BOMB = '''
import os

while True:
    os.fork()
'''

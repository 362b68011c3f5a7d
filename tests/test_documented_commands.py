"""Every ``python -m <module>`` the documents tell a reader to run names a module that exists, and every
``util.…``/``training.…``/``grading.…`` dotted name they mention in backticks resolves (a renamed or moved
module fails here, not in a reader's terminal)."""

import importlib
import importlib.util
import re

import pytest

from util.config.paths import REPO_ROOT

DOCUMENTS = sorted([REPO_ROOT / "README.md", *REPO_ROOT.glob("data/models/*.md"), *REPO_ROOT.glob("autograder/*/*.md"),
                    *REPO_ROOT.glob("notebooks/*.ipynb"), *REPO_ROOT.glob("source/*/*.ipynb")])
PACKAGES = ("util", "training", "grading")
#: Names that are not this repository's: the original course's library, which the texts compare with.
NOT_OURS = {"util.grad_cam": "the original C1W1 notebook's util.grad_cam (resize first), not this library"}
#: A file name such as ``grading.json`` is not a dotted name.
FILE_SUFFIXES = ("json", "csv", "md", "py", "txt", "ipynb", "h5", "db", "html", "zip")


def commands():
    found = set()
    for path in DOCUMENTS:
        for module in re.findall(r"python -m ([A-Za-z_][\w.]*)", path.read_text()):
            if module != "venv":
                found.add((path.relative_to(REPO_ROOT).as_posix(), module))
    return sorted(found)


def dotted_names():
    found = set()
    pattern = re.compile(rf"`((?:{'|'.join(PACKAGES)})(?:\.\w+)+)")
    for path in DOCUMENTS:
        for name in pattern.findall(path.read_text()):
            if name not in NOT_OURS and name.rpartition(".")[2] not in FILE_SUFFIXES:
                found.add((path.relative_to(REPO_ROOT).as_posix(), name))
    return sorted(found)


def resolves(name):
    """Import the longest module prefix of ``name``, then look the rest up as attributes."""
    parts = name.split(".")
    obj, cut = None, 0
    for cut in range(1, len(parts) + 1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            cut -= 1
            break
    for attribute in parts[cut:]:
        if not hasattr(obj, attribute):
            return False
        obj = getattr(obj, attribute)
    return obj is not None


def test_the_documents_are_read():
    assert len(DOCUMENTS) >= 8 and len(commands()) >= 6 and len(dotted_names()) >= 20


@pytest.mark.parametrize("where, module", commands())
def test_every_python_m_command_names_a_module(where, module):
    assert importlib.util.find_spec(module) is not None, f"{where}: python -m {module}: no such module"


@pytest.mark.parametrize("where, name", dotted_names())
def test_every_dotted_name_resolves(where, name):
    assert resolves(name), f"{where}: `{name}` names nothing"


def test_a_moved_name_is_caught():
    assert not resolves("util.cam.grad_cam") and not resolves("util.metrics.nope")
    assert resolves("util.explain.gradcam.grad_cam") and resolves("util.config.course.CAM_LAYER")

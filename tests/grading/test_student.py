"""Everything a student receives holds no solution, hidden check, case list, reference or sample.

What a student receives, all scanned here:

* what ``nbgrader release_assignment`` puts in the exchange, for every assignment (released here
  from a temporary course root into its own ``exchange/``, the course's default);
* the student bundle of ``make student`` (:mod:`grading.student`), as a folder and as a zip;
* the student library ``util/`` of this repository.

Nothing in them may hold: a line of solution code (a non-trivial line between ``### BEGIN
SOLUTION`` and ``### END SOLUTION`` of a source notebook that the release does not have anyway),
nbgrader's hidden-test or solution markers, an import of the grading (or training) package, a file
of ``autograder/`` or ``source/`` (by content), a path named like the grader's folders or its
sample submissions, the names of the grading package's modules and public functions, or a stored
output. The student library defines no callable named like a graded exercise.

The names collected from :mod:`grading` are read from the package itself, so the scan follows it
as it changes.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import os
import pkgutil
import re
import subprocess
import sys
import tomllib
import zipfile
from importlib import import_module
from pathlib import Path

import pytest

import grading
from grading.core import make_course, nbgrader
from grading.student import build

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENTS = grading.all_assignments()

#: The graded exercises, by the names students implement.
GRADED_EXERCISES = {
    "check_for_leakage", "compute_class_freqs", "get_weighted_loss",  # C1W1
    "grad_cam", "compute_gradcam", "permute_feature", "permutation_importance",  # C3W3
}
#: Parts of names that give an exercise's helper away (C1W1's loss and class frequencies).
ANSWER_NAME_PARTS = ("weighted_loss", "class_freq")
#: ``(module, name)`` of util callables named like an exercise that are allowed, and why. Keep it
#: empty where possible: each entry must be unable to answer the exercise it is named like.
RESTRICTED_NAMESAKES = {
    ("util.explain.gradcam", "grad_cam"): "explains only the layer the classification head reads (a ValueError for any "
                              "other layer); C3W3's grad_cam takes any layer (tests/util/explain/test_gradcam.py checks this)",
}

#: Solution lines shorter than this are too generic to tell anything (``return cam``, ``import numpy``).
MIN_SOLUTION_LINE = 20

#: Path components no received file may have: the instructor's and maintainer's trees.
FORBIDDEN_PARTS = {"source", "autograder", "grading", "training", "tests", "submitted", "autograded",
                   "feedback", "gradebook.db", "references", "samples"}

_IMPORT_OF_GRADER = re.compile(
    r"^\s*(from\s+(grading|training)(\.|\s)|import\s+(grading|training)\b)"
    r"|(import_module|__import__)\(\s*['\"](grading|training)\b"
)


# ----------------------------------------------------------------------------- what students receive
@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """``make student`` into a temporary folder (and its zip)."""
    return build(tmp_path_factory.mktemp("dist") / "student", zip_path=True)


@pytest.fixture(scope="module")
def exchange(tmp_path_factory):
    """A temporary course root with every assignment generated and released to its default exchange."""
    root = tmp_path_factory.mktemp("course")
    saved = os.environ.pop("MEDXAI_EXCHANGE", None)  # the course's default: <course root>/exchange
    try:
        for assignment in ASSIGNMENTS:
            make_course(root, assignment)
            nbgrader("generate_assignment", assignment.name, "--force", "--no-db", root=root)
            nbgrader("release_assignment", assignment.name, "--force", root=root)
    finally:
        if saved is not None:
            os.environ["MEDXAI_EXCHANGE"] = saved
    return root / "exchange"


def _tree(folder):
    junk = ("__pycache__", ".ipynb_checkpoints")
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(Path(folder).rglob("*"))
            if p.is_file() and not any(j in p.parts for j in junk)}


@pytest.fixture(scope="module")
def received(bundle, exchange):
    """``"<where>:<path>" -> bytes`` of every file a student receives."""
    files = {}
    for rel, data in _tree(exchange).items():
        files[f"exchange:{rel}"] = data
    for rel, data in _tree(bundle["folder"]).items():
        files[f"bundle:{rel}"] = data
    with zipfile.ZipFile(bundle["zip"]) as zf:
        for name in zf.namelist():
            files[f"zip:{name}"] = zf.read(name)
    for rel, data in _tree(REPO / "util").items():
        files[f"util:{rel}"] = data
    return files


def _lines(name, data):
    """The text lines of a received file (a notebook's cell sources and outputs); None if binary."""
    if name.endswith(".ipynb"):
        nb = json.loads(data)
        lines = []
        for cell in nb["cells"]:
            lines += "".join(cell["source"]).splitlines()
            for out in cell.get("outputs", []):
                lines += "".join(out.get("text", "")).splitlines()
                for value in out.get("data", {}).values():
                    lines += ("".join(value) if isinstance(value, list) else str(value)).splitlines()
        return lines
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None


@pytest.fixture(scope="module")
def received_text(received):
    return {name: lines for name, data in received.items() if (lines := _lines(name, data)) is not None}


# ----------------------------------------------------------------------------- what the instructor keeps
def _cell_sources(path):
    return ["".join(c["source"]) for c in json.loads(Path(path).read_text(encoding="utf-8"))["cells"]]


def _solution_lines(assignment):
    """Non-trivial lines of the source notebook's solution blocks that its release does not show anyway."""
    solution, inside = set(), False
    for source in _cell_sources(assignment.source_notebook):
        for line in source.splitlines():
            stripped = line.strip()
            if stripped in ("### BEGIN SOLUTION", "### END SOLUTION"):
                inside = stripped == "### BEGIN SOLUTION"
            elif inside and len(stripped) >= MIN_SOLUTION_LINE:
                solution.add(stripped)
    released = set()
    for path in assignment.release_dir.iterdir():
        lines = _lines(path.name, path.read_bytes()) if path.is_file() else None
        released |= {line.strip() for line in lines or []}
    return solution - released


def _digest(data):
    return hashlib.sha256(data).hexdigest()


def _grader_callables():
    """``name -> module`` of the public callables each assignment's grading module (``grading.c1w1``...) defines."""
    names = {}
    for assignment in ASSIGNMENTS:
        module = import_module(f"grading.{assignment.name.lower()}")
        for name, obj in vars(module).items():
            if not name.startswith("_") and callable(obj) and getattr(obj, "__module__", None) == module.__name__:
                names[name] = module.__name__
    return names


def _sample_names():
    """The ids of the sample submissions: folders of autograder/*/samples/ and the assignments' records."""
    names = {p.name for p in (REPO / "autograder").glob("*/samples/*") if p.is_dir()}
    for assignment in ASSIGNMENTS:
        samples = getattr(assignment, "samples", ()) or ()
        names |= {getattr(s, "student", s) for s in samples if isinstance(getattr(s, "student", s), str)}
    return names


def _util_parameter_names():
    """Every parameter name of a function in util/: ordinary identifiers, not references to the grader."""
    names = set()
    for path in (REPO / "util").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.arg):
                names.add(node.arg)
    return names


# ----------------------------------------------------------------------------- the trees are what they should be
def test_exchange_releases_only_the_notebook_and_its_visible_tests(exchange):
    course = "medxai-course"
    for assignment in ASSIGNMENTS:
        outbound = exchange / course / "outbound" / assignment.name
        assert sorted(p.name for p in outbound.iterdir()) == sorted([assignment.notebook_name, "public_tests.py"])
    assert sorted(p.name for p in (exchange / course / "outbound").iterdir()) == sorted(a.name for a in ASSIGNMENTS)


def test_bundle_holds_the_student_tree_only(bundle):
    files = bundle["files"]
    top = {f.split("/")[0] for f in files}
    assert top == {"README.md", "LICENSE", "pyproject.toml", "constraints.txt", "nbgrader_config.py",
                   "release", "notebooks", "util", "data"}
    lectures = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    assert sorted(f.split("/")[1] for f in files if f.startswith("notebooks/")) == lectures
    for assignment in ASSIGNMENTS:
        assert {f"release/{assignment.name}/{assignment.notebook_name}",
                f"release/{assignment.name}/public_tests.py"} <= set(files)
        release = bundle["folder"] / "release" / assignment.name
        assert (release / assignment.notebook_name).read_bytes() == assignment.release_notebook.read_bytes()
    assert {f.split("/")[1] for f in files if f.startswith("data/")} == {"models", "manifests"}
    assert {f for f in files if f.endswith(".weights.h5")} == {
        f"data/models/{p.name}" for p in (REPO / "data" / "models").glob("*.weights.h5")}
    assert {f"util/{p.relative_to(REPO / 'util').as_posix()}" for p in (REPO / "util").rglob("*.py")
            if "__pycache__" not in p.parts} == {f for f in files if f.startswith("util/")}
    with zipfile.ZipFile(bundle["zip"]) as zf:
        assert sorted(zf.namelist()) == sorted(f"student/{f}" for f in files)


def test_bundle_pyproject_installs_util_only(bundle):
    from setuptools import find_packages

    project = tomllib.loads((bundle["folder"] / "pyproject.toml").read_text())
    course = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["util*"]
    assert sorted(find_packages(str(bundle["folder"]), include=["util*"])) == [
        "util", "util.config", "util.data", "util.explain", "util.metrics", "util.models"]
    deps = project["project"]["dependencies"]
    assert set(deps) <= set(course["dependencies"]) and not any(d.startswith("bubblewrap") for d in deps)
    assert any(d.startswith("nbgrader==") for d in deps)  # Validate, fetch and submit


def test_bundle_runs_on_its_own(bundle, tmp_path):
    """util imported from the bundle, outside the repository, finds the bundle's weights and data folder."""
    folder = bundle["folder"]
    code = (
        "import json, util, util.config.paths, util.models.densenet, training.fundus\n"
        "print(json.dumps({'util': util.__file__, 'root': str(util.config.paths.REPO_ROOT),\n"
        "  'data': str(util.config.paths.data_dir()), 'weights': str(util.models.densenet.WEIGHTS_FILE),\n"
        "  'fundus': str(util.models.fundus_cnn.WEIGHTS_FILE), 'exists': util.models.densenet.WEIGHTS_FILE.is_file()\n"
        "    and util.models.fundus_cnn.WEIGHTS_FILE.is_file(),\n"
        "  'loader': callable(util.load_C3M3_model) and callable(util.load_fundus_model)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MEDXAI_DATA_DIR", "PYTHONPATH")}
    env["PYTHONPATH"] = str(folder)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert Path(found["util"]).parent == folder / "util"
    assert Path(found["root"]) == folder and Path(found["data"]) == folder / "data"
    assert Path(found["weights"]).is_relative_to(folder / "data" / "models")
    assert Path(found["fundus"]).is_relative_to(folder / "data" / "models")
    assert found["exists"] and found["loader"]


def test_exchange_is_the_course_folder_unless_medxai_exchange_says_otherwise(tmp_path):
    code = (
        "import runpy, sys\n"
        "from traitlets.config import Config\n"
        "c = Config()\n"
        "runpy.run_path(sys.argv[1], init_globals={'get_config': lambda: c})\n"
        "print(c.Exchange.root); print(c.CourseDirectory.include)\n"
    )
    config = REPO / "nbgrader_config.py"
    env = {k: v for k, v in os.environ.items() if k != "MEDXAI_EXCHANGE"}
    default = subprocess.run([sys.executable, "-c", code, str(config)], env=env, capture_output=True,
                             text=True, timeout=60, cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert default.stdout.splitlines()[0] == str(REPO / "exchange")
    assert "public_tests.py" in default.stdout.splitlines()[1]
    env["MEDXAI_EXCHANGE"] = str(tmp_path / "shared")
    other = subprocess.run([sys.executable, "-c", code, str(config)], env=env, capture_output=True,
                           text=True, timeout=60, cwd=tmp_path)
    assert other.stdout.splitlines()[0] == str(tmp_path / "shared")


# ----------------------------------------------------------------------------- nothing of the grader's
def test_no_solution_code(received_text):
    found = []
    for assignment in ASSIGNMENTS:
        solution = _solution_lines(assignment)
        assert solution, f"no solution lines found in {assignment.source_notebook}"
        for name, lines in received_text.items():
            leaked = solution & {line.strip() for line in lines}
            found += [f"{name}: {line}" for line in sorted(leaked)]
    assert not found, "solution code a student receives:\n" + "\n".join(found)


def test_no_hidden_tests_markers_or_grader_imports(received_text):
    markers = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "### BEGIN SOLUTION", "### END SOLUTION")
    found = []
    for name, lines in received_text.items():
        for i, line in enumerate(lines, 1):
            if any(m in line for m in markers) or _IMPORT_OF_GRADER.search(line):
                found.append(f"{name}:{i}: {line.strip()}")
    assert not found, "\n".join(found)


def test_no_grader_names(received_text):
    modules = {f"grading.{info.name}" for info in pkgutil.iter_modules(grading.__path__)}
    callables = _grader_callables()
    assert callables, "the grading modules' public functions were not found"
    generic = _util_parameter_names()  # e.g. image_dir: a parameter name of util, not the grader's
    names = (set(callables) - generic) | modules
    pattern = re.compile(r"(?<![\w.])(" + "|".join(sorted(map(re.escape, names))) + r")\b")
    found = [f"{name}:{i}: {line.strip()}" for name, lines in received_text.items()
             for i, line in enumerate(lines, 1) if pattern.search(line)]
    assert not found, "\n".join(found)


def test_no_grader_files_or_folders(received):
    grader = {_digest(p.read_bytes()): p for p in (REPO / "autograder").rglob("*") if p.is_file()}
    # source/<A>/: the notebooks, and any file that is not released by design (public_tests.py is)
    instructor = {_digest(p.read_bytes()): p for p in (REPO / "source").rglob("*") if p.is_file()
                  and (p.suffix == ".ipynb" or not (REPO / "release" / p.relative_to(REPO / "source")).is_file())}
    samples = _sample_names()
    assert samples, "no sample submissions found (autograder/*/samples/ or the assignments' records)"
    found = []
    for name, data in received.items():
        digest = _digest(data)
        if digest in grader or digest in instructor:
            found.append(f"{name} is {(grader.get(digest) or instructor.get(digest)).relative_to(REPO)}")
        parts = set(name.split(":", 1)[1].split("/"))
        if parts & (FORBIDDEN_PARTS | samples):
            found.append(f"{name} lies in {sorted(parts & (FORBIDDEN_PARTS | samples))}")
    assert not found, "\n".join(found)


def test_no_stored_outputs_in_received_assignment_notebooks(received):
    """Assignment notebooks arrive without outputs (the source's outputs would show the solution's);
    the lecture notebooks are meant to be read with theirs."""
    found = [name for name, data in received.items() if name.endswith(".ipynb") and "notebooks/" not in name
             and any(c.get("outputs") for c in json.loads(data)["cells"])]
    assert not found, f"notebooks with stored outputs (the source's reference outputs): {found}"


# ----------------------------------------------------------------------------- the student library answers nothing
def _util_defined_names():
    """``(module, name, "path:line")`` of every function, class and module-level name util defines or imports."""
    found = []
    for path in sorted((REPO / "util").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(REPO).as_posix()
        module = where[: -len(".py")].replace("/", ".").removesuffix(".__init__")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.append((module, node.name, f"{where}:{node.lineno}"))
        for node in tree.body:
            targets = []
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                targets = [t.id for t in targets if isinstance(t, ast.Name)]
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                targets = [(a.asname or a.name).split(".")[0] for a in node.names]
            found += [(module, name, f"{where}:{node.lineno}") for name in targets]
    return found


def _answer_like(name):
    bare = name.lstrip("_").lower()
    return bare in GRADED_EXERCISES or any(part in bare for part in ANSWER_NAME_PARTS)


def test_util_defines_no_callable_named_like_a_graded_exercise():
    found = [f"{where}: {name}" for module, name, where in _util_defined_names()
             if _answer_like(name) and (module, name) not in RESTRICTED_NAMESAKES]
    assert not found, "util defines what is named like a graded exercise:\n" + "\n".join(found)


def test_util_exports_no_answer():
    import util

    exported = set(util.__all__) | set(getattr(util, "_EXPORTS", {}))
    assert not {name for name in exported if _answer_like(name)}
    for module_name, module in _util_modules():
        public = getattr(module, "__all__", [n for n in vars(module) if not n.startswith("_")])
        answers = [n for n in public if _answer_like(n) and callable(getattr(module, n, None))
                   and (module_name, n) not in RESTRICTED_NAMESAKES]
        assert not answers, f"{module_name} exports {answers}"


def _util_modules():
    """util's modules that import without TensorFlow or data (their source is checked by the AST test)."""
    out = []
    for path in sorted((REPO / "util").rglob("*.py")):
        name = path.relative_to(REPO).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__")
        if not re.search(r"^(import|from) (keras|tensorflow)\b", path.read_text(), re.M):
            out.append((name, import_module(name)))
    assert len(out) >= 20, [name for name, _ in out]  # the subpackages' modules are all there
    return out


def test_the_maintainer_keeps_the_training_loss():
    """C1W1's exercises, solved, live in training.losses (outside util), and util does not import them."""
    from training import losses

    assert {"compute_class_freqs", "get_weighted_loss"} <= set(losses.__all__)
    assert inspect.getsourcefile(losses.get_weighted_loss).startswith(str(REPO / "training"))
    for path in (REPO / "util").rglob("*.py"):
        assert not any(_IMPORT_OF_GRADER.search(line) for line in path.read_text().splitlines()), path


def test_the_scans_find_what_they_look_for():
    """Positive control: the instructor's own files trip every scan a student's files pass."""
    for assignment in ASSIGNMENTS:
        source = {line.strip() for line in _lines("x.ipynb", assignment.source_notebook.read_bytes())}
        assert _solution_lines(assignment) <= source
    grader_source = "\n".join(Path(import_module(m).__file__).read_text() for m in set(_grader_callables().values()))
    assert all(re.search(rf"\b{re.escape(name)}\b", grader_source) for name in _grader_callables())
    assert _IMPORT_OF_GRADER.search("from grading.c3w3 import check_grad_cam")
    assert _IMPORT_OF_GRADER.search("    import training.losses as L")
    assert not _IMPORT_OF_GRADER.search("pred = model(x, training=False)  # from grading time")
    assert _answer_like("get_weighted_loss") and _answer_like("_class_freqs") and not _answer_like("grad_cam_for_grade")

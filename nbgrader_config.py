"""nbgrader configuration of medxai-course (nbgrader 0.9).

The course root is this repository: ``source/<assignment>/`` holds the
instructor's notebooks, ``release/<assignment>/`` the student versions
(``make release``), and ``submitted/``, ``autograded/``, ``feedback/`` and
``gradebook.db`` appear here when an instructor grades (they are git-ignored).
The tests grade in a temporary copy instead: they pass
``--CourseDirectory.root=<tmp>``, which overrides the root set here.

Students receive assignments through nbgrader's exchange: a folder the course
owns, ``exchange/`` in the course root (git-ignored; ``nbgrader release_assignment``
creates it), or the folder named by the environment variable ``MEDXAI_EXCHANGE``
(e.g. a shared ``/srv/nbgrader/exchange`` on a multi-user machine). Only an
assignment's notebook and ``public_tests.py`` are released, submitted and collected.
"""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

# Graded notebooks run in a kernel started by this process, which inherits its
# environment: keep TensorFlow's C++ logging and oneDNN notices off stderr.
# nbgrader gives 0 points to a test cell that writes anything to stderr.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("PYTHONHASHSEED", "0")
# Figures inline in the notebook (the Makefile exports MPLBACKEND=Agg for scripts).
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"

# nbgrader runs `alembic` (its gradebook migrations) from PATH: make it find the copy installed
# next to the Python running nbgrader (.venv/bin), even when the venv is not activated.
_bin = str(Path(sys.executable).parent)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")

c.CourseDirectory.course_id = "medxai-course"
c.CourseDirectory.root = str(Path(__file__).resolve().parent)

# The gradebook: nbgrader's default, gradebook.db (sqlite) in the course root, unless MEDXAI_DB_URL names
# another, e.g. PostgreSQL (postgresql://grader@dbhost:5432/medxai; keep a password in ~/.pgpass, not in
# the URL), which nbgrader recommends when several people grade at once. Every nbgrader command run with
# this configuration (formgrader, export, generate_feedback) and `make autograde` then use it;
# `make autograde DB_URL=...` (python -m grading autograde --db-url) sets it for one grading run.
if os.environ.get("MEDXAI_DB_URL"):
    c.CourseDirectory.db_url = os.environ["MEDXAI_DB_URL"]

# The exchange (release_assignment -> fetch_assignment, submit -> collect): the course's own folder
# unless MEDXAI_EXCHANGE names another. nbgrader's default (/usr/local/share/nbgrader/exchange) is
# shared by every course on the machine and needs root to create.
c.Exchange.root = os.environ.get("MEDXAI_EXCHANGE") or str(Path(__file__).resolve().parent / "exchange")

# The slowest cell of C3W3 (compute_gradcam on three films: six Grad-CAMs of
# DenseNet121 at 320x320 on CPU) took 48 s on two CPU cores shared with a
# training run; the graded test cells take 20-22 s. 600 s leaves a wide margin
# for slower CI machines without letting a submission that loops forever hold
# the grader for long.
c.Execute.timeout = 600
# A kernel's start (nbclient's default allows 60 s) can be slow on a fresh clone, where the first
# imports from a new .venv run on two cores already busy with other notebooks.
c.Execute.startup_timeout = 300

# Files that must never be copied into a student's release or feedback.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "training-run",  # what C1W1's optional training cell writes beside the notebook
]
# What the exchange copies (release_assignment, submit, collect): the assignment's notebook and its
# visible tests, nothing else that might lie in release/<A>/ or in a student's folder. `nbgrader submit`
# adds timestamp.txt and submission_secret.txt; `collect` must keep both, and the grader carries them into
# autograded/ and feedback/: `release_feedback` reads them to name the feedback a student can fetch.
c.CourseDirectory.include = ["*.ipynb", "public_tests.py", "timestamp.txt", "submission_secret.txt"]

c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
}

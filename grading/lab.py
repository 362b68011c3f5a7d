"""JupyterLab as the course's people meet it: the instructor in the course root, a student in a folder of their own.

``python -m grading.lab instructor`` (``make lab``) starts JupyterLab in the course root: nbgrader's
Formgrader reads ``nbgrader_config.py`` there (source/, release/, the gradebook, the exchange).

``python -m grading.lab student`` (``make lab-student``) starts a second JupyterLab, as a student on
the same machine would: in a home folder of its own (``dist/student-home/`` by default, git-ignored)
that holds only the student's ``nbgrader_config.py`` (the one of the student bundle, see
:mod:`grading.student`) and whatever the student fetches. Its Assignment List fetches from the
course's exchange (``MEDXAI_EXCHANGE``, else ``<course root>/exchange``) into ``<home>/<A>/``, and its
notebooks run there, away from the repository, importing the installed course library ``util``.

``tests/browser/`` drives exactly these two servers (built by :func:`lab_command` and
:func:`prepare_student_home`) in headless Chromium.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from grading.student import DIST_DIR, STUDENT_NBGRADER_CONFIG
from util.config.paths import REPO_ROOT

__all__ = ["STUDENT_HOME", "course_exchange", "lab_command", "lab_environment", "main", "prepare_student_home"]

#: The student's home folder of ``make lab-student`` (git-ignored, under dist/).
STUDENT_HOME = DIST_DIR / "student-home"


def course_exchange(course_root=REPO_ROOT):
    """The exchange folder the course's nbgrader_config.py uses: ``MEDXAI_EXCHANGE``, else ``<root>/exchange``."""
    return Path(os.environ.get("MEDXAI_EXCHANGE") or Path(course_root) / "exchange")


def lab_environment(base=None):
    """The environment of a course JupyterLab server, inherited by its kernels and by Validate.

    Parameters
    ----------
    base : mapping, optional
        The environment to start from (default this process's).

    Returns
    -------
    dict
        ``base`` with figures drawn inline (``make`` exports ``MPLBACKEND=Agg`` for its scripts,
        which would leave every notebook figure blank) and TensorFlow's C++ logging off stderr.
    """
    env = dict(os.environ if base is None else base)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    return env


def lab_command(root_dir, *, port=None, token=None, open_browser=True):
    """The command line of a JupyterLab server whose file browser (and nbgrader's config) is ``root_dir``.

    Parameters
    ----------
    root_dir : path
        The server's root: the course root for the instructor, the home folder for a student.
        nbgrader's extensions read ``nbgrader_config.py`` from it.
    port : int, optional
        Listen on exactly this loopback port (no retry on another); default Jupyter's choice.
    token : str, optional
        The server's token; default Jupyter's (a random one it prints).
    open_browser : bool, default True
        Open the system's browser (False for tests and remote machines).

    Returns
    -------
    list of str
        ``[python, "-m", "jupyter", "lab", ...]`` with this interpreter, so the kernels and
        nbgrader run in the same environment; ``--allow-root`` when run as root (Jupyter refuses
        root otherwise).
    """
    argv = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={Path(root_dir).resolve()}"]
    if port is not None:
        argv += ["--ServerApp.ip=127.0.0.1", f"--ServerApp.port={int(port)}", "--ServerApp.port_retries=0"]
    if token is not None:
        argv.append(f"--IdentityProvider.token={token}")
    if not open_browser:
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    return argv


def prepare_student_home(home=STUDENT_HOME, exchange=None):
    """Make ``home`` a student's folder: the student's nbgrader_config.py and nothing of the course.

    Parameters
    ----------
    home : path, default ``dist/student-home``
        Created if missing. Assignments the student fetches land in ``<home>/<A>/``.
    exchange : path, optional
        The exchange to fetch from and submit to (default :func:`course_exchange`).

    Returns
    -------
    dict
        The environment to start the student's server with: :func:`lab_environment` with
        ``MEDXAI_EXCHANGE`` set to ``exchange`` (the student config reads it).

    Raises
    ------
    FileExistsError
        ``home`` holds an ``nbgrader_config.py`` that is not the student's (e.g. ``home`` is a
        course root): a student's server must not grade with the instructor's configuration.
    """
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "nbgrader_config.py"
    if config.exists() and config.read_text(encoding="utf-8") != STUDENT_NBGRADER_CONFIG:
        raise FileExistsError(
            f"{config} is not the student's nbgrader configuration; choose an empty folder for --home."
        )
    config.write_text(STUDENT_NBGRADER_CONFIG, encoding="utf-8")
    exchange = Path(exchange) if exchange is not None else course_exchange()
    return dict(lab_environment(), MEDXAI_EXCHANGE=str(exchange.resolve()))


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m grading.lab",
        description="Start JupyterLab as the instructor (in the course root) or as a student (in a home folder "
        "of their own, fetching from the course's exchange).",
    )
    parser.add_argument("who", choices=["instructor", "student"])
    parser.add_argument("--home", type=Path, default=STUDENT_HOME, help="the student's folder (student only)")
    parser.add_argument("--port", type=int, help="loopback port (default: Jupyter's choice)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    args = parser.parse_args(argv)
    if args.who == "instructor":
        root, env = REPO_ROOT, lab_environment()
    else:
        root, env = args.home, prepare_student_home(args.home)
        print(f"student's folder: {root} (fetches from {env['MEDXAI_EXCHANGE']}); "
              "the instructor releases with: nbgrader release_assignment <A>", flush=True)
    command = lab_command(root, port=args.port, open_browser=not args.no_browser)
    os.chdir(root)
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main()

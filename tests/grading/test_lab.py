"""grading.lab: the JupyterLab servers of `make lab` and `make lab-student` (tests/browser/ drives them)."""

import os
import sys

import pytest
from traitlets.config.loader import PyFileConfigLoader

from grading.lab import lab_command, lab_environment, main, prepare_student_home
from grading.student import STUDENT_NBGRADER_CONFIG
from util.config.paths import REPO_ROOT


def _nbgrader_config(path):
    """Load an nbgrader_config.py as nbgrader does, leaving this process's environment as it was."""
    saved = dict(os.environ)
    try:
        return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_lab_command_serves_the_given_folder_on_the_given_port(tmp_path):
    argv = lab_command(tmp_path, port=8123, token="abc", open_browser=False)
    assert argv[:4] == [sys.executable, "-m", "jupyter", "lab"]
    assert f"--ServerApp.root_dir={tmp_path.resolve()}" in argv
    assert {"--ServerApp.ip=127.0.0.1", "--ServerApp.port=8123", "--ServerApp.port_retries=0",
            "--IdentityProvider.token=abc", "--no-browser"} <= set(argv)
    assert ("--allow-root" in argv) == (os.geteuid() == 0)
    plain = lab_command(tmp_path)
    assert not any(a.startswith(("--ServerApp.port", "--IdentityProvider.token")) or a == "--no-browser" for a in plain)


def test_lab_environment_draws_figures_inline_even_under_make():
    env = lab_environment({"MPLBACKEND": "Agg", "PATH": "/bin"})  # what the Makefile exports
    assert env["MPLBACKEND"] == "module://matplotlib_inline.backend_inline"
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "3" and env["PATH"] == "/bin"


def test_student_home_holds_the_student_config_and_points_at_the_exchange(tmp_path):
    home, exchange = tmp_path / "home", tmp_path / "exchange"
    env = prepare_student_home(home, exchange=exchange)
    assert sorted(p.name for p in home.iterdir()) == ["nbgrader_config.py"]
    assert (home / "nbgrader_config.py").read_text() == STUDENT_NBGRADER_CONFIG
    assert env["MEDXAI_EXCHANGE"] == str(exchange.resolve())
    assert env["MPLBACKEND"] == "module://matplotlib_inline.backend_inline"
    prepare_student_home(home, exchange=exchange)  # again: the same folder is fine


def test_student_home_refuses_a_folder_with_another_nbgrader_config(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text((REPO_ROOT / "nbgrader_config.py").read_text())
    with pytest.raises(FileExistsError, match="not the student's nbgrader configuration"):
        prepare_student_home(tmp_path)


def test_student_validate_gets_the_instructors_time_limits(tmp_path):
    """nbgrader's default gives a cell 30 s; the course's Grad-CAM cells need more on a laptop."""
    (tmp_path / "nbgrader_config.py").write_text(STUDENT_NBGRADER_CONFIG)
    student = _nbgrader_config(tmp_path / "nbgrader_config.py")
    course = _nbgrader_config(REPO_ROOT / "nbgrader_config.py")
    assert student.Execute.timeout == course.Execute.timeout >= 600
    assert student.Execute.startup_timeout == course.Execute.startup_timeout
    assert student.CourseDirectory.course_id == course.CourseDirectory.course_id


def test_the_course_keeps_what_release_feedback_needs():
    """collect drops any file the include list does not name; release_feedback needs these two."""
    course = _nbgrader_config(REPO_ROOT / "nbgrader_config.py")
    assert {"timestamp.txt", "submission_secret.txt"} <= set(course.CourseDirectory.include)


def test_main_rejects_an_unknown_role(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["teacher"])
    assert stop.value.code == 2
    assert "invalid choice: 'teacher'" in capsys.readouterr().err

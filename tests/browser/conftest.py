"""The browser suite's world: a throw-away course, its exchange, two JupyterLab servers and Chromium.

* ``course``: a course root in a temporary folder (this repository's ``nbgrader_config.py``, the
  source notebooks, nbgrader's gradebook) with C3W3 and C1W1 generated and released to its own
  exchange, as an instructor does with ``nbgrader generate_assignment`` / ``release_assignment``.
* ``servers``: the instructor's JupyterLab in the course root and a student's in a home folder of
  its own, built by :mod:`grading.lab` exactly as ``make lab`` and ``make lab-student`` build them,
  each on a free loopback port with its own token, Jupyter config, settings and workspaces.
* ``browser``: headless Chromium from Debian (``make browser``) driven by Playwright through
  ``executable_path``: Playwright's own browser download is not available here.

Screenshots of every step go to ``build/browser-screenshots/`` (git-ignored); the run's summary
names the folder and the files.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from lab_steps import SCREENSHOTS, TAKEN, shoot

#: Debian's headless shell first (it starts in about a second), then the full browser.
CHROMIUM_CANDIDATES = (
    "/usr/lib/chromium/chromium-headless-shell",
    "/usr/bin/chromium-headless-shell",
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium",
)

#: As root in a container: no setuid sandbox; and no background traffic, which this machine's closed
#: network refuses (Chromium would retry it for the whole run).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]

#: Set by ``make test`` (which installs the browser first): a missing browser fails the suite, never skips it.
REQUIRE_ENV = "MEDXAI_REQUIRE_BROWSER"

def find_chromium():
    """The first Chromium binary found: ``MEDXAI_CHROMIUM`` if set, else Debian's paths; or None."""
    named = os.environ.get("MEDXAI_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    return next((path for path in CHROMIUM_CANDIDATES if Path(path).is_file()), None)


@pytest.fixture(scope="session")
def chromium_path():
    path = find_chromium()
    if path is None:
        message = ("no Chromium for the browser tests: run `make browser` (Debian's chromium-headless-shell), "
                   "or name a binary in MEDXAI_CHROMIUM")
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def screenshots():
    """The screenshot folder, emptied at the start of the run (:func:`lab_steps.shoot` writes into it)."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


def pytest_terminal_summary(terminalreporter):
    if TAKEN:
        terminalreporter.write_sep("-", f"browser screenshots in {SCREENSHOTS}")
        for path in TAKEN:
            terminalreporter.write_line(f"  {path.name}")


# ----------------------------------------------------------------------------- the course and its servers
@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course root with C3W3 and C1W1 generated into its gradebook and released to its exchange."""
    from grading.c1w1 import ASSIGNMENT as C1W1
    from grading.c3w3 import ASSIGNMENT as C3W3
    from grading.core import make_course, nbgrader

    root = tmp_path_factory.mktemp("course")
    saved = os.environ.pop("MEDXAI_EXCHANGE", None)  # the course's own exchange: <root>/exchange
    try:
        for assignment in (C3W3, C1W1):
            make_course(root, assignment)
            nbgrader("generate_assignment", assignment.name, "--force", root=root)
            nbgrader("release_assignment", assignment.name, "--force", root=root)
    finally:
        if saved is not None:
            os.environ["MEDXAI_EXCHANGE"] = saved
    return root


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _isolated(env, base):
    """``env`` with Jupyter's per-user state in ``base``, and JupyterLab's news prompt answered."""
    settings = base / "lab-settings"
    plugin = settings / "@jupyterlab" / "apputils-extension"
    plugin.mkdir(parents=True)
    (plugin / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    env = dict(env)
    env.update({
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        # nbgrader keeps a student's submissions (and their secrets) in <data dir>/nbgrader_cache
        "JUPYTER_DATA_DIR": str(base / "data"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
    })
    return env


class Server:
    """One JupyterLab server: its URL, token, root folder and log."""

    def __init__(self, name, root, env, base):
        from grading.lab import lab_command

        self.name, self.root = name, Path(root)
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = base / f"{name}.log"
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            lab_command(root, port=self.port, token=self.token, open_browser=False),
            cwd=root, env=_isolated(env, base), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    @property
    def headers(self):
        return {"Authorization": f"token {self.token}"}

    def wait_ready(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the {self.name}'s JupyterLab exited: {self.log()[-3000:]}")
            try:
                request = urllib.request.Request(f"{self.url}/api/status", headers=self.headers)
                with urllib.request.urlopen(request, timeout=5):
                    return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"the {self.name}'s JupyterLab did not answer in {timeout} s: {self.log()[-3000:]}")

    def log(self):
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


@pytest.fixture(scope="module")
def servers(course, tmp_path_factory):
    """The instructor's JupyterLab in the course root and a student's in a fresh home folder."""
    from grading.lab import lab_environment, prepare_student_home

    home = tmp_path_factory.mktemp("student-home")
    student_env = prepare_student_home(home, exchange=course / "exchange")
    started = []
    try:
        started.append(Server("instructor", course, lab_environment(), tmp_path_factory.mktemp("instructor-jupyter")))
        started.append(Server("student", home, student_env, tmp_path_factory.mktemp("student-jupyter")))
        for server in started:
            server.wait_ready()
        yield {server.name: server for server in started}
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="module")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed and "browser" in item.fixturenames:
        # what every open page showed when the step failed: FAILED-<test>-<n>.png
        chromium = item.funcargs["browser"]
        pages = [page for context in chromium.contexts for page in context.pages]
        for n, page in enumerate(pages):
            try:
                shoot(page, SCREENSHOTS, f"FAILED-{item.name}-{n}")
            except Exception:  # noqa: BLE001  (a page that cannot be drawn any more: nothing to show)
                pass
    return report

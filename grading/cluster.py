"""Grading on a Dask cluster: one task per submission, plain data back, the gradebook written here.

``python -m grading autograde <A> --scheduler tcp://host:8786`` (``make autograde SCHEDULER=...``)
sends each submission to a `Dask distributed <https://distributed.dask.org>`_ cluster as one task,
:func:`grading.autograde.grade_task`, instead of grading it in this machine's threads. The task runs
the box and the verdicts **on the worker** and returns JSON text (scores, messages, timings,
status, the first megabyte of the box's output); the client checks it
(:func:`grading.autograde.report_from_result`) and alone writes nbgrader's gradebook, the
autograded notebooks, the logs and the feedback. What the client sends once to every worker
(:meth:`DaskBackend.share`): the cases drawn from the run's secret seed, the solution's answers
to them, the points and the release's visible tests; per task, the submission's bytes.

Workers are trusted grading machines: the same checkout (commit) as the client, its ``.venv``
(``pip install -c constraints.txt -e .[cluster]``) and ``make data``. They read the student library,
the data and the weights into each box, and never need the gradebook or the course root. A task
refuses to grade when the worker's release notebook differs from the client's, or when its
sandbox cannot start (unless ``--allow-unsandboxed``); that is a grader fault, retried elsewhere.

Each worker thread drives one box: start ``dask worker tcp://host:8786 --nworkers 1 --nthreads B``
with ``B`` boxes per machine; the client gives each box ``cores // boxes on that machine``
TensorFlow/OpenMP threads (:meth:`DaskBackend.threads_by_worker`).

Dask is an optional extra (``pip install .[cluster]``): nothing else in :mod:`grading` imports it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from grading.autograde import available_cores, grade_task

__all__ = ["ClusterUnavailable", "DaskBackend", "INSTALL_HINT"]

#: What to run where Dask is missing.
INSTALL_HINT = "install the cluster extra: .venv/bin/pip install -c constraints.txt -e '.[cluster]'"
#: Seconds to wait for the first worker of a cluster that has none yet.
WORKER_WAIT_SECONDS = 120


class ClusterUnavailable(RuntimeError):
    """Dask is not installed, or the scheduler cannot be reached or has no worker (the message says which)."""


class DaskBackend:
    """Submissions as tasks on a Dask cluster (the interface of :class:`grading.autograde.LocalBackend`).

    Parameters
    ----------
    scheduler : str or distributed.Client or a cluster object
        A scheduler address (``tcp://host:8786``), a connected ``Client`` (used as is, not closed), or a
        cluster (``distributed.LocalCluster``, a dask-jobqueue ``SLURMCluster``...): a client is opened on it.
    """

    def __init__(self, scheduler, worker_wait=WORKER_WAIT_SECONDS):
        try:
            import distributed
        except ImportError as err:
            raise ClusterUnavailable(f"grading on a Dask cluster needs dask and distributed: {INSTALL_HINT}") from err
        self._distributed = distributed
        self.futures = set()
        if isinstance(scheduler, distributed.Client):
            self.client, self.own = scheduler, False
        else:
            try:
                self.client = distributed.Client(scheduler, timeout=60, set_as_default=False)
            except OSError as err:
                raise ClusterUnavailable(f"cannot reach the Dask scheduler at {scheduler}: {err}. Start it with "
                                         "`dask scheduler` and workers with `dask worker <address>` "
                                         "(README: Grading at scale).") from err
            self.own = True
        try:
            self.client.wait_for_workers(1, timeout=worker_wait)
        except (TimeoutError, OSError) as err:
            self.close()
            raise ClusterUnavailable(f"the Dask scheduler at {self.client.scheduler.address} has no worker after "
                                     f"{worker_wait} s: start one with `dask worker {self.client.scheduler.address}` "
                                     "on each grading machine.") from err
        self.run_id = uuid.uuid4().hex[:8]

    def _workers(self):
        return self.client.scheduler_info(n_workers=-1)["workers"]

    def describe(self):
        workers = self._workers()
        hosts = {w.get("host") for w in workers.values()}
        boxes = sum(int(w.get("nthreads", 1)) for w in workers.values())
        return (f"Dask at {self.client.scheduler.address}: {len(workers)} worker(s) on {len(hosts)} machine(s), "
                f"{boxes} box(es) at once")

    def threads_by_worker(self):
        """``worker address -> threads per box``: the worker machine's cores over the boxes it runs at once."""
        workers = self._workers()
        cores = self.client.run(available_cores)
        boxes = defaultdict(int)
        for info in workers.values():
            boxes[info.get("host")] += int(info.get("nthreads", 1))
        return {address: max(1, int(cores.get(address, 1)) // max(1, boxes[info.get("host")]))
                for address, info in workers.items()}

    def share(self, shared):
        """Send what every task needs once to every worker; return the reference tasks take."""
        self.shared = self.client.scatter([shared], broadcast=True, hash=False)[0]
        return self.shared

    def submit(self, task, shared):
        future = self.client.submit(grade_task, task, shared, pure=False,
                                    key=f"grade-{task['student']}-{self.run_id}-{uuid.uuid4().hex[:6]}")
        self.futures.add(future)
        return future

    def wait(self, futures):
        with self.client.as_current():  # distributed.wait uses the current client, and ours is not the default
            done = self._distributed.wait(futures, return_when="FIRST_COMPLETED").done
        self.futures.difference_update(done)
        return done

    def release(self, future):
        """Forget a task whose result is read (else the cluster may compute it again when a worker leaves)."""
        self.futures.discard(future)
        future.release()

    def abort(self):
        """Cancel every task not yet back (a box already running on a worker finishes there, unrecorded)."""
        try:
            if self.futures:
                self.client.cancel(list(self.futures))
        finally:
            self.close()

    def close(self):
        shared, self.shared = getattr(self, "shared", None), None
        if shared is not None and self.client.status == "running":
            shared.release()
        if self.own:
            self.client.close()
            self.own = False

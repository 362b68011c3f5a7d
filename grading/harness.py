"""The program that runs a submission's cells inside the sandbox.

This file is not imported by the grader: :mod:`grading.runner` passes its **source** to
``python -c`` inside the box (which cannot see the ``grading`` package), with two
file-descriptor numbers as arguments: requests come in on the first, answers go out on the
second, one JSON object per line.

Requests
    ``{"op": "cell", "seq": n, "code": "..."}``
        Run one cell in an IPython shell (magics work; output goes to the box's stdout file).
        Answer ``{"op": "cell", "seq": n, "ok": bool, "error": "..."}``.
    ``{"op": "call", "seq": n, "driver": "...", "cases": [...]}``
        Define ``drive(ns, case, cache)`` from the driver source and call it on each case with
        the shell's namespace and a dict kept between calls; answer ``{"op": "call", "seq": n, "results": [...]}`` where each
        result is ``{"value": ...}`` or ``{"error": "..."}``. Values are plain JSON; arrays are
        ``{"__ndarray__": dtype, "shape": [...], "data": base64}`` (see :func:`encode`).

Everything here is **untrusted** once the submission's first cell has run: the submission
can patch this program in memory, write to the answer channel or read the requests. The
grader therefore takes answers only as claimed *values*, matched to its request by a
sequence number the submission cannot predict, and computes every verdict itself from those
values and the solution's own outputs. The worst a submission can do to this channel is to
lose its own points.
"""


def encode(value, depth=0):
    """Plain JSON data from a value a student's function returned; arrays and tensors become arrays.

    Scalars, strings, lists and dicts (keys and values encoded) pass as they are; anything with a
    ``.numpy()`` method (a tensor) or that NumPy reads as numbers becomes
    ``{"__ndarray__": dtype, "shape": [...], "data": base64}``. Anything else raises TypeError.
    """
    import base64

    import numpy as np

    if depth > 20:
        raise ValueError("value nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and type(value) in (int, float):
        return value
    if isinstance(value, np.generic):
        return value.item() if value.dtype.kind in "biuf" else str(value)
    if isinstance(value, dict):
        return {"__dict__": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [encode(v, depth + 1) for v in value]
    if hasattr(value, "numpy") and callable(value.numpy):  # a TensorFlow tensor
        value = value.numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"cannot read a {type(value).__name__} as numbers")
    arr = np.ascontiguousarray(arr, dtype=np.float64 if arr.dtype.kind == "f" else arr.dtype)
    return {"__ndarray__": arr.dtype.str, "shape": list(arr.shape),
            "data": base64.b64encode(arr.tobytes()).decode()}


def _main(fd_in, fd_out):
    import io
    import json
    import os
    import sys
    import traceback
    import types

    drop = os.environ.pop("MEDXAI_BOX_DROP_TO", "")
    if drop and os.getuid() == 0:  # root in the box: become nobody before anything submitted runs
        uid, gid = (int(part) for part in drop.split(":"))
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        if os.getuid() == 0 or os.geteuid() == 0:
            raise SystemExit("could not drop root")

    _write = os.write
    _dumps = json.dumps
    _loads = json.loads
    _getpid = os.getpid
    _exit = os._exit
    harness_pid = _getpid()

    def only_the_harness():
        """A process the submission forked returns here after its cell; it must not use the channel."""
        if _getpid() != harness_pid:
            _exit(0)

    def send(message):
        only_the_harness()
        data = (_dumps(message, allow_nan=True, default=str) + "\n").encode()
        view = memoryview(data)
        while view:
            written = _write(fd_out, view)
            view = view[written:]

    reader = io.open(fd_in, "rb", buffering=0, closefd=False)
    buffer = b""

    def receive():
        nonlocal buffer
        only_the_harness()
        while b"\n" not in buffer:
            chunk = reader.read(1 << 20)
            if not chunk:
                return None
            buffer += chunk
        line, buffer = buffer.split(b"\n", 1)
        return _loads(line)

    from IPython.core.interactiveshell import InteractiveShell

    user_module = types.ModuleType("__main__")
    sys.modules["__main__"] = user_module
    shell = InteractiveShell.instance(user_module=user_module, colors="NoColor")
    shell.user_ns["__file__"] = os.path.join(os.getcwd(), "submission.ipynb")
    sys.path.insert(0, os.getcwd())

    cache = {}  # what drivers keep between calls (the course model)

    def close_figures():
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            try:
                pyplot.close("all")
            except Exception:
                pass

    def describe(exc):
        return f"{type(exc).__name__}: {exc}"[:2000]

    while True:
        request = receive()
        if request is None:
            return
        op, seq = request.get("op"), request.get("seq")
        if op == "cell":
            result = shell.run_cell(request["code"], store_history=False)
            only_the_harness()
            error = result.error_before_exec or result.error_in_exec
            sys.stdout.flush()
            sys.stderr.flush()
            close_figures()
            send({"op": "cell", "seq": seq, "ok": error is None, "error": None if error is None else describe(error)})
        elif op == "call":
            driver = {"encode": encode, "__name__": "driver"}
            exec(compile(request["driver"], "<driver>", "exec"), driver)
            results = []
            for case in request["cases"]:
                try:
                    results.append({"value": encode(driver["drive"](shell.user_ns, case, cache))})
                except BaseException as exc:  # noqa: BLE001  (SystemExit too: the answer is that it failed)
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    results.append({"error": describe(exc), "trace": traceback.format_exc(limit=-3)[-2000:]})
                only_the_harness()
                close_figures()
            sys.stdout.flush()
            send({"op": "call", "seq": seq, "results": results})
        elif op == "exit":
            return


if __name__ == "__main__":
    import sys as _sys

    _main(int(_sys.argv[1]), int(_sys.argv[2]))

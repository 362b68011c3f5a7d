"""What the two training scripts share: their common options, the optimiser loop and the saving of weights.

:mod:`training.densenet` and :mod:`training.fundus` differ in their model, data, loss and learning-rate
schedule; this module holds the rest, so that both run one loop:

* :func:`add_common_options` and :func:`common_arguments` — the command-line options both accept
  (``--size --steps --batch-size --seed --lr --recalibrate-batches --eval-n --out --log-every``);
* :func:`check_arguments` — the checks both make before building anything;
* :func:`make_train_step` — one Adam step, under ``tf.function`` unless ``eager``;
* :func:`prefetched` — batches generated in a background thread while the previous one trains;
* :func:`run_training` — the loop: a step per batch, the mean loss every ``log_every`` steps, the timing;
* :func:`save_weights` — the ``.weights.h5`` file.
"""

from __future__ import annotations

import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "COMMON_OPTIONS",
    "TrainingRun",
    "add_common_options",
    "check_arguments",
    "common_arguments",
    "make_train_step",
    "prefetched",
    "run_training",
    "save_weights",
]

#: The keyword arguments of both scripts' ``train`` that :func:`add_common_options` provides.
COMMON_OPTIONS = ("size", "steps", "batch_size", "seed", "lr", "recalibrate_batches", "eval_n", "out", "log_every")


# --------------------------------------------------------------------------- command line


def add_common_options(parser, *, size, steps, batch_size, lr, recalibrate_batches, eval_n, log_every, out,
                       lr_help="Adam learning rate"):
    """Add the options both training scripts accept, with this script's defaults.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    size, steps, batch_size, recalibrate_batches, eval_n, log_every : int
        The defaults of ``--size``, ``--steps``, ``--batch-size``, ``--recalibrate-batches``, ``--eval-n``
        and ``--log-every``.
    lr : float
        The default of ``--lr``.
    out : str
        The default weights file, as shown in the help (the option's default is None: ``train`` decides).
    lr_help : str
        What ``--lr`` is for this script's schedule.

    Returns
    -------
    argparse.ArgumentParser
        ``parser``.
    """
    parser.add_argument("--size", type=int, default=size, help=f"training image size in pixels (default {size})")
    parser.add_argument("--steps", type=int, default=steps, help=f"optimiser steps (default {steps})")
    parser.add_argument("--batch-size", type=int, default=batch_size, help=f"images per step (default {batch_size})")
    parser.add_argument("--seed", type=int, default=0, help="run seed: initialisation and image seeds (default 0)")
    parser.add_argument("--lr", type=float, default=lr, help=f"{lr_help} (default {lr:g})")
    parser.add_argument("--recalibrate-batches", type=int, default=recalibrate_batches,
                        help=f"fresh batches for BatchNorm recalibration (0 skips; default {recalibrate_batches})")
    parser.add_argument("--eval-n", type=int, default=eval_n,
                        help=f"phantoms for the evaluation after training (0 skips; default {eval_n})")
    parser.add_argument("--out", default=None, help=f"weights file to write (default {out})")
    parser.add_argument("--log-every", type=int, default=log_every,
                        help=f"print the mean loss every N steps (default {log_every})")
    return parser


def common_arguments(args):
    """The keyword arguments of ``train`` that :func:`add_common_options` parsed, ``log_every`` at least 1.

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    dict
        One entry per name of :data:`COMMON_OPTIONS`.
    """
    values = {name: getattr(args, name) for name in COMMON_OPTIONS}
    values["log_every"] = max(1, values["log_every"])
    return values


def check_arguments(size, steps, batch_size, recalibrate_batches, eval_n, out, default_out):
    """Check the common arguments before anything is built or written; return the weights path.

    Parameters
    ----------
    size, steps, batch_size, recalibrate_batches, eval_n : int
    out : str, os.PathLike or None
        The weights file; None is ``default_out``.
    default_out : pathlib.Path

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        A negative count, an empty batch, images under 64 px, or a file name not ending in ``.weights.h5``.
    """
    if steps < 0 or batch_size < 1 or size < 64 or recalibrate_batches < 0 or eval_n < 0:
        raise ValueError("steps, recalibrate_batches and eval_n must be >= 0, batch_size >= 1 and size >= 64.")
    out = Path(out) if out is not None else default_out
    if not out.name.endswith(".weights.h5"):
        raise ValueError(f"--out must end with .weights.h5 (Keras 3 weights file); got {out}.")
    return out


# --------------------------------------------------------------------------- training



def make_train_step(model, loss_fn, optimizer, eager=False):
    """One optimiser step on a batch: ``train_step(x, y)`` returns the loss before the update.

    Parameters
    ----------
    model : keras.Model
    loss_fn : callable
        ``loss_fn(y_true, y_pred)``, a scalar tensor.
    optimizer : keras.optimizers.Optimizer
    eager : bool
        Run eagerly instead of under ``tf.function`` (no tracing: for smoke tests on tiny images).

    Returns
    -------
    callable
    """
    import tensorflow as tf

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    if eager:
        return train_step
    return tf.function(train_step, reduce_retracing=True)  # tracing costs once, then each step is faster


def prefetched(make, arguments):
    """Yield ``make(*a)`` for each ``a`` of ``arguments``, the next one made in a thread while this one is used.

    Parameters
    ----------
    make : callable
    arguments : sequence of tuple

    Yields
    ------
    object
        ``make(*arguments[i])``, in order.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(make, *arguments[0]) if len(arguments) else None
        for i in range(len(arguments)):
            made = pending.result()
            if i + 1 < len(arguments):
                pending = pool.submit(make, *arguments[i + 1])
            yield made


@dataclass
class TrainingRun:
    """What :func:`run_training` measured.

    Attributes
    ----------
    losses : list of float
        The loss of every step.
    train_seconds : float
        Wall time of the whole loop.
    seconds_per_step : float
        Mean time of the steps after the first (which includes tracing); ``nan`` under two steps.
    """

    losses: list = field(default_factory=list)
    train_seconds: float = 0.0
    seconds_per_step: float = float("nan")

    @property
    def final_loss(self):
        """The last step's loss (``nan`` when no step ran)."""
        return self.losses[-1] if self.losses else float("nan")


def run_training(train_step, batches, steps, log_every):
    """Run ``steps`` optimiser steps, printing the mean loss of the last ``log_every`` every ``log_every`` steps.

    Parameters
    ----------
    train_step : callable
        ``train_step(x, y)`` -> loss (:func:`make_train_step`).
    batches : iterator of (x, y)
        At least ``steps`` batches, drawn one per step.
    steps, log_every : int

    Returns
    -------
    TrainingRun
    """
    run = TrainingRun()
    t_start, t_timed = time.perf_counter(), None
    for step in range(1, steps + 1):
        x, y = next(batches)
        run.losses.append(float(train_step(x, y)))
        if step == 1:
            t_timed = time.perf_counter()  # exclude tracing from the timing
        if step % log_every == 0 or step == steps:
            elapsed = time.perf_counter() - t_start
            print(f"step {step}/{steps} loss {np.mean(run.losses[-log_every:]):.4f} ({elapsed:.0f} s)", flush=True)
    run.train_seconds = time.perf_counter() - t_start
    if steps > 1:
        run.seconds_per_step = (time.perf_counter() - t_timed) / (steps - 1)
    return run


def save_weights(model, out):
    """Write ``model``'s weights to ``out`` (``.weights.h5``), creating its folder; return its size in bytes."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # Keras 3.15 + NumPy 2 warn once per variable (__array__ copy keyword)
        warnings.simplefilter("ignore", DeprecationWarning)
        model.save_weights(str(out))
    return out.stat().st_size

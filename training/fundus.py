"""Train the fundus CNN (:mod:`util.models.fundus_cnn`) and write its model card (maintainers).

Usage
-----
::

    python -m training.fundus [--size 128] [--steps 300] [--batch-size 32] [--seed 0]
                            [--lr 3e-3] [--recalibrate-batches 16] [--eval-n 500]
                            [--out data/models/fundus_cnn.weights.h5] [--card PATH]

What it does
------------
1. **Model** (:func:`util.models.fundus_cnn.build_fundus_cnn`): a functional Keras model, input RGB
   in the 0-255 scale of any size (the course uses 128x128 after
   :func:`util.data.fundus.circular_crop`), ``Rescaling(1/255)``, four
   Conv-BatchNorm-ReLU blocks with 2x2 max pooling (``block1`` ... ``block4``),
   a last Conv-BatchNorm-ReLU block whose output is the layer ``"last_conv"``
   (:data:`util.config.course.FUNDUS_CAM_LAYER`, 16x16 at 128 px, the layer Grad-CAM explains), global
   average pooling and ``Dense(4, sigmoid)`` named ``"ordinal"``: output ``j``
   estimates P(grade > j) (:mod:`util.models.ordinal`).
2. **Data.** Every batch is new phantoms from :func:`util.data.fundus.generate_fundus`
   with balanced grades, cropped with :func:`util.data.fundus.circular_crop`; no
   image is seen twice. Image seeds are drawn from
   ``numpy.random.SeedSequence([seed, 1])`` in ``[2**40, 2**41)``
   (:data:`TRAIN_SEED_LO`, :data:`TRAIN_SEED_HI`), disjoint from
   :func:`util.data.fundus.make_fundus_set`'s seeds (below 2**40) and from the
   held-out evaluation seeds ``2**42 + i`` (:data:`EVAL_SEED_BASE`).
3. **Loss**: binary cross-entropy on the cumulative targets of
   :func:`util.models.ordinal.encode_grades`; Adam with a cosine-decayed learning rate.
4. **BatchNorm.** The moving statistics of a network trained for a few hundred
   steps lag behind its weights; after training they are replaced by their
   average over ``--recalibrate-batches`` fresh batches ("precise BN",
   :func:`util.models.densenet.recalibrate_batchnorm`), so that inference mode
   (``model(x, training=False)``) predicts as well as training mode.
5. **Evaluation** on ``--eval-n`` held-out phantoms (image ``i``: seed
   ``2**42 + i``, grade ``i % 5``) in inference mode, before and after the
   recalibration: grade accuracy, quadratic-weighted kappa, confusion matrix.
6. **Saving** the weights (``.weights.h5``, well under 5 MB) and a short model
   card (``FUNDUS_MODEL_CARD.md`` beside them, or ``--card``), rendered from
   ``training/templates/fundus_*.md`` by :func:`training.fundus_card.model_card`.

The optimiser loop, the common options and the saving are :mod:`training.loop`'s, shared with
:mod:`training.densenet`.

Training is seeded (``keras.utils.set_random_seed(seed)``); on CPU, runs with
the same arguments give the same weights up to floating-point reduction order.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from training.fundus_card import CARD_FILE, TRAIN_COMMAND, model_card
from training.loop import (
    add_common_options,
    check_arguments,
    common_arguments,
    make_train_step,
    prefetched,
    run_training,
    save_weights,
)
from util.config.course import EVAL_SEED_BASE, TRAIN_SEED_HI, TRAIN_SEED_LO
from util.config.paths import REPO_ROOT as _REPO
from util.config.quiet import import_keras
from util.config.seeding import seeded_rng
from util.data.fundus import generate_fundus
from util.metrics.agreement import confusion_matrix, quadratic_weighted_kappa
from util.models.fundus_cnn import N_GRADES, WEIGHTS_FILE, build_fundus_cnn, fundus_inputs, predict_grades
from util.models.ordinal import encode_grades

__all__ = [
    "CARD_FILE",
    "TRAIN_COMMAND",
    "eval_seeds_and_grades",
    "evaluate_fundus_model",
    "learning_rate_schedule",
    "main",
    "make_fundus_batch",
    "model_card",
    "parser",
    "recalibrate_and_evaluate",
    "train",
    "training_batches",
    "training_command",
    "write_card",
]

_STREAM_TRAIN, _STREAM_RECAL = 1, 2


# --------------------------------------------------------------------------- data


def make_fundus_batch(seeds, grades, size=128):
    """Phantoms for the given seeds and grades, as model inputs and ordinal targets.

    Returns
    -------
    x : float32 (n, size, size, 3)
        Cropped images (:func:`fundus_inputs`).
    y : float32 (n, 4)
        :func:`util.models.ordinal.encode_grades` of ``grades``.
    """
    images = np.stack([generate_fundus(int(s), int(g), size=size)[0] for s, g in zip(seeds, grades)])
    return fundus_inputs(images), encode_grades(np.asarray(grades), N_GRADES)


def _balanced_batch(rng, batch_size):
    """Seeds in the training range and grades as balanced as ``batch_size`` allows, shuffled."""
    seeds = rng.integers(TRAIN_SEED_LO, TRAIN_SEED_HI, size=batch_size)
    grades = rng.permutation(np.resize(rng.permutation(N_GRADES), batch_size))
    return seeds, grades


def eval_seeds_and_grades(n, start=0):
    """Held-out seeds ``EVAL_SEED_BASE + i`` and grades ``i % 5`` for i in [start, start + n)."""
    i = np.arange(start, start + n, dtype=np.int64)
    return EVAL_SEED_BASE + i, i % N_GRADES


# --------------------------------------------------------------------------- evaluation


def _metrics(y_true, y_pred, probs):
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "kappa": quadratic_weighted_kappa(y_true, y_pred, N_GRADES),
        "mae": float(np.mean(np.abs(y_true - y_pred))),
        "confusion": confusion_matrix(y_true, y_pred),
        "prediction_std": float(np.asarray(probs).std(axis=0).mean()),
    }


def evaluate_fundus_model(model, n=500, size=128, start=0, x=None):
    """Grade accuracy, quadratic-weighted kappa and confusion matrix on held-out phantoms.

    Parameters
    ----------
    model : keras.Model
    n : int, default 500
        Images ``start .. start + n - 1`` of the held-out set (seed
        ``EVAL_SEED_BASE + i``, grade ``i % 5``; never used in training).
    size : int, default 128
    x : float32 array, optional
        The inputs, if already generated (must match ``n``, ``size``, ``start``).

    Returns
    -------
    dict
        ``accuracy``, ``kappa``, ``mae`` (mean absolute grade error),
        ``confusion`` (rows = true grade), ``prediction_std`` (spread of the
        outputs across images; near 0 means collapsed predictions), ``y_true``,
        ``y_pred``, ``probs``.
    """
    seeds, grades = eval_seeds_and_grades(n, start)
    if x is None:
        x, _ = make_fundus_batch(seeds, grades, size)
    probs, pred = predict_grades(model, x)
    out = _metrics(grades, pred, probs)
    out.update(y_true=grades, y_pred=pred, probs=probs)
    return out


# --------------------------------------------------------------------------- training


def _report(tag, m):
    print(
        f"[{tag}] accuracy {m['accuracy']:.3f} | quadratic-weighted kappa {m['kappa']:.3f} | "
        f"output spread {m['prediction_std']:.3f}",
        flush=True,
    )


def learning_rate_schedule(lr, steps):
    """Warm up linearly from ``lr / 10`` to ``lr`` over ``min(20, steps // 10)`` steps, then cosine-decay to 2 %."""
    keras = import_keras()
    warmup = min(20, steps // 10)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=lr * 0.1, decay_steps=max(steps - warmup, 1), alpha=0.02,
        warmup_target=lr, warmup_steps=warmup,
    )


def training_command(size, steps, batch_size, seed, lr, recalibrate_batches, eval_n, out):
    """The command line that repeats a run with these arguments (recorded in the model card)."""
    return (
        f"{TRAIN_COMMAND} --size {size} --steps {steps} --batch-size {batch_size} --seed {seed} --lr {lr:g} "
        f"--recalibrate-batches {recalibrate_batches} --eval-n {eval_n} --out {_display_path(out)}"
    )


def training_batches(seed, steps, batch_size, size):
    """The run's ``steps`` training batches ``(x, y)``, each generated while the previous one trains.

    Every batch's seeds and grades are drawn up front from the run's training seed stream, so the
    batches do not depend on when the background thread makes them.
    """
    rng = seeded_rng(seed, _STREAM_TRAIN)
    specs = [(*_balanced_batch(rng, batch_size), size) for _ in range(steps)]
    return prefetched(make_fundus_batch, specs)


def recalibrate_and_evaluate(model, seed, size, batch_size, recalibrate_batches, eval_n):
    """Held-out metrics before and after the BatchNorm recalibration on fresh batches.

    Returns
    -------
    before, after : dict or None
        :func:`evaluate_fundus_model`'s metrics; None when ``eval_n == 0`` (``after`` also when
        ``recalibrate_batches == 0``).
    """
    from util.models.densenet import recalibrate_batchnorm

    before = after = None
    if eval_n:
        seeds, grades = eval_seeds_and_grades(eval_n)
        eval_x, _ = make_fundus_batch(seeds, grades, size)
        before = evaluate_fundus_model(model, eval_n, size, x=eval_x)
        _report("held-out, inference mode, before BN recalibration", before)
    if recalibrate_batches:
        rrng = seeded_rng(seed, _STREAM_RECAL)
        batches = (make_fundus_batch(*_balanced_batch(rrng, batch_size), size)[0] for _ in range(recalibrate_batches))
        n = recalibrate_batchnorm(model, batches)
        print(f"recalibrated BatchNorm statistics on {n} fresh batches", flush=True)
        if eval_n:
            after = evaluate_fundus_model(model, eval_n, size, x=eval_x)
            _report("held-out, inference mode, after BN recalibration", after)
    return before, after


def train(
    size=128,
    steps=300,
    batch_size=32,
    seed=0,
    lr=3e-3,
    recalibrate_batches=16,
    eval_n=500,
    out=None,
    card=None,
    log_every=25,
    eager=False,
):
    """Train, recalibrate BatchNorm, evaluate, save the weights and write the model card.

    See the module docstring. ``eager=True`` skips ``tf.function`` (no tracing:
    for smoke tests). ``card=False`` writes no model card.

    Returns
    -------
    dict
        ``out`` and ``card`` (paths written), ``command``, ``train_seconds`` (the training
        loop's wall time), ``total_seconds``, ``seconds_per_step``,
        ``final_loss``, ``before``/``after`` (held-out metrics before and
        after the BatchNorm recalibration; None when ``eval_n == 0``) and
        ``model``.
    """
    t_total = time.perf_counter()
    keras = import_keras()
    out = check_arguments(size, steps, batch_size, recalibrate_batches, eval_n, out, WEIGHTS_FILE)
    if size % 8:
        raise ValueError(f"size must be a multiple of 8 (three 2x2 poolings); got {size}.")

    keras.utils.set_random_seed(seed)
    model = build_fundus_cnn()
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate_schedule(lr, steps))
    train_step = make_train_step(model, keras.losses.BinaryCrossentropy(), optimizer, eager)
    batches = training_batches(seed, steps, batch_size, size)
    run = run_training(train_step, batches, steps, log_every)
    batches.close()  # stops the background thread

    before, after = recalibrate_and_evaluate(model, seed, size, batch_size, recalibrate_batches, eval_n)
    n_bytes = save_weights(model, out)
    total_seconds = time.perf_counter() - t_total
    print(
        f"wrote {out} ({n_bytes / 1e6:.2f} MB); training {run.train_seconds:.0f} s "
        f"({run.seconds_per_step:.2f} s/step at {size} px, batch {batch_size}); total {total_seconds:.0f} s",
        flush=True,
    )
    result = {
        "out": out,
        "card": None,
        "command": training_command(size, steps, batch_size, seed, lr, recalibrate_batches, eval_n, out),
        "train_seconds": run.train_seconds,
        "total_seconds": total_seconds,
        "seconds_per_step": run.seconds_per_step,
        "final_loss": run.final_loss,
        "before": before,
        "after": after,
        "model": model,
    }
    if card is not False:
        result["card"] = write_card(model, result, card, size=size, steps=steps, batch_size=batch_size, seed=seed,
                                    lr=lr, recalibrate_batches=recalibrate_batches, eval_n=eval_n)
    return result


def write_card(model, result, card=None, **arguments):
    """Write :func:`model_card` to ``card`` (None: :data:`CARD_FILE`'s name beside the weights); return its path."""
    card = Path(card) if card is not None else Path(result["out"]).parent / CARD_FILE.name
    card.write_text(model_card(model, result, **arguments))
    print(f"wrote {card}", flush=True)
    return card


def _display_path(p):
    p = Path(p).resolve()
    try:
        return str(p.relative_to(_REPO))
    except ValueError:
        return str(p)


# --------------------------------------------------------------------------- command line


def parser():
    """The command line of ``python -m training.fundus``: the common options and ``--card``."""
    p = argparse.ArgumentParser(
        prog=TRAIN_COMMAND,
        description="Train the small retinopathy CNN on fresh fundus phantoms, evaluate it and write its model card.",
    )
    add_common_options(p, size=128, steps=300, batch_size=32, lr=3e-3, recalibrate_batches=16, eval_n=500,
                       log_every=25, out="data/models/fundus_cnn.weights.h5", lr_help="peak Adam learning rate")
    p.add_argument("--card", default=None, help="model card to write (default FUNDUS_MODEL_CARD.md beside --out)")
    return p


def main(argv=None):
    """``python -m training.fundus``: parse ``argv`` and :func:`train`; return the exit status."""
    args = parser().parse_args(argv)
    train(**common_arguments(args), card=args.card)
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
   card (``FUNDUS_MODEL_CARD.md`` beside them, or ``--card``).

Training is seeded (``keras.utils.set_random_seed(seed)``); on CPU, runs with
the same arguments give the same weights up to floating-point reduction order.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from util.config.course import EVAL_SEED_BASE, FUNDUS_CAM_LAYER, TRAIN_SEED_HI, TRAIN_SEED_LO
from util.config.paths import MODELS_DIR
from util.config.paths import REPO_ROOT as _REPO
from util.config.quiet import import_keras
from util.data.fundus import GRADE_NAMES, GRADES, generate_fundus
from util.metrics.agreement import confusion_matrix, quadratic_weighted_kappa
from util.models.fundus_cnn import N_GRADES, WEIGHTS_FILE, build_fundus_cnn, fundus_inputs, predict_grades
from util.models.ordinal import encode_grades

__all__ = [
    "CARD_FILE",
    "evaluate_fundus_model",
    "make_fundus_batch",
    "model_card",
    "train",
]

#: The model card written beside them.
CARD_FILE = MODELS_DIR / "FUNDUS_MODEL_CARD.md"
#: The command that trains the shipped weights (recorded in the model card).
TRAIN_COMMAND = "python -m training.fundus"

_STREAM_TRAIN, _STREAM_RECAL = 1, 2


# --------------------------------------------------------------------------- model


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
        ``out`` and ``card`` (paths written), ``train_seconds`` (the training
        loop's wall time), ``total_seconds``, ``seconds_per_step``,
        ``final_loss``, ``before``/``after`` (held-out metrics before and
        after the BatchNorm recalibration; None when ``eval_n == 0``) and
        ``model``.
    """
    t_total = time.perf_counter()
    keras = import_keras()
    import tensorflow as tf

    from util.models.densenet import recalibrate_batchnorm

    if steps < 0 or batch_size < 1 or size < 64 or recalibrate_batches < 0 or eval_n < 0:
        raise ValueError("steps, recalibrate_batches and eval_n must be >= 0, batch_size >= 1 and size >= 64.")
    if size % 8:
        raise ValueError(f"size must be a multiple of 8 (three 2x2 poolings); got {size}.")
    out = Path(out) if out is not None else WEIGHTS_FILE
    if not out.name.endswith(".weights.h5"):
        raise ValueError(f"--out must end with .weights.h5 (Keras 3 weights file); got {out}.")
    if card is None:
        card = out.parent / CARD_FILE.name
    command = (
        f"{TRAIN_COMMAND} --size {size} --steps {steps} --batch-size {batch_size} --seed {seed} --lr {lr:g} "
        f"--recalibrate-batches {recalibrate_batches} --eval-n {eval_n} --out {_display_path(out)}"
    )

    keras.utils.set_random_seed(seed)
    model = build_fundus_cnn()
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=lr * 0.1, decay_steps=max(steps - min(20, steps // 10), 1), alpha=0.02,
        warmup_target=lr, warmup_steps=min(20, steps // 10),
    )
    optimizer = keras.optimizers.Adam(learning_rate=schedule)
    bce = keras.losses.BinaryCrossentropy()

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = bce(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    if not eager:
        train_step = tf.function(train_step, reduce_retracing=True)

    rng = np.random.default_rng(np.random.SeedSequence([seed, _STREAM_TRAIN]))
    batch_specs = [_balanced_batch(rng, batch_size) for _ in range(steps)]
    losses = []
    t_start = time.perf_counter()
    t_timed = None
    # one background thread generates the next batch while TensorFlow trains on this one
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(make_fundus_batch, *batch_specs[0], size) if steps else None
        for step in range(1, steps + 1):
            x, y = pending.result()
            if step < steps:
                pending = pool.submit(make_fundus_batch, *batch_specs[step], size)
            losses.append(float(train_step(x, y)))
            if step == 1:
                t_timed = time.perf_counter()
            if step % log_every == 0 or step == steps:
                el = time.perf_counter() - t_start
                print(f"step {step}/{steps} loss {np.mean(losses[-log_every:]):.4f} ({el:.0f} s)", flush=True)
    train_seconds = time.perf_counter() - t_start
    sec_per_step = (time.perf_counter() - t_timed) / (steps - 1) if steps > 1 else float("nan")

    before = after = None
    eval_x = None
    if eval_n:
        seeds, grades = eval_seeds_and_grades(eval_n)
        eval_x, _ = make_fundus_batch(seeds, grades, size)
        before = evaluate_fundus_model(model, eval_n, size, x=eval_x)
        _report("held-out, inference mode, before BN recalibration", before)

    if recalibrate_batches:
        rrng = np.random.default_rng(np.random.SeedSequence([seed, _STREAM_RECAL]))
        batches = (make_fundus_batch(*_balanced_batch(rrng, batch_size), size)[0] for _ in range(recalibrate_batches))
        n = recalibrate_batchnorm(model, batches)
        print(f"recalibrated BatchNorm statistics on {n} fresh batches", flush=True)
        if eval_n:
            after = evaluate_fundus_model(model, eval_n, size, x=eval_x)
            _report("held-out, inference mode, after BN recalibration", after)

    out.parent.mkdir(parents=True, exist_ok=True)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model.save_weights(str(out))
    total_seconds = time.perf_counter() - t_total
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB); training {train_seconds:.0f} s "
        f"({sec_per_step:.2f} s/step at {size} px, batch {batch_size}); total {total_seconds:.0f} s",
        flush=True,
    )
    result = {
        "out": out,
        "card": None,
        "command": command,
        "train_seconds": train_seconds,
        "total_seconds": total_seconds,
        "seconds_per_step": sec_per_step,
        "final_loss": losses[-1] if losses else float("nan"),
        "before": before,
        "after": after,
        "model": model,
    }
    if card is not False:
        card = Path(card)
        card.write_text(model_card(model, result, size=size, steps=steps, batch_size=batch_size, seed=seed,
                                   lr=lr, recalibrate_batches=recalibrate_batches, eval_n=eval_n))
        result["card"] = card
        print(f"wrote {card}", flush=True)
    return result


def _display_path(p):
    p = Path(p).resolve()
    try:
        return str(p.relative_to(_REPO))
    except ValueError:
        return str(p)


# --------------------------------------------------------------------------- model card


def _confusion_table(m):
    head = "| true \\ predicted | " + " | ".join(str(g) for g in GRADES) + " | recall |"
    sep = "|---" * (len(GRADES) + 2) + "|"
    rows = []
    for g in GRADES:
        total = max(int(m[g].sum()), 1)
        rows.append(f"| {g} {GRADE_NAMES[g]} | " + " | ".join(str(int(v)) for v in m[g]) + f" | {m[g, g] / total:.2f} |")
    return "\n".join([head, sep, *rows])


def model_card(model, result, *, size, steps, batch_size, seed, lr, recalibrate_batches, eval_n):
    """The model card's Markdown text (see ``data/models/FUNDUS_MODEL_CARD.md``)."""
    import keras
    import tensorflow as tf

    n_params = int(model.count_params())
    out = Path(result["out"])
    lines = [
        "# Model card: fundus_cnn (retinopathy grades on fundus phantoms)",
        "",
        f"Written by `{TRAIN_COMMAND}` (`training/fundus.py`); do not edit by hand.",
        "",
        "## Model",
        "",
        f"- Small CNN, {n_params:,} parameters, weights `{out.name}` ({out.stat().st_size / 1e6:.2f} MB, float32).",
        "- Input: RGB fundus image in the 0-255 scale, cropped to its field of view with",
        "  `util.data.fundus.circular_crop` and resized back to 128x128 (`util.models.fundus_cnn.fundus_inputs`).",
        "- `Rescaling(1/255)`, a Conv5x5/stride 2-BatchNorm-ReLU block (16 filters), three Conv3x3-BatchNorm-ReLU",
        "  blocks (32, 48, 64 filters; 2x2 max pooling after the first two), a last Conv3x3-BatchNorm-ReLU block",
        f"  (96 filters) whose output is the layer `{FUNDUS_CAM_LAYER}` (16x16 at 128 px: the layer for Grad-CAM),",
        "  global average pooling, `Dense(4, sigmoid)` named `ordinal`.",
        "- Ordinal head: output j estimates P(grade > j); grade = number of leading outputs above 0.5",
        "  (`util.models.ordinal.decode_outputs`). Grade k's target is `util.models.ordinal.encode_grades`: k ones, then zeros.",
        "",
        "## Training",
        "",
        f"- Command: `{result['command']}`",
        f"- {steps} Adam steps of {batch_size} fresh phantoms each ({steps * batch_size:,} images, grades balanced in",
        f"  every batch), binary cross-entropy on the cumulative targets, learning rate warmed up to {lr:g} and",
        "  cosine-decayed. Training seeds in [2**40, 2**41); `keras.utils.set_random_seed"
        f"({seed})`.",
        f"- BatchNorm moving statistics recalibrated on {recalibrate_batches} fresh batches after training",
        "  (\"precise BN\"); evaluation is in inference mode.",
        f"- Wall time: training loop {result['train_seconds']:.0f} s ({result['seconds_per_step']:.2f} s/step), "
        f"whole command {result['total_seconds']:.0f} s,",
        f"  on {os.cpu_count()} CPU cores ({platform.machine()}), TensorFlow {tf.__version__}, Keras {keras.__version__}.",
        "",
        "## Evaluation",
        "",
    ]
    after, before = result["after"], result["before"]
    final = after if after is not None else before
    if final is None:
        lines += ["Not evaluated (`--eval-n 0`).", ""]
    else:
        lines += [
            f"{eval_n} held-out phantoms (image i: seed 2**42 + i, grade i % 5; {eval_n // len(GRADES)} per grade), "
            "never seen in training, inference mode:",
            "",
            "| metric | value |",
            "|---|---|",
            f"| grade accuracy | {final['accuracy']:.3f} |",
            f"| quadratic-weighted kappa | {final['kappa']:.3f} |",
            f"| mean absolute grade error | {final['mae']:.3f} |",
        ]
        if before is not None and after is not None:
            lines.append(
                f"| accuracy / kappa before BatchNorm recalibration | {before['accuracy']:.3f} / {before['kappa']:.3f} |"
            )
        lines += ["", "Confusion matrix (rows: true grade, columns: predicted grade):", "", _confusion_table(final["confusion"]), ""]
    lines += [
        "## Limits",
        "",
        "- Trained and evaluated on **synthetic** fundus phantoms (`util.data.fundus`), whose lesions are drawn",
        "  larger and with more contrast than in photographs. It is a teaching model for Grad-CAM on an",
        "  ordinal task, **not a clinical model**: it has never seen a real fundus photograph and must not",
        "  be used to grade one.",
        "- Phantom grades follow lesion counts (ICDR-like rules); real grading also weighs lesion",
        "  location, image quality and diabetic macular oedema, none of which is modelled here.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=TRAIN_COMMAND,
        description="Train the small retinopathy CNN on fresh fundus phantoms, evaluate it and write its model card.",
    )
    parser.add_argument("--size", type=int, default=128, help="image size in pixels (default 128)")
    parser.add_argument("--steps", type=int, default=300, help="optimiser steps (default 300)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per step (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    parser.add_argument("--lr", type=float, default=3e-3, help="peak Adam learning rate (default 3e-3)")
    parser.add_argument("--recalibrate-batches", type=int, default=16, help="batches for BatchNorm recalibration (default 16)")
    parser.add_argument("--eval-n", type=int, default=500, help="held-out phantoms to evaluate (default 500; 0 skips)")
    parser.add_argument("--out", default=None, help="weights file (default data/models/fundus_cnn.weights.h5)")
    parser.add_argument("--card", default=None, help="model card to write (default FUNDUS_MODEL_CARD.md beside --out)")
    parser.add_argument("--log-every", type=int, default=25, help="print the loss every N steps (default 25)")
    args = parser.parse_args(argv)
    train(
        size=args.size,
        steps=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        lr=args.lr,
        recalibrate_batches=args.recalibrate_batches,
        eval_n=args.eval_n,
        out=args.out,
        card=args.card,
        log_every=max(1, args.log_every),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

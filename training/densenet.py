"""Train the course's DenseNet121 on freshly generated chest X-ray phantoms.

Usage
-----
::

    python -m training.densenet [--size 256] [--steps 400] [--batch-size 16] [--seed 0]
                         [--lr 1e-3] [--lr-final LR] [--floor 0.15] [--init WEIGHTS]
                         [--recalibrate-batches 24] [--recalibrate-size 320]
                         [--eval-n 128] [--log-every 10]
                         [--out data/models/densenet121_phantoms.weights.h5]

What it does
------------
1. **Data.** Every batch is new phantoms from :func:`util.data.phantoms.generate_phantom`
   (no image is seen twice). Image seeds are drawn from
   ``numpy.random.SeedSequence([seed, 1])`` in ``[TRAIN_SEED_LO, TRAIN_SEED_HI)``
   = ``[2**40, 2**41)``, a range disjoint from the data set's seeds and from
   the held-out evaluation seeds (``training.evaluate.EVAL_SEED_BASE`` = 2**42 + i).
   Rare labels are over-sampled: each image is forced to contain each
   finding independently with probability ``max(PREVALENCE[label], floor)``.
2. **Pre-processing** is the inference convention (:func:`util.models.densenet.standardize`):
   ``(image - mean) / std`` with one dataset-wide mean and std in the 0-255
   scale, measured here on a fixed sample of 100 phantoms drawn at prevalence
   (seeds ``2**41 + i``, :data:`STATS_SEEDS`; what
   ``util.data.images.get_mean_std_per_batch`` measures on the data set).
   Both are jittered by up to ±5 % per image while training, so the mean/std
   a notebook measures on its own sample works as well.
3. **Loss and optimiser.** :func:`training.losses.get_weighted_loss` with balanced
   weights for the *training* sampling rates ``q`` (``pos = 1 - q``,
   ``neg = q``), Adam with learning rate ``--lr`` (constant, or cosine-decayed
   to ``--lr-final`` over the run).
4. **BatchNorm recalibration.** A network trained from scratch for a few
   hundred steps has BatchNorm moving statistics that lag far behind its
   weights (momentum 0.99), and its inference-mode predictions collapse to
   nearly constant values. After training, ``--recalibrate-batches`` fresh
   batches at ``--recalibrate-size`` (the inference size, 320) are passed in
   training mode with no weight update, and every BatchNorm layer's moving
   mean and variance is set to the *average* of those batches' statistics
   (momentum ``k / (k + 1)`` at batch ``k``: "precise BN").
5. **Evaluation** of ``--eval-n`` phantoms (at prevalence, a separate seed
   stream) in inference mode (``model(x, training=False)``), before and after
   recalibration: per-label AUC. The full held-out evaluation is
   ``python -m training.evaluate``.
6. **Saving** to ``--out`` as one ``.weights.h5`` file (float32, about 29 MB).

Training is seeded (``keras.utils.set_random_seed(seed)``); on CPU, runs with
the same arguments give the same weights up to floating-point reduction order.

Two-stage schedule
------------------
Training at 320 costs about twice as much per step as at 224, so the
recommended recipe trains most steps at a smaller size and finishes at 320
with ``--init``::

    python -m training.densenet --size 224 --steps N1 --out /tmp/stage1.weights.h5 --recalibrate-batches 0 --eval-n 0
    python -m training.densenet --size 320 --steps N2 --init /tmp/stage1.weights.h5 --lr 3e-4
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from training.loop import (
    add_common_options,
    check_arguments,
    common_arguments,
    make_train_step,
    run_training,
    save_weights,
)
from util.config.course import LABELS, TRAIN_SEED_HI, TRAIN_SEED_LO
from util.config.seeding import seeded_rng
from util.models.densenet import recalibrate_batchnorm

__all__ = [
    "MEAN_STD_JITTER",
    "STATS_SEEDS",
    "TRAIN_SEED_HI",
    "TRAIN_SEED_LO",
    "build_model",
    "evaluation_batch",
    "learning_rate_schedule",
    "main",
    "make_batch",
    "parser",
    "per_label_auc",
    "phantom_mean_std",
    "predict",
    "recalibrate",
    "recalibrate_and_evaluate",
    "recalibrate_batchnorm",
    "sampling_rates",
    "train",
]

#: Seed stream keys under the run's seed.
_STREAM_TRAIN, _STREAM_RECAL, _STREAM_EVAL, _STREAM_STATS, _STREAM_JITTER = 1, 2, 3, 4, 5
#: Fixed sample the normalisation statistics are measured on (independent of --seed).
STATS_SEEDS = range(TRAIN_SEED_HI, TRAIN_SEED_HI + 100)
MEAN_STD_JITTER = 0.05


# --------------------------------------------------------------------------- data


def sampling_rates(floor):
    """Per-label probability that a training image contains the finding: ``max(p, floor)``."""
    from util.data.phantoms import PREVALENCE

    if not 0.0 <= floor < 1.0:
        raise ValueError(f"floor must be in [0, 1); got {floor}.")
    return np.array([max(PREVALENCE[label], floor) for label in LABELS], dtype=np.float64)


def phantom_mean_std(size, seeds=STATS_SEEDS):
    """Mean and std (0-255 scale) of phantoms drawn at prevalence, over every pixel of the sample."""
    from util.data.phantoms import generate_phantom

    total, total_sq, n = 0.0, 0.0, 0
    for s in seeds:
        img = generate_phantom(int(s), size=size)[0].astype(np.float64)
        total += img.sum()
        total_sq += (img**2).sum()
        n += img.size
    mean = total / n
    return float(mean), float(np.sqrt(max(total_sq / n - mean**2, 0.0)))


def make_batch(rng, size, batch_size, mean, std, rates=None, jitter=0.0):
    """Generate one batch of phantoms and their labels.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the image seeds (in ``[TRAIN_SEED_LO, TRAIN_SEED_HI)``), the
        forced findings and the mean/std jitter.
    size, batch_size : int
    mean, std : float
        Normalisation statistics (0-255 scale).
    rates : array of shape (14,), optional
        Probability of forcing each finding (``LABELS`` order); None draws
        the findings at the data set's prevalence.
    jitter : float
        Relative jitter of ``mean`` and ``std`` per image (uniform in ±jitter).

    Returns
    -------
    x : float32 (batch_size, size, size, 3)
    y : float32 (batch_size, 14)
    masks : list of dict label -> bool mask
    """
    from util.data.phantoms import generate_phantom
    from util.models.densenet import standardize

    xs, ys, masks = [], [], []
    for _ in range(batch_size):
        seed = int(rng.integers(TRAIN_SEED_LO, TRAIN_SEED_HI))
        findings = None if rates is None else [lab for lab, q in zip(LABELS, rates) if rng.random() < q]
        img, m = generate_phantom(seed, size=size, findings=findings)
        mu = mean * (1 + jitter * rng.uniform(-1, 1)) if jitter else mean
        sd = std * (1 + jitter * rng.uniform(-1, 1)) if jitter else std
        xs.append(standardize(img, mu, sd))
        ys.append([label in m for label in LABELS])
        masks.append(m)
    return np.stack(xs), np.asarray(ys, dtype=np.float32), masks


# --------------------------------------------------------------------------- evaluation


def predict(model, x, batch_size=16):
    """Inference-mode predictions, ``model(x, training=False)``, in batches."""
    out = [np.asarray(model(x[i : i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, len(LABELS)), np.float32)


def per_label_auc(y_true, y_pred):
    """AUC per label (``nan`` where a label has one class only)."""
    from sklearn.metrics import roc_auc_score

    aucs = []
    for j in range(y_true.shape[1]):
        col = y_true[:, j]
        aucs.append(float(roc_auc_score(col, y_pred[:, j])) if 0 < col.sum() < len(col) else float("nan"))
    return np.array(aucs)


def _report(tag, y, p):
    aucs = per_label_auc(y, p)
    spread = float(p.std(axis=0).mean())
    print(f"[{tag}] mean AUC {np.nanmean(aucs):.3f} | prediction std across images {spread:.4f}", flush=True)
    print("   " + " ".join(f"{lab[:6]}={a:.2f}" for lab, a in zip(LABELS, aucs)), flush=True)
    return aucs


# --------------------------------------------------------------------------- training


def learning_rate_schedule(lr, lr_final, steps):
    """Constant ``lr``, or a cosine decay from ``lr`` to ``lr_final`` over ``steps``.

    Parameters
    ----------
    lr : float
        Initial (or constant) learning rate, > 0.
    lr_final : float or None
        Learning rate reached at the last step; None keeps ``lr`` constant.
    steps : int
        Number of optimiser steps the decay spans.

    Returns
    -------
    float or keras.optimizers.schedules.LearningRateSchedule
    """
    import keras

    if not lr > 0:
        raise ValueError(f"--lr must be > 0; got {lr}.")
    if lr_final is None:
        return lr
    if not 0 <= lr_final <= lr:
        raise ValueError(f"--lr-final must be in [0, --lr] = [0, {lr}]; got {lr_final}.")
    return keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(steps, 1), alpha=lr_final / lr)


def build_model(init=None):
    """The course DenseNet121 (14 sigmoid outputs), with the weights of ``init`` when given."""
    from util.models.densenet import build_densenet121

    model = build_densenet121(len(LABELS))
    if init is not None:
        model.load_weights(str(init))
        print(f"initialised from {init}", flush=True)
    return model


def recalibrate(model, seed, batch_size, n_batches, size):
    """Replace every BatchNorm layer's moving statistics by their mean over ``n_batches`` fresh batches.

    The batches are drawn at prevalence from the run's recalibration seed stream, at ``size`` px.
    """
    rng_recal = seeded_rng(seed, _STREAM_RECAL)
    rmean, rstd = phantom_mean_std(size)
    batches = (make_batch(rng_recal, size, batch_size, rmean, rstd, rates=None)[0] for _ in range(n_batches))
    t0 = time.perf_counter()
    n = recalibrate_batchnorm(model, batches)
    print(f"recalibrated BatchNorm on {n} batches at {size} px ({time.perf_counter() - t0:.0f} s)", flush=True)


def evaluation_batch(seed, size, n):
    """``n`` phantoms at prevalence from the run's evaluation seed stream, standardised at ``size`` px."""
    eval_mean, eval_std = phantom_mean_std(size)
    rng_eval = seeded_rng(seed, _STREAM_EVAL)
    x, y, _ = make_batch(rng_eval, size, n, eval_mean, eval_std)
    return x, y


def recalibrate_and_evaluate(model, seed, batch_size, recalibrate_batches, recalibrate_size, eval_n):
    """Per-label AUC on ``eval_n`` phantoms before and after the BatchNorm recalibration (:func:`recalibrate`).

    Returns
    -------
    auc_before, auc_after : numpy.ndarray
        Empty when ``eval_n == 0``; ``auc_after`` is also empty when ``recalibrate_batches == 0``.
    """
    auc_before = auc_after = np.array([])
    if eval_n:
        eval_x, eval_y = evaluation_batch(seed, recalibrate_size, eval_n)
        auc_before = _report("inference mode, before BN recalibration", eval_y, predict(model, eval_x))
    if recalibrate_batches:
        recalibrate(model, seed, batch_size, recalibrate_batches, recalibrate_size)
        if eval_n:
            auc_after = _report("inference mode, after BN recalibration", eval_y, predict(model, eval_x))
    return auc_before, auc_after


def train(
    size=256,
    steps=400,
    batch_size=16,
    seed=0,
    lr=1e-3,
    lr_final=None,
    floor=0.15,
    out=None,
    init=None,
    recalibrate_batches=24,
    recalibrate_size=320,
    eval_n=128,
    log_every=10,
    eager=False,
):
    """Train, recalibrate BatchNorm, evaluate briefly and save; see the module docstring.

    ``eager=True`` runs the training step without ``tf.function`` (no minute
    of tracing: for smoke tests on tiny images).

    Returns
    -------
    dict
        ``out`` (path written), ``seconds_per_step``, ``final_loss``,
        ``mean``/``std`` (normalisation statistics), ``auc_before``/
        ``auc_after`` recalibration (arrays, empty when ``eval_n == 0``) and ``model``.
    """
    import keras

    from training.losses import get_weighted_loss
    from util.models.densenet import WEIGHTS_FILE

    out = check_arguments(size, steps, batch_size, recalibrate_batches, eval_n, out, WEIGHTS_FILE)
    keras.utils.set_random_seed(seed)
    rates = sampling_rates(floor)
    mean, std = phantom_mean_std(size)
    print(f"normalisation: mean {mean:.2f}, std {std:.2f} (0-255 scale, 100 phantoms at {size} px)", flush=True)

    model = build_model(init)
    loss_fn = get_weighted_loss(1.0 - rates, rates)
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate_schedule(lr, lr_final, steps))
    rng_train = seeded_rng(seed, _STREAM_TRAIN)
    batches = (
        make_batch(rng_train, size, batch_size, mean, std, rates, jitter=MEAN_STD_JITTER)[:2] for _ in range(steps)
    )
    run = run_training(make_train_step(model, loss_fn, optimizer, eager), batches, steps, log_every)

    auc_before, auc_after = recalibrate_and_evaluate(
        model, seed, batch_size, recalibrate_batches, recalibrate_size, eval_n
    )
    n_bytes = save_weights(model, out)
    print(f"wrote {out} ({n_bytes / 1e6:.1f} MB); {run.seconds_per_step:.2f} s/step at {size} px, batch {batch_size}",
          flush=True)
    return {
        "out": out,
        "seconds_per_step": run.seconds_per_step,
        "final_loss": run.final_loss,
        "mean": mean,
        "std": std,
        "auc_before": auc_before,
        "auc_after": auc_after,
        "model": model,
    }


def parser():
    """The command line of ``python -m training.densenet``: the common options and DenseNet's own."""
    p = argparse.ArgumentParser(
        prog="python -m training.densenet",
        description="Train DenseNet121 on fresh chest X-ray phantoms, recalibrate BatchNorm, save .weights.h5.",
    )
    add_common_options(p, size=256, steps=400, batch_size=16, lr=1e-3, recalibrate_batches=24, eval_n=128,
                       log_every=10, out="data/models/densenet121_phantoms.weights.h5",
                       lr_help="Adam learning rate, constant or decayed to --lr-final")
    p.add_argument(
        "--lr-final", type=float, default=None,
        help="cosine-decay the learning rate from --lr to this value over --steps (default: constant --lr)",
    )
    p.add_argument("--floor", type=float, default=0.15, help="minimum per-label sampling rate (default 0.15)")
    p.add_argument("--init", default=None, help="start from these weights (.weights.h5) instead of random")
    p.add_argument("--recalibrate-size", type=int, default=320,
                   help="image size for recalibration and the quick evaluation (default 320)")
    return p


def main(argv=None):
    """``python -m training.densenet``: parse ``argv`` and :func:`train`; return the exit status."""
    args = parser().parse_args(argv)
    train(**common_arguments(args), lr_final=args.lr_final, floor=args.floor, init=args.init,
          recalibrate_size=args.recalibrate_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
from pathlib import Path

import numpy as np

from util.config.course import LABELS, TRAIN_SEED_HI, TRAIN_SEED_LO
from util.models.densenet import recalibrate_batchnorm

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
        ``mean``/``std`` (normalisation statistics) and ``auc_before``/
        ``auc_after`` recalibration (arrays, empty when ``eval_n == 0``).
    """
    import keras
    import tensorflow as tf

    from util.models.densenet import WEIGHTS_FILE, build_densenet121
    from training.losses import get_weighted_loss

    if steps < 0 or batch_size < 1 or size < 64 or recalibrate_batches < 0 or eval_n < 0:
        raise ValueError("steps, recalibrate_batches and eval_n must be >= 0, batch_size >= 1 and size >= 64.")
    out = Path(out) if out is not None else WEIGHTS_FILE
    if not out.name.endswith(".weights.h5"):
        raise ValueError(f"--out must end with .weights.h5 (Keras 3 weights file); got {out}.")

    keras.utils.set_random_seed(seed)
    rates = sampling_rates(floor)
    mean, std = phantom_mean_std(size)
    print(f"normalisation: mean {mean:.2f}, std {std:.2f} (0-255 scale, 100 phantoms at {size} px)", flush=True)

    model = build_densenet121(len(LABELS))
    if init is not None:
        model.load_weights(str(init))
        print(f"initialised from {init}", flush=True)
    loss_fn = get_weighted_loss(1.0 - rates, rates)
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate_schedule(lr, lr_final, steps))

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    if not eager:  # tracing costs about a minute once, then each step is faster
        train_step = tf.function(train_step, reduce_retracing=True)

    rng_train = np.random.default_rng(np.random.SeedSequence([seed, _STREAM_TRAIN]))
    t_start, t_timed, losses = time.perf_counter(), None, []
    for step in range(1, steps + 1):
        x, y, _ = make_batch(rng_train, size, batch_size, mean, std, rates, jitter=MEAN_STD_JITTER)
        losses.append(float(train_step(x, y)))
        if step == 1:
            t_timed = time.perf_counter()  # exclude tracing from the timing
        if step % log_every == 0 or step == steps:
            el = time.perf_counter() - t_start
            print(f"step {step}/{steps} loss {np.mean(losses[-log_every:]):.4f} ({el:.0f} s)", flush=True)
    sec_per_step = (time.perf_counter() - t_timed) / (steps - 1) if steps > 1 else float("nan")

    eval_x = eval_y = None
    auc_before = auc_after = np.array([])
    if eval_n:
        eval_mean, eval_std = phantom_mean_std(recalibrate_size)
        rng_eval = np.random.default_rng(np.random.SeedSequence([seed, _STREAM_EVAL]))
        eval_x, eval_y, _ = make_batch(rng_eval, recalibrate_size, eval_n, eval_mean, eval_std)
        auc_before = _report("inference mode, before BN recalibration", eval_y, predict(model, eval_x))

    if recalibrate_batches:
        rng_recal = np.random.default_rng(np.random.SeedSequence([seed, _STREAM_RECAL]))
        rmean, rstd = phantom_mean_std(recalibrate_size)
        batches = (
            make_batch(rng_recal, recalibrate_size, batch_size, rmean, rstd, rates=None)[0]
            for _ in range(recalibrate_batches)
        )
        t0 = time.perf_counter()
        n = recalibrate_batchnorm(model, batches)
        print(f"recalibrated BatchNorm on {n} batches at {recalibrate_size} px ({time.perf_counter() - t0:.0f} s)", flush=True)
        if eval_n:
            auc_after = _report("inference mode, after BN recalibration", eval_y, predict(model, eval_x))

    out.parent.mkdir(parents=True, exist_ok=True)
    import warnings

    with warnings.catch_warnings():  # Keras 3.15 + NumPy 2 warn once per variable (__array__ copy keyword)
        warnings.simplefilter("ignore", DeprecationWarning)
        model.save_weights(str(out))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB); {sec_per_step:.2f} s/step at {size} px, batch {batch_size}", flush=True)
    return {
        "out": out,
        "seconds_per_step": sec_per_step,
        "final_loss": losses[-1] if losses else float("nan"),
        "mean": mean,
        "std": std,
        "auc_before": auc_before,
        "auc_after": auc_after,
        "model": model,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m training.densenet",
        description="Train DenseNet121 on fresh chest X-ray phantoms, recalibrate BatchNorm, save .weights.h5.",
    )
    parser.add_argument("--size", type=int, default=256, help="training image size in pixels (default 256)")
    parser.add_argument("--steps", type=int, default=400, help="optimiser steps (default 400)")
    parser.add_argument("--batch-size", type=int, default=16, help="images per step (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="run seed: initialisation and image seeds (default 0)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    parser.add_argument(
        "--lr-final", type=float, default=None,
        help="cosine-decay the learning rate from --lr to this value over --steps (default: constant --lr)",
    )
    parser.add_argument("--floor", type=float, default=0.15, help="minimum per-label sampling rate (default 0.15)")
    parser.add_argument("--init", default=None, help="start from these weights (.weights.h5) instead of random")
    parser.add_argument("--recalibrate-batches", type=int, default=24, help="batches for BatchNorm recalibration (0 skips; default 24)")
    parser.add_argument("--recalibrate-size", type=int, default=320, help="image size for recalibration and the quick evaluation (default 320)")
    parser.add_argument("--eval-n", type=int, default=128, help="phantoms for the quick AUC check (0 skips; default 128)")
    parser.add_argument("--out", default=None, help="weights file to write (default data/models/densenet121_phantoms.weights.h5)")
    parser.add_argument("--log-every", type=int, default=10, help="print the loss every N steps (default 10)")
    args = parser.parse_args(argv)
    train(
        size=args.size,
        steps=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        lr=args.lr,
        lr_final=args.lr_final,
        floor=args.floor,
        out=args.out,
        init=args.init,
        recalibrate_batches=args.recalibrate_batches,
        recalibrate_size=args.recalibrate_size,
        eval_n=args.eval_n,
        log_every=max(1, args.log_every),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

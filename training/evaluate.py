"""Evaluate the course model on held-out phantoms and update its model card.

Usage
-----
::

    python -m training.evaluate [--weights data/models/densenet121_phantoms.weights.h5]
                            [--n 2000] [--size 320] [--batch-size 16] [--floor 0.15]
                            [--max-cams 50] [--tolerance 15] [--threshold 0.5]
                            [--card data/models/MODEL_CARD.md | --no-card]

What it measures
----------------
* **Held-out set.** ``--n`` phantoms with image seeds ``EVAL_SEED_BASE + i``
  (``EVAL_SEED_BASE = 2**42``), a range that training (``[2**40, 2**41)``, see
  :mod:`training.densenet`) and the data set never use. Findings are forced per
  image with probability ``max(PREVALENCE, floor)`` drawn from
  ``SeedSequence([EVAL_SEED_BASE, 0])``, so every label has enough positives
  (AUC does not depend on prevalence; the pointing game needs positives).
* **Pre-processing** as at inference: ``(image - mean) / std`` with the
  mean/std of :func:`training.densenet.phantom_mean_std` at ``--size``.
* **AUC** per label from inference-mode predictions (``training=False``).
* **Localization** on true positives (finding present and predicted
  probability ≥ ``--threshold``), at most ``--max-cams`` per label (the
  first ones in seed order): Grad-CAM of ``conv5_block16_concat``
  (:func:`util.explain.gradcam.grad_cam`'s maps, drawn from the same forward pass as the
  predictions by :func:`util.explain.gradcam.predictions_and_raw_cams`), scored with
  :func:`util.metrics.localization.pointing_game` (tolerance ``--tolerance`` px) and
  :func:`util.metrics.localization.energy_pointing`. "Mask share" is the mean share of
  the image the mask covers: the energy a uniform map would score.
* **Strictly, and against a map that ignores the image.** The same maps are
  also scored with no tolerance (the maximum must lie inside the mask, the
  CheXlocalize protocol), and each label's *location prior*
  (:func:`util.metrics.localization.location_prior`: the mean of that label's masks on
  the course's training films, ``train-small.csv``, read with
  :func:`util.data.chestxray.load_mask`) is scored on the same films at both
  tolerances. Grad-CAM only shows that it looks at *this* film where it
  beats the prior.

The table replaces what lies between ``<!-- metrics:start -->`` and
``<!-- metrics:end -->`` in the model card (the markers are appended when
missing; the file is created when it does not exist).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from training.cam_scores import CamScores, mean_or_nan
from util.config.course import EVAL_SEED_BASE, LABELS
from util.config.paths import MODELS_DIR

__all__ = [
    "CARD_FILE",
    "EVAL_SEED_BASE",
    "MARK_END",
    "MARK_START",
    "eval_findings",
    "evaluate",
    "label_rows",
    "main",
    "metrics_table",
    "predict_and_score",
    "training_priors",
    "update_card",
]

MARK_START = "<!-- metrics:start -->"
MARK_END = "<!-- metrics:end -->"
CARD_FILE = MODELS_DIR / "MODEL_CARD.md"


def eval_findings(n, floor):
    """The forced findings of held-out image ``i`` (list of label lists), seeded by EVAL_SEED_BASE."""
    from training.densenet import sampling_rates

    rates = sampling_rates(floor)
    rng = np.random.default_rng(np.random.SeedSequence([EVAL_SEED_BASE, 0]))
    draws = rng.random((n, len(LABELS)))
    return [[lab for lab, u, q in zip(LABELS, row, rates) if u < q] for row in draws]


def predict_and_score(model, findings, scores, *, size, mean, std, batch_size, threshold, layer_name,
                      progress=None):
    """Predict the held-out films batch by batch in seed order and score their true positives' Grad-CAM.

    Each batch's forward pass gives the predictions and every label's Grad-CAM weighted sum
    (:mod:`util.explain.gradcam` differentiates only the head); a true positive is scored as soon as
    it is seen, so the first ``max_cams`` of each label in seed order are scored.

    Parameters
    ----------
    model : keras.Model
    findings : list of list of str
        The forced findings of film ``i`` (:func:`eval_findings`); its seed is ``EVAL_SEED_BASE + i``.
    scores : training.cam_scores.CamScores
        Receives the true positives' scores.
    size : int
    mean, std : float
        Normalisation statistics (0-255 scale).
    batch_size : int
    threshold : float
        Probability of a positive call.
    layer_name : str
        The layer Grad-CAM explains.
    progress : callable, optional
        ``progress(done, batch_index)`` after each batch.

    Returns
    -------
    numpy.ndarray of shape (len(findings), 14)
        The predicted probabilities.
    """
    from util.data.phantoms import generate_phantom
    from util.explain.gradcam import predictions_and_raw_cams
    from util.models.densenet import standardize

    n, preds = len(findings), []
    for start in range(0, n, batch_size):
        idx = range(start, min(n, start + batch_size))
        phantoms = [generate_phantom(EVAL_SEED_BASE + i, size, findings[i]) for i in idx]
        x = np.stack([standardize(img, mean, std) for img, _ in phantoms])
        p_batch, raw = predictions_and_raw_cams(model, x, None, layer_name)
        preds.append(p_batch)
        for row, i in enumerate(idx):
            truth = [lab in findings[i] for lab in LABELS]
            scores.add_film(truth, p_batch[row], raw[row], phantoms[row][1], threshold, size)
        if progress is not None:
            progress(idx.stop, start // batch_size)
    return np.concatenate(preds)


def label_rows(y, aucs, scores, verbose=False):
    """One model-card row per label: positives, AUC and the mean localization scores (see :func:`evaluate`)."""
    rows = []
    for j, label in enumerate(LABELS):
        rows.append({"label": label, "positives": int(y[:, j].sum()), "auc": float(aucs[j]), **scores.summary(label)})
        if verbose:
            r = rows[-1]
            print(f"{label:<18} AUC {r['auc']:.3f}  pointing {r['pointing_game']:.2f} on {r['scored']} TP", flush=True)
    return rows


def evaluate(
    weights=None,
    n=2000,
    size=320,
    batch_size=16,
    floor=0.15,
    max_cams=50,
    tolerance=15,
    threshold=0.5,
    layer_name="conv5_block16_concat",
    verbose=True,
):
    """Compute per-label AUC and localization scores on held-out phantoms.

    Returns
    -------
    dict
        ``rows``: one dict per label (``label``, ``positives``, ``auc``,
        ``scored``, ``pointing_game``, ``energy``, ``mask_share``,
        ``pointing_strict``, ``prior_pointing``, ``prior_strict``) and
        ``mean_auc``, ``n``, ``size``, ``floor``, ``tolerance``, ``threshold``,
        ``max_cams``, ``mean``, ``std``, ``weights_sha256``, ``seconds``.
    """
    from training.densenet import per_label_auc, phantom_mean_std
    from util.models.densenet import load_C3M3_model, weights_digest

    if n < 2 or batch_size < 1 or max_cams < 0:
        raise ValueError("n must be >= 2, batch_size >= 1 and max_cams >= 0.")
    t0 = time.perf_counter()
    model = load_C3M3_model(weights_path=weights)
    mean, std = phantom_mean_std(size)
    findings = eval_findings(n, floor)
    y = np.array([[lab in f for lab in LABELS] for f in findings], dtype=np.float32)
    scores = CamScores(training_priors(size), tolerance, max_cams)

    def progress(done, batch_index):
        if verbose and batch_index % 10 == 0:
            print(f"predicted and explained {done}/{n} ({time.perf_counter() - t0:.0f} s)", flush=True)

    p = predict_and_score(model, findings, scores, size=size, mean=mean, std=std, batch_size=batch_size,
                          threshold=threshold, layer_name=layer_name, progress=progress)
    aucs = per_label_auc(y, p)
    return {
        "rows": label_rows(y, aucs, scores, verbose),
        "mean_auc": float(np.nanmean(aucs)),
        "n": n,
        "size": size,
        "floor": floor,
        "tolerance": tolerance,
        "threshold": threshold,
        "max_cams": max_cams,
        "mean": mean,
        "std": std,
        "weights_sha256": weights_digest(weights),
        "seconds": time.perf_counter() - t0,
    }


def training_priors(size, split="train-small.csv"):
    """Each label's location prior at ``size`` px: the mean of its masks on the course's training films.

    Parameters
    ----------
    size : int
        Side of the held-out phantoms; masks of another size are resized (nearest neighbour).
    split : str
        The split whose films' masks are averaged (read with :func:`util.data.chestxray.load_mask`).

    Returns
    -------
    dict
        label -> float64 (size, size) map from :func:`util.metrics.localization.location_prior`.

    Raises
    ------
    FileNotFoundError
        The data folder has no lesion masks (real data): the prior needs the phantoms' masks.
    """
    import cv2

    from util.data.chestxray import ensure_chestxray_data, load_mask, load_split
    from util.metrics.localization import location_prior

    folder = ensure_chestxray_data()
    if not (folder / "masks").is_dir():
        raise FileNotFoundError(
            f"{folder} has no masks/ folder: the location prior needs the phantoms' lesion masks "
            "(real NIH data has none); unset MEDXAI_DATA_DIR to evaluate on the generated data."
        )
    df = load_split(split)
    priors = {}
    for label in LABELS:
        masks = [load_mask(folder, name, label) for name in df.loc[df[label] == 1, "Image"]]
        if masks and masks[0].shape != (size, size):
            masks = [cv2.resize(m.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST) > 0 for m in masks]
        priors[label] = location_prior(masks)
    return priors


def _fmt(v, digits=3):
    return "—" if v != v else f"{v:.{digits}f}"  # nan -> dash


def metrics_table(result):
    """The markdown block (markers included) for the model card."""
    rows = result["rows"]
    lines = [
        MARK_START,
        f"Weights SHA-256 `{result['weights_sha256']}`. "
        f"Held-out phantoms: n = {result['n']} at {result['size']}×{result['size']}, image seeds "
        f"2**42 + i, findings forced with probability max(prevalence, {result['floor']}); "
        f"normalisation mean {result['mean']:.2f}, std {result['std']:.2f}. "
        f"Localization: Grad-CAM of conv5_block16_concat on true positives (p ≥ {result['threshold']}, "
        f"at most {result['max_cams']} per label); pointing game tolerance {result['tolerance']} px. "
        "Strict: the same maps with no tolerance (maximum inside the mask). Prior: each label's mean "
        "training mask (train-small.csv), a map that ignores the image, scored on the same films. "
        "Regenerate with `python -m training.evaluate`.",
        "",
        "| Label | Positives | AUC | TP scored | Pointing game | Energy in mask | Mask share "
        f"| Pointing game, strict | Prior, {result['tolerance']:g} px | Prior, strict |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    extra = ("pointing_strict", "prior_pointing", "prior_strict")
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['positives']} | {_fmt(r['auc'])} | {r['scored']} | "
            f"{_fmt(r['pointing_game'], 2)} | {_fmt(r['energy'], 2)} | {_fmt(r['mask_share'], 3)} |"
            + "".join(f" {_fmt(r.get(k, float('nan')), 2)} |" for k in extra)
        )
    scored = [r for r in rows if r["scored"]]

    def col_mean(key):
        return _fmt(mean_or_nan([r.get(key, float("nan")) for r in scored]), 2)

    lines.append(
        f"| **Mean** | | **{_fmt(result['mean_auc'])}** | {sum(r['scored'] for r in rows)} | "
        f"{col_mean('pointing_game')} | {col_mean('energy')} | |"
        + "".join(f" {col_mean(k)} |" for k in extra)
    )
    lines.append(MARK_END)
    return "\n".join(lines)


def update_card(block, card=CARD_FILE):
    """Replace the text between the metrics markers in ``card`` with ``block`` (markers included)."""
    card = Path(card)
    if card.is_file():
        text = card.read_text(encoding="utf-8")
    else:
        card.parent.mkdir(parents=True, exist_ok=True)
        text = "# Model card: DenseNet121 on chest X-ray phantoms\n\n## Metrics\n\n"
    start, end = text.find(MARK_START), text.find(MARK_END)
    if start != -1 and end != -1 and end > start:
        text = text[:start] + block + text[end + len(MARK_END) :]
    elif start == -1 and end == -1:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    else:
        raise ValueError(f"{card} has only one of {MARK_START} / {MARK_END} (or in the wrong order); fix the markers.")
    card.write_text(text, encoding="utf-8")
    return card


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=None,
                        help="weights file (default data/models/densenet121_phantoms.weights.h5)")
    parser.add_argument("--n", type=int, default=2000, help="held-out phantoms (default 2000)")
    parser.add_argument("--size", type=int, default=320, help="image size (default 320)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--floor", type=float, default=0.15, help="minimum per-label rate of findings (default 0.15)")
    parser.add_argument("--max-cams", type=int, default=50, help="true positives scored per label (default 50)")
    parser.add_argument("--tolerance", type=float, default=15, help="pointing game tolerance in px (default 15)")
    parser.add_argument("--threshold", type=float, default=0.5, help="probability for a positive call (default 0.5)")
    parser.add_argument("--card", default=str(CARD_FILE),
                        help="model card to update (default data/models/MODEL_CARD.md)")
    parser.add_argument("--no-card", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    result = evaluate(
        weights=args.weights, n=args.n, size=args.size, batch_size=args.batch_size, floor=args.floor,
        max_cams=args.max_cams, tolerance=args.tolerance, threshold=args.threshold,
    )
    block = metrics_table(result)
    print(block)
    if not args.no_card:
        print(f"updated {update_card(block, args.card)} ({result['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

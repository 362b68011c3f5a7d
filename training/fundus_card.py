"""The fundus CNN's model card, rendered from ``training/templates/fundus_*.md`` (maintainers).

:func:`model_card` turns a run of :func:`training.fundus.train` into the values of the card's
placeholders; the prose lives in the templates (:mod:`training.card_template`). Only the confusion
matrix, a table whose size follows the grades, is laid out here.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from training.card_template import render
from util.config.course import FUNDUS_CAM_LAYER
from util.config.paths import MODELS_DIR
from util.data.fundus import GRADE_NAMES, GRADES

__all__ = ["CARD_FILE", "TRAIN_COMMAND", "confusion_table", "evaluation_section", "model_card"]

#: The model card written beside the weights.
CARD_FILE = MODELS_DIR / "FUNDUS_MODEL_CARD.md"
#: The command that trains the shipped weights (recorded in the model card).
TRAIN_COMMAND = "python -m training.fundus"


def confusion_table(m):
    """Markdown table of a confusion matrix ``m`` (rows: true grade), with each grade's recall."""
    head = "| true \\ predicted | " + " | ".join(str(g) for g in GRADES) + " | recall |"
    sep = "|---" * (len(GRADES) + 2) + "|"
    rows = []
    for g in GRADES:
        total = max(int(m[g].sum()), 1)
        counts = " | ".join(str(int(v)) for v in m[g])
        rows.append(f"| {g} {GRADE_NAMES[g]} | {counts} | {m[g, g] / total:.2f} |")
    return "\n".join([head, sep, *rows])


def evaluation_section(before, after, eval_n):
    """The card's evaluation: the last metrics (after recalibration if any), or a note that there were none.

    Parameters
    ----------
    before, after : dict or None
        :func:`training.fundus.evaluate_fundus_model`'s metrics before and after the BatchNorm recalibration.
    eval_n : int
        Held-out phantoms evaluated.

    Returns
    -------
    str
    """
    final = after if after is not None else before
    if final is None:
        return render("fundus_not_evaluated.md", {})
    before_row = ""
    if before is not None and after is not None:
        before_row = render("fundus_before_recalibration.md",
                            {"accuracy": f"{before['accuracy']:.3f}", "kappa": f"{before['kappa']:.3f}"})
    return render("fundus_evaluation.md", {
        "eval_n": eval_n,
        "per_grade": eval_n // len(GRADES),
        "accuracy": f"{final['accuracy']:.3f}",
        "kappa": f"{final['kappa']:.3f}",
        "mae": f"{final['mae']:.3f}",
        "before_recalibration": before_row,
        "confusion_table": confusion_table(final["confusion"]),
    })


def model_card(model, result, *, size, steps, batch_size, seed, lr, recalibrate_batches, eval_n):
    """The model card's Markdown text (see ``data/models/FUNDUS_MODEL_CARD.md``).

    Parameters
    ----------
    model : keras.Model
        The trained model (its parameter count).
    result : dict
        :func:`training.fundus.train`'s result: ``out`` (an existing weights file), ``command``,
        ``train_seconds``, ``seconds_per_step``, ``total_seconds``, ``before``, ``after``.
    size, steps, batch_size, seed, lr, recalibrate_batches, eval_n
        The run's arguments (``size`` is recorded through ``command``).

    Returns
    -------
    str
    """
    import keras
    import tensorflow as tf

    out = Path(result["out"])
    return render("fundus_model_card.md", {
        "train_command": TRAIN_COMMAND,
        "n_params": f"{int(model.count_params()):,}",
        "weights_name": out.name,
        "weights_mb": f"{out.stat().st_size / 1e6:.2f}",
        "cam_layer": FUNDUS_CAM_LAYER,
        "command": result["command"],
        "steps": steps,
        "batch_size": batch_size,
        "n_images": f"{steps * batch_size:,}",
        "lr": f"{lr:g}",
        "seed": seed,
        "recalibrate_batches": recalibrate_batches,
        "train_seconds": f"{result['train_seconds']:.0f}",
        "seconds_per_step": f"{result['seconds_per_step']:.2f}",
        "total_seconds": f"{result['total_seconds']:.0f}",
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "evaluation": evaluation_section(result["before"], result["after"], eval_n),
    })

"""ROC curves and AUC per label of the multi-label classifier (C1W1's evaluation)."""

from __future__ import annotations

import numpy as np

__all__ = ["get_roc_curve"]


def get_roc_curve(labels, predicted_vals, ground_truth, *, ax=None):
    """Plot one ROC curve per label and return the AUCs.

    Parameters
    ----------
    labels : list of str
        Label names, in the column order of ``predicted_vals``.
    predicted_vals : array-like of shape (n_images, n_labels)
        Predicted probabilities, higher meaning the finding is more likely.
    ground_truth : array-like or pandas.DataFrame
        Binary truth. Either an array of the same shape as ``predicted_vals``
        (columns in ``labels`` order) or a DataFrame/generator with one column
        per label, selected by name.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new 10×10 inch figure is made when omitted.

    Returns
    -------
    list of float
        One AUC per label, ``nan`` where a label has only one class in
        ``ground_truth`` (its curve is then skipped and a note printed).

    Raises
    ------
    ValueError
        If shapes disagree, or ``ground_truth`` lacks a label column.
    """
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    pred = np.asarray(predicted_vals, dtype=np.float64)
    truth = _truth_matrix(labels, ground_truth)
    if pred.ndim != 2 or pred.shape[1] != len(labels):
        raise ValueError(
            f"predicted_vals must have shape (n_images, {len(labels)}) to match labels; got {pred.shape}."
        )
    if truth.shape != pred.shape:
        raise ValueError(
            f"ground_truth has shape {truth.shape} but predicted_vals has shape {pred.shape}."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 10))
    aucs = []
    for i, label in enumerate(labels):
        y, p = truth[:, i], pred[:, i]
        if y.min() == y.max():
            print(f"{label}: only one class present in ground truth; AUC not defined.")
            aucs.append(float("nan"))
            continue
        auc = float(roc_auc_score(y, p))
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{label} (AUC {auc:.3f})")
        aucs.append(auc)
    ax.plot([0, 1], [0, 1], "k--", linewidth=0.8)
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    ax.set_title("ROC curve")
    ax.legend(loc="lower right")
    return aucs



def _truth_matrix(labels, ground_truth):
    """Return ground truth as an (n, n_labels) int array in ``labels`` order."""
    columns = getattr(ground_truth, "columns", None)
    if columns is not None:
        missing = [lab for lab in labels if lab not in columns]
        if missing:
            raise ValueError(f"ground_truth has no column(s) {missing}; expected one column per label.")
        return ground_truth[list(labels)].to_numpy().astype(int)
    labels_attr = getattr(ground_truth, "labels", None)  # course-style generator
    if labels_attr is not None:
        return np.asarray(labels_attr).astype(int)
    return np.asarray(ground_truth).astype(int)

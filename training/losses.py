"""The class-weighted loss the course model is trained with (maintainer only).

These are C1W1's graded exercises solved: :func:`compute_class_freqs` and
:func:`get_weighted_loss`. They live here, outside the student library
``util``, so that nothing a student installs or imports answers an exercise.
:mod:`training.densenet` trains the course DenseNet121 with them;
``tests/util/models/test_densenet.py`` tests them and ``tests/grading/test_c1w1_release.py`` checks that
they pass C1W1's hidden checks.
"""

from __future__ import annotations

import numpy as np

from util.config.quiet import import_keras

__all__ = ["compute_class_freqs", "get_weighted_loss", "prevalence_weights"]


def compute_class_freqs(labels):
    """Return the frequency of positive and negative examples of each label.

    Parameters
    ----------
    labels : array-like of shape (n_examples, n_labels)
        Binary ground truth (0/1 or bool), one row per image.

    Returns
    -------
    positive_frequencies : numpy.ndarray of shape (n_labels,)
        Share of images on which each label is present.
    negative_frequencies : numpy.ndarray of shape (n_labels,)
        ``1 - positive_frequencies``.

    Raises
    ------
    ValueError
        If ``labels`` is not a non-empty 2-D binary array.

    Examples
    --------
    >>> pos, neg = compute_class_freqs([[1, 0], [0, 0], [1, 1], [1, 0]])
    >>> pos.tolist(), neg.tolist()
    ([0.75, 0.25], [0.25, 0.75])
    """
    y = np.asarray(labels)
    if y.ndim != 2 or y.shape[0] == 0:
        raise ValueError(f"labels must be a 2-D array (n_examples, n_labels) with at least one row; got shape {y.shape}.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be binary (0/1 or bool).")
    positive_frequencies = y.astype(np.float64).sum(axis=0) / y.shape[0]
    negative_frequencies = 1.0 - positive_frequencies
    return positive_frequencies, negative_frequencies


def get_weighted_loss(pos_weights, neg_weights, epsilon=1e-7):
    """Return the class-weighted binary cross-entropy loss function.

    Parameters
    ----------
    pos_weights : array-like of shape (n_labels,)
        Weight of the positive term of each label. To balance the classes use
        the *negative* frequencies (``pos_weights = neg_freqs``) so that
        ``w_pos * freq_pos == w_neg * freq_neg``.
    neg_weights : array-like of shape (n_labels,)
        Weight of the negative term of each label (balanced: ``pos_freqs``).
    epsilon : float, default 1e-7
        Added inside the logarithms so that a prediction of exactly 0 or 1
        gives a finite loss.

    Returns
    -------
    callable
        ``weighted_loss(y_true, y_pred)`` returning a scalar tensor:
        the sum over labels of the mean over the batch of
        ``-(w_pos * y * log(p + eps) + w_neg * (1 - y) * log(1 - p + eps))``.
        Works with Keras tensors (uses ``keras.ops``) and NumPy arrays.
    """
    keras = import_keras()
    ops = keras.ops
    pos_w = np.asarray(pos_weights, dtype=np.float32).reshape(-1)
    neg_w = np.asarray(neg_weights, dtype=np.float32).reshape(-1)
    if pos_w.shape != neg_w.shape:
        raise ValueError(f"pos_weights and neg_weights must have the same length; got {pos_w.size} and {neg_w.size}.")

    def weighted_loss(y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        if y_pred.shape[-1] is not None and y_pred.shape[-1] != pos_w.size:
            raise ValueError(f"y_pred has {y_pred.shape[-1]} labels but {pos_w.size} class weights were given.")
        pos_term = pos_w * y_true * ops.log(y_pred + epsilon)
        neg_term = neg_w * (1.0 - y_true) * ops.log(1.0 - y_pred + epsilon)
        # mean over the batch for each label, then sum over labels
        return -ops.sum(ops.mean(pos_term + neg_term, axis=0))

    return weighted_loss



def prevalence_weights():
    """Balanced class weights from the phantom data set's prevalence: pos = 1-p, neg = p."""
    from util.config.course import LABELS
    from util.data.phantoms import PREVALENCE

    p = np.array([PREVALENCE[label] for label in LABELS], dtype=np.float64)
    return 1.0 - p, p

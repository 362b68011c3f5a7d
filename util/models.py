"""The course's chest X-ray model: DenseNet121 with a 14-label sigmoid head.

What is here
------------
``build_densenet121``
    The architecture, randomly initialised (never ImageNet weights: the course
    runs offline).
``compute_class_freqs`` and ``get_weighted_loss``
    The class-weighted binary cross-entropy the course trains with
    (library versions of the C1W1 exercises).
``load_C3M3_model``
    The architecture compiled with that loss and the shipped weights
    ``data/models/densenet121_phantoms.weights.h5`` (made by ``make train``,
    i.e. ``python -m util.train``) loaded.
``standardize``
    The input convention the shipped weights were trained with.

Input convention
----------------
Images are grey-level radiographs replicated to three channels, in the 0-255
scale, standardised with **one dataset-wide mean and standard deviation**
(scalars): ``x = (image - mean) / std``. That is what the course's
``load_image_normalize(path, mean, std)`` does with the mean and std that
``get_mean_std_per_batch`` measures on a sample of training images. The
training script measures the same two numbers on phantoms and jitters them a
little while training, so the mean/std a notebook measures on its own sample
of the data set works.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

__all__ = [
    "CAM_LAYER",
    "WEIGHTS_FILE",
    "build_densenet121",
    "compute_class_freqs",
    "get_weighted_loss",
    "load_C3M3_model",
    "standardize",
]

#: The layer whose activations Grad-CAM uses: the last dense block's output.
CAM_LAYER = "conv5_block16_concat"

#: Where ``make train`` writes the course model's weights.
WEIGHTS_FILE = Path(__file__).resolve().parent.parent / "data" / "models" / "densenet121_phantoms.weights.h5"


def weights_digest(path=None):
    """SHA-256 (hex) of a weights file, by default the shipped course model's.

    The model card and the C3W3 references record it, so a test can tell when
    they were made with other weights.
    """
    import hashlib

    return hashlib.sha256(Path(path if path is not None else WEIGHTS_FILE).read_bytes()).hexdigest()


def _quiet_tensorflow():
    """Import keras with TensorFlow's and absl's start-up chatter silenced."""
    import logging

    try:  # absl is a TensorFlow dependency; it logs to stderr before it is configured
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # pragma: no cover
        pass
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    return keras


def build_densenet121(n_labels=14):
    """Build DenseNet121 with a multi-label sigmoid head (random weights).

    Parameters
    ----------
    n_labels : int, default 14
        Number of output units, one per finding (``util.labels.LABELS`` order).

    Returns
    -------
    keras.Model
        A functional model: ``DenseNet121(weights=None, include_top=False,
        input_shape=(None, None, 3))`` followed by ``GlobalAveragePooling2D``
        and ``Dense(n_labels, activation="sigmoid", name="predictions")``.
        Any input size works (the course uses 320×320); the output has shape
        ``(batch, n_labels)`` with values in (0, 1), one independent
        probability per label (labels are not mutually exclusive).

    Notes
    -----
    Keras 3's ``DenseNet121(include_top=False)`` ends with a batch
    normalisation ``bn`` **and** a ``relu`` activation, so this model has
    429 layers; the course's Keras 2 model had 428 (no final ``relu``). The
    extra ReLU is kept: Grad-CAM uses ``conv5_block16_concat``, which is
    before both, so the heat maps are unaffected.

    Grad-CAM's layer is ``model.get_layer("conv5_block16_concat")``
    (:data:`CAM_LAYER`), at 1/32 of the input resolution (10×10 at 320).
    """
    keras = _quiet_tensorflow()
    if int(n_labels) != n_labels or n_labels < 1:
        raise ValueError(f"n_labels must be a positive integer; got {n_labels!r}.")
    base = keras.applications.DenseNet121(weights=None, include_top=False, input_shape=(None, None, 3))
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(base.output)
    out = keras.layers.Dense(int(n_labels), activation="sigmoid", name="predictions")(x)
    return keras.Model(base.input, out, name="densenet121")


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
    keras = _quiet_tensorflow()
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


def standardize(images, mean, std):
    """Standardise 0-255 images with a dataset-wide mean and std (the model's input convention).

    Parameters
    ----------
    images : array-like
        Grey ``(…, H, W)`` or RGB ``(…, H, W, 3)`` images in the 0-255 scale.
        Grey images are replicated to three channels.
    mean, std : float
        Dataset mean and standard deviation in the same scale (see
        ``util.images.get_mean_std_per_batch``).

    Returns
    -------
    numpy.ndarray of float32, shape ``(…, H, W, 3)``
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim < 2:
        raise ValueError(f"images must be at least 2-D (H, W); got shape {x.shape}.")
    if x.shape[-1] != 3:
        x = np.repeat(x[..., None], 3, axis=-1)
    if not std > 0:
        raise ValueError(f"std must be positive; got {std!r}.")
    return (x - np.float32(mean)) / np.float32(std)


def _prevalence_weights():
    """Balanced class weights from the phantom data set's prevalence: pos = 1-p, neg = p."""
    from util.labels import LABELS
    from util.phantoms import PREVALENCE

    p = np.array([PREVALENCE[label] for label in LABELS], dtype=np.float64)
    return 1.0 - p, p


def load_C3M3_model(weights_path=None):
    """Load the course's trained chest X-ray model.

    Parameters
    ----------
    weights_path : str or path-like, optional
        A ``.weights.h5`` file saved from :func:`build_densenet121`'s model.
        Defaults to :data:`WEIGHTS_FILE`
        (``data/models/densenet121_phantoms.weights.h5``).

    Returns
    -------
    keras.Model
        :func:`build_densenet121`'s model with the weights loaded, compiled
        with Adam and :func:`get_weighted_loss`, whose class weights come from
        the phantom data set's prevalence ``p`` (``pos = 1 - p``,
        ``neg = p``). Feed it images standardised with a dataset mean and std
        (see the module docstring); its outputs are in ``util.labels.LABELS``
        order.

    Raises
    ------
    FileNotFoundError
        If the weights file does not exist (run ``make train`` to make it).
    """
    path = Path(weights_path) if weights_path is not None else WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"Model weights not found: {path}. Run `make train` (python -m util.train) to train "
            f"the course model and write them, or pass weights_path= to a .weights.h5 file."
        )
    import warnings

    keras = _quiet_tensorflow()
    pos_w, neg_w = _prevalence_weights()
    with warnings.catch_warnings():  # keep a notebook's stderr clean while Keras builds and loads
        warnings.simplefilter("ignore")
        model = build_densenet121()
        model.load_weights(str(path))
        model.compile(optimizer=keras.optimizers.Adam(), loss=get_weighted_loss(pos_w, neg_w))
    return model

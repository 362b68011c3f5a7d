"""The course's chest X-ray model: DenseNet121 with a 14-label sigmoid head.

What is here
------------
``build_densenet121``
    The architecture, randomly initialised (never ImageNet weights: the course
    runs offline).
``load_C3M3_model``
    The architecture with the shipped weights
    ``data/models/densenet121_phantoms.weights.h5`` loaded (made by
    ``make train``, i.e. ``python -m training.densenet``, outside this library).
``standardize``
    The input convention the shipped weights were trained with.
``predict_with_progress``
    Inference over a sequence of batches that says how far it has got (a
    notebook's long predictions are visible, not silent).
``batchnorm_layers`` and ``recalibrate_batchnorm``
    "Precise BN": BatchNorm moving statistics set to their average over a
    few batches (used by the training scripts of both course models).

The class-weighted loss the model was trained with is C1W1's exercise; it is
not in the student library (the maintainer's copy is ``training.losses``).

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

from pathlib import Path

import numpy as np

from util.config.checks import check_int
from util.config.paths import MODELS_DIR
from util.config.quiet import import_keras

__all__ = [
    "WEIGHTS_FILE",
    "batchnorm_layers",
    "build_densenet121",
    "load_C3M3_model",
    "predict_with_progress",
    "recalibrate_batchnorm",
    "standardize",
    "weights_digest",
]

#: Where ``make train`` writes the course model's weights.
WEIGHTS_FILE = MODELS_DIR / "densenet121_phantoms.weights.h5"


def weights_digest(path=None):
    """SHA-256 (hex) of a weights file, by default the shipped course model's.

    The model card and the C3W3 references record it, so a test can tell when
    they were made with other weights.
    """
    import hashlib

    return hashlib.sha256(Path(path if path is not None else WEIGHTS_FILE).read_bytes()).hexdigest()


def build_densenet121(n_labels=14):
    """Build DenseNet121 with a multi-label sigmoid head (random weights).

    Parameters
    ----------
    n_labels : int, default 14
        Number of output units, one per finding (``util.config.course.LABELS`` order).

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
    (:data:`util.config.course.CAM_LAYER`), at 1/32 of the input resolution (10×10 at 320).
    """
    keras = import_keras()
    if int(n_labels) != n_labels or n_labels < 1:
        raise ValueError(f"n_labels must be a positive integer; got {n_labels!r}.")
    base = keras.applications.DenseNet121(weights=None, include_top=False, input_shape=(None, None, 3))
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(base.output)
    out = keras.layers.Dense(int(n_labels), activation="sigmoid", name="predictions")(x)
    return keras.Model(base.input, out, name="densenet121")


def standardize(images, mean, std):
    """Standardise 0-255 images with a dataset-wide mean and std (the model's input convention).

    Parameters
    ----------
    images : array-like
        Grey ``(…, H, W)`` or RGB ``(…, H, W, 3)`` images in the 0-255 scale.
        Grey images are replicated to three channels.
    mean, std : float
        Dataset mean and standard deviation in the same scale (see
        ``util.data.images.get_mean_std_per_batch``).

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


def batchnorm_layers(model):
    """Every BatchNormalization layer of ``model`` (nested models included)."""
    import keras

    found = []

    def walk(layer):
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        for sub in getattr(layer, "layers", []) or []:
            walk(sub)

    walk(model)
    return found


def recalibrate_batchnorm(model, batches):
    """Replace BatchNorm moving statistics by their average over ``batches`` ("precise BN").

    Each batch is passed in training mode (batch statistics used and
    accumulated) and no weight is updated: at batch ``k`` (from 0) every
    BatchNorm layer's momentum is ``k / (k + 1)``, so after the last batch
    the moving mean and variance are the plain average over all batches.

    Parameters
    ----------
    model : keras.Model
    batches : iterable of float32 arrays (B, H, W, 3)

    Returns
    -------
    int
        Number of batches used (0 leaves the model unchanged).
    """
    layers = batchnorm_layers(model)
    saved = [layer.momentum for layer in layers]
    k = 0
    try:
        for x in batches:
            for layer in layers:
                layer.momentum = k / (k + 1.0)
            model(x, training=True)  # eager call: momentum is read now
            k += 1
    finally:
        for layer, m in zip(layers, saved):
            layer.momentum = m
    return k


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
        :func:`build_densenet121`'s model with the weights loaded, not
        compiled (it is for inference: ``model(x, training=False)`` or
        ``model.predict``; call ``model.compile`` with your own loss to train
        it further). Feed it images standardised with a dataset mean and std
        (see the module docstring); its outputs are in ``util.config.course.LABELS``
        order.

    Raises
    ------
    FileNotFoundError
        If the weights file does not exist (run ``make train`` to make it).
    """
    path = Path(weights_path) if weights_path is not None else WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"Model weights not found: {path}. It ships with the course (data/models/); a maintainer "
            f"makes it with `make train`. Or pass weights_path= to a .weights.h5 file."
        )
    import warnings

    with warnings.catch_warnings():  # keep a notebook's stderr clean while Keras builds and loads
        warnings.simplefilter("ignore")
        model = build_densenet121()
        model.load_weights(str(path))
    return model


def predict_with_progress(model, batches, every=5, report=print):
    """Predict every batch of a sequence in inference mode, reporting how many images are done.

    Parameters
    ----------
    model : keras.Model
    batches : sequence
        Indexable, with ``len``; item ``i`` is a batch of images ``x`` or a pair
        ``(x, y)`` (e.g. ``util.data.pipeline.ChestXrayBatches``), kept in order.
    every : int, default 5
        Report after every ``every`` batches, and after the last one.
    report : callable, default print
        Called with one line such as ``"predicted 40 of 120 images"``.

    Returns
    -------
    numpy.ndarray of shape (n_images, n_outputs)
        ``model(x, training=False)`` of every batch, concatenated in order.

    Raises
    ------
    TypeError
        ``every`` is not an int.
    ValueError
        ``every`` is below 1, or ``batches`` is empty.
    """
    every = check_int(every, "every", minimum=1, what="batches between reports")
    n_batches = len(batches)
    if n_batches == 0:
        raise ValueError("batches is empty: there is nothing to predict.")
    # a sequence that lists its images (ChestXrayBatches' filenames) gives the total up front
    total = len(getattr(batches, "filenames", ())) or None
    out, done = [], 0
    for i in range(n_batches):
        item = batches[i]
        x = item[0] if isinstance(item, tuple) else item
        out.append(np.asarray(model(x, training=False)))
        done += len(x)
        if (i + 1) % every == 0 or i + 1 == n_batches:
            report(f"predicted {done} of {total} images" if total else f"predicted {done} images, batch {i + 1} of {n_batches}")
    return np.concatenate(out)

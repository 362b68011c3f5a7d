"""The small CNN that grades diabetic retinopathy on fundus phantoms, with an ordinal head.

:func:`build_fundus_cnn` builds it, :func:`load_fundus_model` loads the shipped weights,
:func:`fundus_inputs` prepares images and :func:`predict_grades` decodes its outputs into grades
(:mod:`util.models.ordinal`). ``python -m training.fundus`` trains it (maintainers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from util.config.course import FUNDUS_CAM_LAYER
from util.config.paths import MODELS_DIR
from util.config.quiet import import_keras
from util.data.fundus import GRADES, circular_crop
from util.models.ordinal import decode_outputs

__all__ = ["N_GRADES", "WEIGHTS_FILE", "build_fundus_cnn", "fundus_inputs", "load_fundus_model", "predict_grades"]

#: Where ``python -m training.fundus`` writes the weights by default.
WEIGHTS_FILE = MODELS_DIR / "fundus_cnn.weights.h5"

N_GRADES = len(GRADES)



def build_fundus_cnn(filters=(16, 32, 48, 64), last_filters=96, n_grades=N_GRADES):
    """Build the small retinopathy CNN with an ordinal head (random weights).

    Parameters
    ----------
    filters : tuple of int, default (16, 32, 48, 64)
        Filters of the Conv-BN-ReLU blocks ``block1`` ... ``blockN``.
        ``block1`` is a 5x5 convolution with stride 2 (half resolution at
        once: cheap, and a 5x5 window still sees a one-pixel microaneurysm);
        the others are 3x3, and blocks 2 to N-1 are followed by 2x2 max pooling.
    last_filters : int, default 96
        Filters of the last 3x3 block, whose ReLU output is the layer
        ``"last_conv"`` (:data:`util.config.course.FUNDUS_CAM_LAYER`): 16x16 for a 128x128 input with
        the default four blocks.
    n_grades : int, default 5
        Grades on the scale; the head has ``n_grades - 1`` sigmoid outputs.

    Returns
    -------
    keras.Model
        Named ``"fundus_cnn"``. Input: RGB images in the 0-255 scale, shape
        (batch, H, W, 3); H and W multiples of 8 keep the pooling exact (the
        course uses 128x128 crops from :func:`fundus_inputs`). Output:
        (batch, n_grades - 1), output ``j`` estimates P(grade > j); decode with
        :func:`util.models.ordinal.decode_outputs`. Layer names: ``rescale``,
        ``block{i}_conv``, ``block{i}_bn``, ``block{i}_relu``, ``block{i}_pool``,
        ``last_conv_conv``, ``last_conv_bn``, ``last_conv``, ``avg_pool``,
        ``ordinal``.
    """
    keras = import_keras()
    layers = keras.layers
    if len(filters) < 2:
        raise ValueError(f"filters must list at least two blocks; got {filters!r}")
    inp = keras.Input(shape=(None, None, 3), name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inp)
    for i, f in enumerate(filters, start=1):
        kernel, stride = (5, 2) if i == 1 else (3, 1)
        x = layers.Conv2D(int(f), kernel, strides=stride, padding="same", use_bias=False, name=f"block{i}_conv")(x)
        x = layers.BatchNormalization(name=f"block{i}_bn")(x)
        x = layers.ReLU(name=f"block{i}_relu")(x)
        if 1 < i < len(filters):
            x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    x = layers.Conv2D(int(last_filters), 3, padding="same", use_bias=False, name="last_conv_conv")(x)
    x = layers.BatchNormalization(name="last_conv_bn")(x)
    x = layers.ReLU(name=FUNDUS_CAM_LAYER)(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    out = layers.Dense(int(n_grades) - 1, activation="sigmoid", name="ordinal")(x)
    return keras.Model(inp, out, name="fundus_cnn")



def load_fundus_model(weights_path=None):
    """Load the course's trained retinopathy CNN.

    Parameters
    ----------
    weights_path : str or path-like, optional
        A ``.weights.h5`` file saved from :func:`build_fundus_cnn`'s model;
        default :data:`WEIGHTS_FILE` (``data/models/fundus_cnn.weights.h5``).

    Returns
    -------
    keras.Model
        :func:`build_fundus_cnn` with the weights loaded (not compiled; call
        it in inference mode, ``model(x, training=False)`` or
        :func:`predict_grades`). Feed it :func:`fundus_inputs`.

    Raises
    ------
    FileNotFoundError
        If the weights file does not exist; the message says how to make it.
    """
    path = Path(weights_path) if weights_path is not None else WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"Fundus model weights not found: {path}. Train them with `make train-fundus` "
            f"(about 10 minutes on a laptop CPU; see data/models/FUNDUS_MODEL_CARD.md for the exact command), "
            f"or pass weights_path= to a .weights.h5 file."
        )
    import warnings

    import_keras()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_fundus_cnn()
        model.load_weights(str(path))
    return model



def fundus_inputs(images, crop=True):
    """Turn fundus images into the model's input.

    Parameters
    ----------
    images : array-like, (H, W, 3) or (n, H, W, 3)
        RGB in the 0-255 scale (``uint8`` from :func:`util.data.fundus.generate_fundus`).
    crop : bool, default True
        Apply :func:`util.data.fundus.circular_crop` (resized back to H x W) first,
        as in training.

    Returns
    -------
    numpy.ndarray of float32, shape (n, H, W, 3), still in the 0-255 scale
    (the model rescales).
    """
    a = np.asarray(images)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] != 3:
        raise ValueError(f"images must have shape (H, W, 3) or (n, H, W, 3); got {np.asarray(images).shape}")
    if crop:
        a = np.stack([circular_crop(img) for img in a]) if len(a) else a
    return a.astype(np.float32)



def predict_grades(model, x, batch_size=64, threshold=0.5):
    """Inference-mode outputs and decoded grades.

    Parameters
    ----------
    model : keras.Model
    x : float32 (n, H, W, 3)
        Model inputs (:func:`fundus_inputs`).

    Returns
    -------
    probs : float32 (n, 4)
        ``model(x, training=False)``.
    grades : int64 (n,)
        :func:`util.models.ordinal.decode_outputs` (leading outputs above ``threshold``).
    """
    out = [np.asarray(model(x[i : i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
    probs = np.concatenate(out) if out else np.zeros((0, N_GRADES - 1), np.float32)
    return probs, decode_outputs(probs, threshold=threshold) if len(probs) else np.zeros(0, np.int64)


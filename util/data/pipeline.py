"""Batches of chest X-rays for Keras 3, the course's way.

The course built its inputs with Keras 2's ``ImageDataGenerator``, which Keras 3
no longer has. These two functions keep the course's names, arguments and
behaviour on top of :class:`keras.utils.PyDataset`:

* :func:`get_train_generator` standardises **each image by its own** mean and
  standard deviation (``samplewise_center`` and
  ``samplewise_std_normalization``) and reshuffles the images every epoch;
* :func:`get_test_and_valid_generator` normalises validation and test images
  with **one** mean and standard deviation taken from a seeded sample of
  *training* images (``featurewise_center`` and
  ``featurewise_std_normalization`` fitted on the training set), in the order
  of their data frames.

Why not normalise test images with their own batch's statistics? At test time
a model sees one patient at a time: a prediction must not depend on which
other images happen to share its batch, and statistics of the data being
evaluated would leak information about it into the prediction.

Both return a :class:`ChestXrayBatches`, whose ``labels`` attribute holds the
label matrix in the data frame's order (``compute_class_freqs`` and
``get_roc_curve`` take it), and which ``model.fit``, ``model.predict`` and
``model.evaluate`` accept directly.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np

from util.config.checks import check_int
from util.data.images import get_mean_std_per_batch, read_image

__all__ = ["ChestXrayBatches", "get_test_and_valid_generator", "get_train_generator"]

#: Added to a standard deviation before dividing, as Keras's ImageDataGenerator did,
#: so that a blank image does not divide by zero.
STD_EPSILON = 1e-6


class ChestXrayBatches(keras.utils.PyDataset):
    """Batches ``(x, y)`` of images listed in a data frame, normalised one of two ways.

    Use :func:`get_train_generator` or :func:`get_test_and_valid_generator`
    rather than this class directly.

    Parameters
    ----------
    image_dir : str or pathlib.Path
        Folder holding the image files.
    filenames : sequence of str
        File names inside ``image_dir``, one per example.
    labels : numpy.ndarray of shape (n, n_labels)
        Binary labels, in the order of ``filenames``.
    batch_size : int
        Examples per batch; the last batch may be smaller.
    shuffle : bool
        Draw a new order of the examples at the start of every epoch.
    seed : int
        Seed of the shuffling: epoch ``e`` uses the order drawn from ``(seed, e)``.
    target_h, target_w : int
        Size the images are loaded at.
    mean, std : float, optional
        Dataset statistics for feature-wise normalisation ``(x - mean) / std``.
        When both are None each image is standardised by its own mean and
        standard deviation instead.

    Attributes
    ----------
    labels : numpy.ndarray of float32, shape (n, n_labels)
        The labels in the data frame's order (not the shuffled order).
    filenames : list of str
    """

    def __init__(self, image_dir, filenames, labels, batch_size, shuffle, seed, target_h, target_w,
                 mean=None, std=None):
        super().__init__()
        self.image_dir = Path(image_dir)
        self.filenames = list(filenames)
        self.labels = np.asarray(labels, dtype=np.float32)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.target_h, self.target_w = int(target_h), int(target_w)
        self.mean, self.std = mean, std
        self.epoch = 0
        self._order = self._draw_order()

    @property
    def samplewise(self):
        """True when each image is standardised by its own statistics."""
        return self.mean is None

    def _draw_order(self):
        n = len(self.filenames)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(n)

    def __len__(self):
        return math.ceil(len(self.filenames) / self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range: there are {len(self)} batches.")
        rows = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        x = np.stack([self._load(self.filenames[i]) for i in rows])
        return x, self.labels[rows]

    def _load(self, name):
        x = read_image(self.image_dir / name, self.target_h, self.target_w)
        if self.samplewise:
            return (x - x.mean()) / (x.std() + np.float32(STD_EPSILON))
        return (x - np.float32(self.mean)) / np.float32(self.std)

    def on_epoch_end(self):
        """Keras calls this after each epoch: draw the next epoch's order."""
        self.epoch += 1
        self._order = self._draw_order()

    def __repr__(self):
        how = "per-image standardisation" if self.samplewise else f"mean {self.mean:.3f}, std {self.std:.3f}"
        return (f"<ChestXrayBatches: {len(self.filenames)} images, {len(self)} batches of {self.batch_size}, "
                f"{self.target_h}x{self.target_w}, {how}, shuffle={self.shuffle}>")


def _check_batch_size(batch_size):
    return check_int(batch_size, "batch_size", minimum=1, what="a batch size")


def _check_frame(df, x_col, y_cols, image_dir, what):
    """The file names and the label matrix of ``df``, with every problem named."""
    if not hasattr(df, "columns"):
        raise TypeError(f"{what} must be a pandas DataFrame; got {type(df).__name__}.")
    if len(df) == 0:
        raise ValueError(f"{what} has no rows.")
    missing = [c for c in [x_col, *y_cols] if c not in df.columns]
    if missing:
        raise ValueError(f"{what} has no column(s) {missing}; its columns are {list(df.columns)}.")
    if df[x_col].isna().any():
        raise ValueError(f"{what}[{x_col!r}] has empty file names in rows "
                         f"{list(df.index[df[x_col].isna()][:5])}.")
    labels = df[list(y_cols)]
    values = labels.to_numpy()
    if labels.isna().any().any() or not np.isin(values, [0, 1]).all():
        bad = [c for c in y_cols if labels[c].isna().any() or not np.isin(labels[c].to_numpy(), [0, 1]).all()]
        raise ValueError(f"{what}: label columns must hold only 0 and 1; {bad} hold other values or gaps.")
    filenames = [str(name) for name in df[x_col]]
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise FileNotFoundError(f"image folder {image_dir} does not exist; run `make data` (or "
                                "util.ensure_chestxray_data()) or point MEDXAI_DATA_DIR at your data.")
    absent = [name for name in filenames if not (image_dir / name).is_file()]
    if absent:
        raise FileNotFoundError(f"{len(absent)} image(s) of {what} are not in {image_dir}, e.g. {absent[:3]}; "
                                "check the file names in the CSV or regenerate the data with `make data`.")
    return filenames, values.astype(np.float32)


def get_train_generator(df, image_dir, x_col, y_cols, shuffle=True, batch_size=8, seed=1,
                        target_w=320, target_h=320):
    """Training batches: each image standardised by its own statistics, reshuffled every epoch.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per training image.
    image_dir : str or pathlib.Path
        Folder holding the images.
    x_col : str
        Column of ``df`` holding the file names (``"Image"``).
    y_cols : list of str
        Label columns of ``df`` (the 14 ``LABELS``), each 0 or 1.
    shuffle : bool, default True
        Draw a new order of the images every epoch.
    batch_size : int, default 8
    seed : int, default 1
        Seed of the shuffling.
    target_w, target_h : int, default 320
        Size the images are loaded at.

    Returns
    -------
    ChestXrayBatches
        Yields ``x`` float32 ``(batch, target_h, target_w, 3)`` and ``y`` float32
        ``(batch, len(y_cols))``; ``.labels`` holds all labels in ``df``'s order.

    Raises
    ------
    TypeError
        ``batch_size`` is not an int.
    ValueError
        A column is missing, a label is not 0/1, ``df`` is empty or ``batch_size`` is below 1.
    FileNotFoundError
        ``image_dir`` or one of the images does not exist.
    """
    _check_batch_size(batch_size)
    filenames, labels = _check_frame(df, x_col, y_cols, image_dir, "df")
    return ChestXrayBatches(image_dir, filenames, labels, batch_size, shuffle, seed, target_h, target_w)


def get_test_and_valid_generator(valid_df, test_df, train_df, image_dir, x_col, y_cols, sample_size=100,
                                 batch_size=8, seed=1, target_w=320, target_h=320):
    """Validation and test batches normalised with statistics of a sample of training images.

    Parameters
    ----------
    valid_df, test_df : pandas.DataFrame
        The validation and test images, kept in their order (no shuffling), so
        that predictions line up with ``.labels``.
    train_df : pandas.DataFrame
        The training images; ``sample_size`` of them, drawn with ``seed``, give
        the mean and standard deviation (:func:`util.data.images.get_mean_std_per_batch`).
    image_dir : str or pathlib.Path
        Folder holding all the images.
    x_col : str
        Column holding the file names.
    y_cols : list of str
        Label columns, each 0 or 1.
    sample_size : int, default 100
        Training images sampled for the statistics.
    batch_size : int, default 8
    seed : int, default 1
        Seed of the training sample.
    target_w, target_h : int, default 320
        Size the images are loaded at.

    Returns
    -------
    valid_generator, test_generator : ChestXrayBatches

    Raises
    ------
    ValueError, FileNotFoundError
        As :func:`get_train_generator`, naming which data frame is at fault.
    """
    _check_batch_size(batch_size)
    _check_frame(train_df, x_col, [], image_dir, "train_df")
    valid_files, valid_labels = _check_frame(valid_df, x_col, y_cols, image_dir, "valid_df")
    test_files, test_labels = _check_frame(test_df, x_col, y_cols, image_dir, "test_df")
    names = train_df[[x_col]].rename(columns={x_col: "Image"})
    mean, std = get_mean_std_per_batch(image_dir, names, H=target_h, W=target_w,
                                       sample_size=sample_size, seed=seed)
    if not std > 0:
        raise ValueError(f"the sampled training images have zero standard deviation (all pixels {mean}); "
                         "check that the training images are not blank.")
    return tuple(
        ChestXrayBatches(image_dir, files, labels, batch_size, False, seed, target_h, target_w, mean=mean, std=std)
        for files, labels in ((valid_files, valid_labels), (test_files, test_labels))
    )

"""Loading chest X-ray images the way the course does, robustly.

Conventions
-----------
* Images are returned as RGB (three identical channels for a greyscale
  radiograph), because the DenseNet121 expects three channels.
* Pixel values are on the 8-bit scale [0, 255] before normalisation; 16-bit
  images are rescaled to it (value / 65535 * 255), alpha channels are dropped.
* Normalisation is ``(x - mean) / std`` with one scalar mean and std taken
  from a seeded sample of *training* images (see
  :func:`get_mean_std_per_batch`), never from the batch being predicted.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from util.config.course import NORMALIZATION_SEED

__all__ = [
    "get_mean_std_per_batch",
    "load_image",
    "load_image_normalize",
    "read_image",
]



def read_image(path, H=320, W=320):
    """Read an image file as an ``(H, W, 3)`` float32 RGB array on the 8-bit scale.

    Parameters
    ----------
    path : str or pathlib.Path
        A PNG (or any format Pillow reads): 8-bit or 16-bit greyscale, RGB,
        RGBA, greyscale with alpha, or palette.
    H, W : int
        Output height and width; the image is resized bilinearly when its
        size differs.

    Returns
    -------
    numpy.ndarray of shape (H, W, 3), float32, values in [0, 255]

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a readable image, or its mode cannot be mapped to
        greyscale/RGB (e.g. CMYK or floating point).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Image file not found: {path}. Check the file name in your CSV and the image "
            "folder; run `make data` (or util.ensure_chestxray_data()) to generate the "
            "default images, or set MEDXAI_DATA_DIR to the folder holding chestxray/images/."
        )
    try:
        with Image.open(path) as img:
            img.load()
            rgb = _to_rgb_8bit_scale(img, path)
    except UnidentifiedImageError as err:
        raise ValueError(
            f"Cannot read {path} as an image (corrupt or not an image file). "
            "Replace it with a valid PNG or remove its row from the CSV."
        ) from err
    except OSError as err:  # truncated files raise OSError on load()
        raise ValueError(f"Cannot decode image {path}: {err}. Replace the file with a valid PNG.") from err
    if rgb.shape[:2] != (H, W):
        channels = [
            np.asarray(Image.fromarray(rgb[..., c]).resize((W, H), Image.BILINEAR))
            for c in range(3)
        ]
        rgb = np.stack(channels, axis=-1)
    return rgb.astype(np.float32)


def _to_rgb_8bit_scale(img, path):
    """Map a Pillow image of any supported mode to float32 RGB on [0, 255]."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = np.asarray(img, dtype=np.float64)
        top = 65535.0 if grey.max() > 255 or mode.startswith("I;16") else 255.0
        grey = (grey / top * 255.0).astype(np.float32)
        return np.repeat(grey[..., None], 3, axis=-1)
    if mode in ("1", "L", "LA", "P", "PA", "RGB", "RGBA"):
        rgb = np.asarray(img.convert("RGB"), dtype=np.float32)
        return rgb
    raise ValueError(
        f"{path} has image mode {mode!r}, which is not supported. Save it as an 8-bit or "
        "16-bit greyscale, RGB or RGBA PNG."
    )


def get_mean_std_per_batch(image_dir, df, H=320, W=320, sample_size=100, seed=NORMALIZATION_SEED):
    """Mean and standard deviation of pixel values over a sample of images.

    Parameters
    ----------
    image_dir : str or pathlib.Path
        Folder holding the images named in ``df["Image"]``.
    df : pandas.DataFrame
        Must have an ``Image`` column. Use the *training* split: statistics of
        the data being evaluated would leak information into the prediction.
    H, W : int
        Size the images are loaded at.
    sample_size : int
        Number of images sampled (all of them when ``df`` has fewer rows).
    seed : int
        Seed of the sample, so the statistics are reproducible.

    Returns
    -------
    mean, std : float
        Scalar statistics over every pixel and channel of the sampled images.

    Raises
    ------
    ValueError
        If ``df`` has no ``Image`` column or no rows, or ``sample_size < 1``.
    FileNotFoundError
        If a sampled image is missing.

    Notes
    -----
    The course's version computed the statistics of one image only; this one
    uses the whole sample, as its name promises. Results are cached per
    (folder, image list, size, sample size, seed).
    """
    if "Image" not in getattr(df, "columns", []):
        raise ValueError("df must be a DataFrame with an 'Image' column naming the image files.")
    if len(df) == 0:
        raise ValueError("df has no rows; pass the training split to take statistics from.")
    if int(sample_size) < 1:
        raise ValueError(f"sample_size must be at least 1; got {sample_size}.")
    names = tuple(str(name) for name in df["Image"])
    return _mean_std(str(Path(image_dir)), names, int(H), int(W), int(sample_size), int(seed))


@lru_cache(maxsize=32)
def _mean_std(image_dir, names, H, W, sample_size, seed):
    rng = np.random.default_rng(seed)
    n = min(sample_size, len(names))
    chosen = rng.choice(len(names), size=n, replace=False)
    pixels = np.stack([read_image(Path(image_dir) / names[i], H, W) for i in sorted(chosen)])
    pixels = pixels.astype(np.float64)
    return float(pixels.mean()), float(pixels.std())


def load_image_normalize(path, mean, std, H=320, W=320):
    """Load one image as a normalised batch of one.

    Parameters
    ----------
    path : str or pathlib.Path
        Image file.
    mean, std : float
        Training-set statistics from :func:`get_mean_std_per_batch`.
    H, W : int
        Size the image is loaded at.

    Returns
    -------
    numpy.ndarray of shape (1, H, W, 3), float32
        ``(x - mean) / std``.

    Raises
    ------
    ValueError
        If ``std`` is not a positive finite number or ``mean`` is not finite.
    """
    if not np.isfinite(mean):
        raise ValueError(f"mean must be a finite number; got {mean!r}.")
    if not (np.isfinite(std) and std > 0):
        raise ValueError(
            f"std must be a positive finite number; got {std!r}. Compute it with "
            "get_mean_std_per_batch on the training images."
        )
    x = read_image(path, H, W)
    x = (x - np.float32(mean)) / np.float32(std)
    return x[np.newaxis].astype(np.float32)


def load_image(path, df, preprocess=True, H=320, W=320):
    """Load an image, normalised with statistics of the images listed in ``df``.

    Parameters
    ----------
    path : str or pathlib.Path
        Image file; the folder it lies in is where ``df``'s images are read
        from to compute the normalisation statistics.
    df : pandas.DataFrame
        The training split (``Image`` column), as in the course.
    preprocess : bool
        When True return the normalised ``(1, H, W, 3)`` float32 batch the
        model takes; when False return the ``(H, W, 3)`` uint8 image for
        display.
    H, W : int
        Size the image is loaded at.

    Returns
    -------
    numpy.ndarray
        See ``preprocess``.
    """
    path = Path(path)
    if not preprocess:
        return np.clip(np.round(read_image(path, H, W)), 0, 255).astype(np.uint8)
    mean, std = get_mean_std_per_batch(path.parent, df, H=H, W=W)
    return load_image_normalize(path, mean, std, H=H, W=W)

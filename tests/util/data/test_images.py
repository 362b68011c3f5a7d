"""util.data.images: robust reading, normalisation statistics, course-facing loaders."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from util.data.images import get_mean_std_per_batch, load_image, load_image_normalize, read_image

H = W = 32


@pytest.fixture
def grey():
    """A deterministic 8-bit greyscale gradient with a bright square."""
    img = np.tile(np.arange(W, dtype=np.uint8) * 8, (H, 1))
    img[8:16, 8:16] = 250
    return img


def save(path, array, mode=None):
    Image.fromarray(array, mode=mode).save(path)
    return path


@pytest.mark.parametrize("kind", ["L", "I;16", "RGB", "RGBA", "LA", "P"])
def test_read_image_modes_agree_with_8bit_greyscale(tmp_path, grey, kind):
    if kind == "L":
        path = save(tmp_path / "x.png", grey)
    elif kind == "I;16":
        path = save(tmp_path / "x.png", grey.astype(np.uint16) * 257)
    elif kind == "RGB":
        path = save(tmp_path / "x.png", np.repeat(grey[..., None], 3, axis=-1))
    elif kind == "RGBA":
        rgba = np.dstack([grey, grey, grey, np.full_like(grey, 128)])
        path = save(tmp_path / "x.png", rgba)
    elif kind == "LA":
        path = tmp_path / "x.png"
        Image.fromarray(grey).convert("LA").save(path)
    else:
        path = tmp_path / "x.png"
        Image.fromarray(grey).convert("P").save(path)
    with Image.open(path) as img:
        assert img.mode.startswith(kind[0])
    x = read_image(path, H, W)
    assert x.shape == (H, W, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 0], grey.astype(np.float32), atol=0.5)
    np.testing.assert_array_equal(x[..., 0], x[..., 2])


def test_read_image_16bit_full_range_maps_to_0_255(tmp_path):
    ramp = np.linspace(0, 65535, W, dtype=np.uint16)[None].repeat(H, 0)
    x = read_image(save(tmp_path / "r.png", ramp), H, W)
    assert x.min() == pytest.approx(0.0) and x.max() == pytest.approx(255.0)


def test_read_image_resizes(tmp_path, grey):
    x = read_image(save(tmp_path / "x.png", grey), 16, 24)
    assert x.shape == (16, 24, 3)


def test_read_image_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        read_image(tmp_path / "nope.png")


def test_read_image_not_an_image(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("this is not a PNG")
    with pytest.raises(ValueError, match="bad.png"):
        read_image(bad)


def test_read_image_truncated(tmp_path, grey):
    path = save(tmp_path / "t.png", grey)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ValueError, match="t.png"):
        read_image(path)


def test_read_image_unsupported_mode(tmp_path, grey):
    path = tmp_path / "c.tiff"
    Image.fromarray(grey).convert("CMYK").save(path)
    with pytest.raises(ValueError, match="CMYK"):
        read_image(path)


@pytest.fixture
def folder(tmp_path):
    """Five constant images with known values, and their DataFrame."""
    values = [10, 20, 30, 40, 50]
    names = []
    for i, v in enumerate(values):
        name = f"{i:08d}_000.png"
        save(tmp_path / name, np.full((H, W), v, dtype=np.uint8))
        names.append(name)
    return tmp_path, pd.DataFrame({"Image": names}), values


def test_mean_std_over_whole_sample(folder):
    image_dir, df, values = folder
    mean, std = get_mean_std_per_batch(image_dir, df, H=H, W=W, sample_size=100)
    assert mean == pytest.approx(np.mean(values))
    assert std == pytest.approx(np.std(values))


def test_mean_std_sample_is_seeded(folder):
    image_dir, df, _ = folder
    a = get_mean_std_per_batch(image_dir, df, H=H, W=W, sample_size=2, seed=3)
    b = get_mean_std_per_batch(image_dir, df, H=H, W=W, sample_size=2, seed=3)
    others = {get_mean_std_per_batch(image_dir, df, H=H, W=W, sample_size=2, seed=s) for s in range(10)}
    assert a == b
    assert len(others) > 1


@pytest.mark.parametrize(
    "df, message",
    [(pd.DataFrame({"Path": ["a.png"]}), "'Image' column"), (pd.DataFrame({"Image": []}), "no rows")],
)
def test_mean_std_bad_dataframe(tmp_path, df, message):
    with pytest.raises(ValueError, match=message):
        get_mean_std_per_batch(tmp_path, df)


def test_load_image_normalize(folder):
    image_dir, df, values = folder
    x = load_image_normalize(image_dir / df.Image[2], mean=20.0, std=5.0, H=H, W=W)
    assert x.shape == (1, H, W, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x, (values[2] - 20.0) / 5.0)


@pytest.mark.parametrize("std", [0.0, -1.0, float("nan")])
def test_load_image_normalize_bad_std(folder, std):
    image_dir, df, _ = folder
    with pytest.raises(ValueError, match="std"):
        load_image_normalize(image_dir / df.Image[0], mean=0.0, std=std, H=H, W=W)


def test_load_image_uses_statistics_of_df(folder):
    image_dir, df, values = folder
    x = load_image(image_dir / df.Image[4], df, H=H, W=W)
    assert x.shape == (1, H, W, 3)
    np.testing.assert_allclose(x, (values[4] - np.mean(values)) / np.std(values), rtol=1e-5)


def test_load_image_without_preprocess_is_displayable(folder):
    image_dir, df, values = folder
    x = load_image(image_dir / df.Image[1], df, preprocess=False, H=H, W=W)
    assert x.shape == (H, W, 3) and x.dtype == np.uint8
    assert (x == values[1]).all()

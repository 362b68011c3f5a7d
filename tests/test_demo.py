"""`make demo`'s job: summary of the generated data and the gallery."""

import numpy as np
import pytest
from PIL import Image

from util import demo
from util.labels import LABELS


@pytest.mark.slow
def test_demo_prints_summary_and_writes_gallery(tmp_path, capsys):
    demo.main(["--out", str(tmp_path)])
    out = capsys.readouterr().out
    for split in demo.SPLITS:
        assert split in out
    for label in LABELS:
        assert label in out
    assert "random forest test c-index 0." in out
    gallery = tmp_path / "gallery.png"
    assert f"lesion outlines: {gallery}" in out
    with Image.open(gallery) as img:
        pixels = np.asarray(img.convert("RGB"))
    assert img.size[0] > 1000
    # the lesion outlines are drawn in pure red
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 60) & (pixels[..., 2] < 60)
    assert red.sum() > 500


@pytest.mark.slow
def test_chestxray_summary_counts():
    from util.chestxray import ensure_chestxray_data

    counts, prevalence = demo.chestxray_summary(ensure_chestxray_data())
    assert counts["images"].tolist() == [1000, 200, 420]
    assert list(prevalence.index) == LABELS
    assert prevalence.loc["Infiltration", "train-small.csv"] == pytest.approx(0.175, abs=0.01)


def test_cohort_summary_within_course_range():
    summary = demo.cohort_summary()
    assert 1400 <= summary["test_rows"] <= 1600
    assert 0.72 <= summary["rf_cindex_test"] <= 0.85

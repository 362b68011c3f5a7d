"""`make demo`'s job: summary of the generated data and the gallery."""

import numpy as np
import pytest
from PIL import Image

from util import demo
from util.config.course import LABELS


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
    from util.data.chestxray import ensure_chestxray_data

    counts, prevalence = demo.chestxray_summary(ensure_chestxray_data())
    assert counts["images"].tolist() == [1000, 200, 420]
    assert list(prevalence.index) == LABELS
    assert prevalence.loc["Infiltration", "train-small.csv"] == pytest.approx(0.175, abs=0.01)


def test_cohort_summary_within_course_range():
    summary = demo.cohort_summary()
    assert 1400 <= summary["test_rows"] <= 1600
    assert 0.72 <= summary["rf_cindex_test"] <= 0.85


# --------------------------------------------------------------------------- make demo's grading part

def _release_state():
    from grading import all_assignments

    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for a in all_assignments() for p in a.release_dir.rglob("*")
            if p.is_file()}


@pytest.mark.slow
def test_demo_grading_checks_the_releases_without_writing_them_then_grades_c3w3(monkeypatch, capsys):
    """`python -m grading demo` (make demo): release/ is compared with a fresh release, never rewritten (a demo
    leaves the checkout as it was); the samples of C3W3 are graded (a stand-in here: the real grading is the
    C3W3 grading suite's) and a sample with other points than stated makes it exit 1."""
    import grading.__main__ as cli

    calls = []

    class Run:
        def summary(self):
            return "C3W3: 15 submission(s) graded"

    def grade_samples(assignment, **kwargs):
        calls.append((assignment.name, kwargs))
        return Run(), wrong

    wrong = {}
    monkeypatch.setattr(cli, "grade_samples", grade_samples)
    before = _release_state()
    assert cli.main(["demo", "--jobs", "2"]) == 0
    assert _release_state() == before
    out = capsys.readouterr().out
    assert "release/ is what source/ gives (C1W1, C3W3)." in out and "C3W3: 15 submission(s) graded" in out
    assert [(name, kwargs["jobs"], kwargs["feedback"]) for name, kwargs in calls] == [("C3W3", 2, True)]

    wrong = {"cheater": ({"t": 10.0}, {"t": 0.0})}
    calls.clear()
    monkeypatch.setattr(cli, "stale_releases", lambda: {})
    assert cli.main(["demo"]) == 1
    assert "UNEXPECTED: cheater got {'t': 10.0}, expected {'t': 0.0}" in capsys.readouterr().err


def test_demo_grading_refuses_a_stale_release_and_grades_nothing(monkeypatch, capsys):
    import grading.__main__ as cli

    monkeypatch.setattr(cli, "stale_releases", lambda: {"C1W1": ["C1W1_Assignment.ipynb"]})
    monkeypatch.setattr(cli, "grade_samples", lambda *a, **k: pytest.fail("graded against a stale release"))
    assert cli.main(["demo"]) == 1
    assert ("error: release/C1W1 is not what source/C1W1 gives (C1W1_Assignment.ipynb differ): run `make release` "
            "first") in capsys.readouterr().err


def test_release_differences_finds_a_changed_a_missing_and_an_extra_file(tmp_path):
    import shutil

    from grading import c3w3
    from grading.__main__ import release_differences

    A = c3w3.ASSIGNMENT
    generated = tmp_path / "C3W3"
    shutil.copytree(A.release_dir, generated)
    assert release_differences(A, generated) == []
    with open(generated / A.notebook_name, "ab") as fh:
        fh.write(b" ")
    (generated / "public_tests.py").unlink()
    (generated / "extra.py").write_text("")
    assert release_differences(A, generated) == ["extra.py", "public_tests.py", A.notebook_name]

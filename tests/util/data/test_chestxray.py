"""Tests of the generated chest X-ray data set (util.data.chestxray)."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from util.config.course import LABELS
from util.data import chestxray
from util.data.chestxray import (BBOX_HEADER, SPLITS, ensure_chestxray_data, load_bboxes, load_mask, load_split,
                                 verify_manifest)
from util.data.phantoms import PREVALENCE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def folder():
    return ensure_chestxray_data()


@pytest.fixture(scope="session")
def splits(folder):
    return {name: load_split(folder / name) for name in SPLITS}


def test_row_counts_and_columns(splits, folder):
    for name, n in SPLITS.items():
        df = splits[name]
        assert len(df) == n
        assert list(df.columns) == ["Image", *LABELS, "PatientId"]
        assert df["Image"].is_unique
        assert df["Image"].str.fullmatch(r"\d{8}_\d{3}\.png").all()
        assert (df["Image"].str[:8].astype(int) == df["PatientId"]).all()
    images = sorted(p.name for p in (folder / "images").glob("*.png"))
    assert len(images) == sum(SPLITS.values())


def test_the_generator_still_plans_the_splits_on_disk(splits):
    """The split tables come from util.data.chestxray.plan_dataset (no rendering): a change to the planner
    shows here, not only on the next `--force` regeneration."""
    from util.data.chestxray import plan_dataset

    planned = plan_dataset()
    for name, df in splits.items():
        pd.testing.assert_frame_equal(planned[name][list(df.columns)], df, check_dtype=False)


def test_splits_are_patient_disjoint_with_several_images_per_patient(splits):
    ids = {name: set(df["PatientId"]) for name, df in splits.items()}
    names = list(ids)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not ids[a] & ids[b], f"{a} and {b} share patients"
    counts = splits["train-small.csv"]["PatientId"].value_counts()
    assert counts.max() > 1 and counts.min() >= 1 and counts.max() <= 5
    assert (counts > 1).mean() > 0.4


def test_prevalence_close_to_target(splits):
    for name, df in splits.items():
        for label, p in PREVALENCE.items():
            assert abs(df[label].mean() - p) <= max(0.004, 1.0 / len(df)), (name, label)
            assert df[label].sum() >= 1, (name, label)


def test_bbox_csv_layout_and_boxes_match_masks(folder, splits):
    assert (folder / "bbox.csv").read_text().splitlines()[0] == BBOX_HEADER
    boxes = load_bboxes(folder)
    assert list(boxes.columns) == ["Image", "Label", "x", "y", "w", "h"]
    all_labels = pd.concat(splits.values())
    positives = int(all_labels[LABELS].to_numpy().sum())
    assert len(boxes) == positives
    for row in boxes.sample(40, random_state=0).itertuples():
        mask = load_mask(folder, row.Image, row.Label)
        ys, xs = np.nonzero(mask)
        assert (xs.min(), ys.min()) == (row.x, row.y)
        assert (xs.max() - xs.min() + 1, ys.max() - ys.min() + 1) == (row.w, row.h)
        line = all_labels.loc[all_labels.Image == row.Image].iloc[0]
        assert line[row.Label] == 1


def test_manifest_verifies(folder):
    # the determinism test: decoded pixels and CSV bytes match the committed hashes
    assert verify_manifest(folder) == []


def test_load_split_missing_column_raises(tmp_path, splits):
    bad = splits["valid-small.csv"].drop(columns=["Edema"])
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"bad\.csv.*\['Edema'\]"):
        load_split(path)


def test_load_split_non_binary_label_raises(tmp_path, splits):
    bad = splits["valid-small.csv"].copy()
    bad.loc[0, "Mass"] = 2
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(ValueError, match="'Mass'"):
        load_split(path)


def test_load_mask_missing_raises(folder, splits):
    normal = splits["test.csv"].loc[splits["test.csv"][LABELS].sum(axis=1) == 0, "Image"].iloc[0]
    with pytest.raises(FileNotFoundError, match=normal[:-4] + "_Nodule.png"):
        load_mask(folder, normal, "Nodule")
    with pytest.raises(ValueError, match="unknown label"):
        load_mask(folder, normal, "Tumour")


def test_real_data_mode_names_the_missing_file(tmp_path, monkeypatch):
    (tmp_path / "chestxray" / "images").mkdir(parents=True)
    monkeypatch.setenv("MEDXAI_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="train-small.csv"):
        ensure_chestxray_data()


def test_a_valid_real_data_folder_is_read_as_it_is_and_nothing_is_generated(tmp_path, monkeypatch):
    """A tiny NIH-layout folder made here: the splits, the images and a generator over them come
    from it, and the folder holds exactly the files it held before."""
    from PIL import Image

    from util.data.pipeline import get_train_generator

    folder = tmp_path / "chestxray"
    (folder / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = {"train-small.csv": [], "valid-small.csv": [], "test.csv": []}
    for i, split in enumerate([*["train-small.csv"] * 4, "valid-small.csv", "test.csv"]):
        name = f"{i:08d}_000.png"
        Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).save(folder / "images" / name)
        rows[split].append({"Image": name, **{lab: int(k == i % len(LABELS)) for k, lab in enumerate(LABELS)},
                            "PatientId": i})
    for split, records in rows.items():
        pd.DataFrame(records).to_csv(folder / split, index=False)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    monkeypatch.setenv("MEDXAI_DATA_DIR", str(tmp_path))

    assert ensure_chestxray_data() == folder
    train = load_split("train")
    assert list(train["Image"]) == [f"{i:08d}_000.png" for i in range(4)] and list(train["PatientId"]) == [0, 1, 2, 3]
    assert load_split("test")["Image"].tolist() == ["00000005_000.png"]
    x, y = get_train_generator(train, folder / "images", "Image", LABELS, batch_size=4, shuffle=False,
                               target_w=32, target_h=32)[0]
    assert x.shape == (4, 32, 32, 3) and y.tolist() == train[LABELS].to_numpy().tolist()
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_real_data_without_masks_says_what_needs_the_phantoms(tmp_path, monkeypatch):
    """Real NIH files have no masks: load_mask says so (and what needs the phantoms), not a missing-file puzzle."""
    folder = tmp_path / "chestxray"
    (folder / "images").mkdir(parents=True)
    monkeypatch.setenv("MEDXAI_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no masks/ folder.*need the phantoms.*unset it"):
        load_mask(folder, "00000001_000.png", "Mass")


def test_generation_reports_its_progress(tmp_path, capsys, monkeypatch):
    """The first run says what it renders and how far it has got (a plan of 10 images, rendered for real)."""
    import util.data.chestxray as cx

    plan = cx.plan_dataset()
    small = {name: df.head(4 if name == "train-small.csv" else 3) for name, df in plan.items()}
    monkeypatch.setattr(cx, "plan_dataset", lambda seed: small)
    cx.generate_dataset(tmp_path / "chestxray", workers=1)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("rendering 10 phantoms with 1 worker(s) (about a minute on two cores")
    reports = [line for line in out if line.startswith("rendered ")]
    assert [r.split(" phantoms")[0] for r in reports] == [f"rendered {k} of 10" for k in (2, 4, 6, 8, 10)]
    assert out[-1].startswith("generated 10 phantoms in ")


def test_require_phantoms_passes_on_phantoms_and_names_what_needs_them_on_real_data(tmp_path, monkeypatch):
    from util.data.chestxray import require_phantoms

    monkeypatch.delenv("MEDXAI_DATA_DIR", raising=False)
    require_phantoms("the example films")  # the generated data: nothing to say
    monkeypatch.setenv("MEDXAI_DATA_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="the example films needs the generated phantoms.*no lesion masks"):
        require_phantoms("the example films")


def test_data_command_summarises_a_real_data_folder_and_writes_nothing(tmp_path, monkeypatch, capsys):
    """MEDXAI_DATA_DIR: one film per split; the summary counts them and no manifest is checked or written."""
    folder = tmp_path / "chestxray"
    (folder / "images").mkdir(parents=True)
    for i, split in enumerate(("train-small.csv", "valid-small.csv", "test.csv")):
        name = f"{i:08d}_000.png"
        Image.fromarray(np.full((32, 32), 40 * i, dtype=np.uint8)).save(folder / "images" / name)
        pd.DataFrame([{"Image": name, **{label: int(k == i) for k, label in enumerate(LABELS)},
                       "PatientId": 10 + i}]).to_csv(folder / split, index=False)
    before = sorted(tmp_path.rglob("*"))
    monkeypatch.setenv("MEDXAI_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(chestxray, "verify_manifest", lambda *a, **k: pytest.fail("real data has no manifest"))
    assert chestxray.main(["--write-manifest"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(";")[0] for line in lines] == [
        "train-small.csv: 1 images, 1 patients", "valid-small.csv: 1 images, 1 patients",
        "test.csv: 1 images, 1 patients"]
    assert f"{LABELS[1]} 1.000" in lines[1] and f"{LABELS[0]} 0.000" in lines[1]
    assert sorted(tmp_path.rglob("*")) == before


def test_data_command_checks_the_phantoms_against_the_manifest(monkeypatch, capsys):
    monkeypatch.setattr(chestxray, "verify_manifest", lambda folder: [])
    assert chestxray.main([]) == 0
    out = capsys.readouterr().out
    assert "train-small.csv: 1000 images" in out and "test.csv: 420 images" in out
    assert out.rstrip().endswith("all files match data/manifests/chestxray.sha256")

    problems = [f"changed: images/{i:08d}_000.png" for i in range(25)]
    monkeypatch.setattr(chestxray, "verify_manifest", lambda folder: problems)
    assert chestxray.main([]) == 1
    out = capsys.readouterr().out
    assert f"25 mismatches with {chestxray.MANIFEST}:" in out
    assert "changed: images/00000019_000.png" in out and "00000020_000.png" not in out  # the first 20


def test_data_command_refuses_an_unknown_option(capsys):
    with pytest.raises(SystemExit) as err:
        chestxray.main(["--regenerate"])
    assert err.value.code == 2
    assert "python -m util.data.chestxray: error: unrecognized arguments: --regenerate" in capsys.readouterr().err

"""The main()s behind `make data`, `make train` and `make train-fundus`: what they print and write on tiny
arguments, and what they say on bad ones (the commands' real work is tested in test_chestxray_data.py,
test_models.py's training smoke run and test_train_fundus.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from util.data import chestxray
from util.config.course import LABELS


# --------------------------------------------------------------------------- python -m util.data.chestxray (make data)

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


# --------------------------------------------------------------------------- python -m training.densenet (make train)

def test_train_command_passes_every_option_to_the_training(monkeypatch):
    from training import densenet as module

    calls = []
    monkeypatch.setattr(module, "train", lambda **kwargs: calls.append(kwargs))
    argv = ["--size", "224", "--steps", "300", "--batch-size", "12", "--seed", "3", "--lr", "1e-3", "--lr-final",
            "1e-4", "--floor", "0.2", "--init", "a.weights.h5", "--recalibrate-batches", "0", "--recalibrate-size",
            "256", "--eval-n", "0", "--out", "b.weights.h5", "--log-every", "0"]
    assert module.main(argv) == 0
    assert calls == [dict(size=224, steps=300, batch_size=12, seed=3, lr=1e-3, lr_final=1e-4, floor=0.2,
                          out="b.weights.h5", init="a.weights.h5", recalibrate_batches=0, recalibrate_size=256,
                          eval_n=0, log_every=1)]
    calls.clear()
    assert module.main([]) == 0
    assert calls[0]["out"] is None and calls[0]["steps"] == 400 and calls[0]["lr_final"] is None


def test_train_command_help_and_bad_arguments(tmp_path, capsys):
    from training import densenet as module

    with pytest.raises(SystemExit) as err:
        module.main(["--help"])
    assert err.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m training.densenet") and "--recalibrate-batches" in out
    with pytest.raises(SystemExit) as err:
        module.main(["--steps", "many"])
    assert err.value.code == 2 and "argument --steps: invalid int value: 'many'" in capsys.readouterr().err
    # checked before any model is built, and nothing is written
    with pytest.raises(ValueError, match=r"--out must end with \.weights\.h5 \(Keras 3 weights file\)"):
        module.main(["--steps", "1", "--out", str(tmp_path / "model.h5")])
    with pytest.raises(ValueError, match="batch_size >= 1"):
        module.main(["--batch-size", "0", "--out", str(tmp_path / "m.weights.h5")])
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- python -m training.fundus

@pytest.mark.slow
def test_train_fundus_command_writes_weights_and_card_and_prints_its_steps(tmp_path, capsys):
    from util.models.fundus_cnn import load_fundus_model, predict_grades
    from training.fundus import main, make_fundus_batch

    out = tmp_path / "tiny.weights.h5"
    assert main(["--size", "64", "--steps", "2", "--batch-size", "8", "--seed", "2", "--eval-n", "8",
                 "--recalibrate-batches", "1", "--log-every", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "step 1/2 loss " in printed and "step 2/2 loss " in printed
    assert "recalibrated BatchNorm statistics on 1 fresh batches" in printed
    card = tmp_path / "FUNDUS_MODEL_CARD.md"
    assert printed.rstrip().endswith(f"wrote {card}")
    assert "--size 64 --steps 2 --batch-size 8 --seed 2" in card.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FUNDUS_MODEL_CARD.md", "tiny.weights.h5"]
    x, _ = make_fundus_batch([5, 6], [0, 4], size=64)
    probs, grades = predict_grades(load_fundus_model(out), x)
    assert probs.shape == (2, 4) and grades.shape == (2,)


def test_train_fundus_command_bad_arguments(tmp_path, capsys):
    from training.fundus import main

    with pytest.raises(SystemExit) as err:
        main(["--size"])
    assert err.value.code == 2 and "argument --size: expected one argument" in capsys.readouterr().err
    with pytest.raises(ValueError, match="multiple of 8"):
        main(["--size", "100", "--steps", "0", "--out", str(tmp_path / "w.weights.h5")])
    with pytest.raises(ValueError, match="weights.h5"):
        main(["--steps", "0", "--out", str(tmp_path / "w.h5")])
    assert list(tmp_path.iterdir()) == []

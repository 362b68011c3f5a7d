"""training.fundus (make train-fundus): batches, seed ranges, a training smoke run, the command line."""

import numpy as np
import pytest

from util.config.course import EVAL_SEED_BASE, TRAIN_SEED_HI, TRAIN_SEED_LO
from util.models.fundus_cnn import load_fundus_model, predict_grades
from training.fundus import eval_seeds_and_grades, make_fundus_batch, train

MAX_WEIGHTS_BYTES = 5 * 1024 * 1024


def test_batch_targets_and_seed_ranges_are_disjoint():
    x, y = make_fundus_batch([5, 6], [0, 3], size=64)
    assert x.shape == (2, 64, 64, 3) and y.tolist() == [[0, 0, 0, 0], [1, 1, 1, 0]]
    seeds, grades = eval_seeds_and_grades(10, start=5)
    assert seeds[0] == EVAL_SEED_BASE + 5 and grades.tolist() == [0, 1, 2, 3, 4] * 2
    assert TRAIN_SEED_LO >= 2**40 and TRAIN_SEED_HI <= EVAL_SEED_BASE  # make_fundus_set uses seeds < 2**40


@pytest.mark.slow
def test_training_smoke_run_writes_loadable_weights_and_a_card(tmp_path):
    out = tmp_path / "fundus_smoke.weights.h5"
    result = train(size=64, steps=3, batch_size=10, seed=1, eval_n=10, recalibrate_batches=1, out=out,
                   log_every=1, eager=True)
    assert out.is_file() and out.stat().st_size < MAX_WEIGHTS_BYTES
    card = (tmp_path / "FUNDUS_MODEL_CARD.md").read_text()
    assert "grade accuracy" in card and "quadratic-weighted kappa" in card and "not a clinical model" in card
    assert "--steps 3 --batch-size 10 --seed 1" in card
    assert np.isfinite(result["final_loss"]) and result["after"]["confusion"].sum() == 10
    loaded = load_fundus_model(out)
    x, _ = make_fundus_batch([1, 2, 3], [0, 2, 4], size=64)
    np.testing.assert_allclose(predict_grades(loaded, x)[0], predict_grades(result["model"], x)[0], atol=1e-6)


def test_training_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="weights.h5"):
        train(steps=0, out=tmp_path / "w.h5")
    with pytest.raises(ValueError, match="multiple of 8"):
        train(size=100, steps=0, out=tmp_path / "w.weights.h5")


# --------------------------------------------------------------------------- the shipped model


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

"""training.densenet (make train): the schedule, the batches, a smoke run, and the command line."""

import os

import subprocess
import sys

import numpy as np
import pytest

from util.config.course import LABELS
from util.config.paths import REPO_ROOT
from util.models.densenet import load_C3M3_model


def test_learning_rate_schedule_constant_or_cosine_to_the_final_value():
    from training.densenet import learning_rate_schedule

    assert learning_rate_schedule(1e-3, None, 300) == 1e-3
    cosine = learning_rate_schedule(1e-3, 1e-4, 300)
    values = [float(cosine(step)) for step in (0, 150, 300, 1000)]
    assert values[0] == pytest.approx(1e-3)
    assert values[1] == pytest.approx(0.5 * (1e-3 + 1e-4))  # half-way down the cosine
    assert values[2] == pytest.approx(1e-4) and values[3] == pytest.approx(1e-4)  # holds after the run
    with pytest.raises(ValueError, match="--lr-final"):
        learning_rate_schedule(1e-3, 2e-3, 10)
    with pytest.raises(ValueError, match="--lr must be > 0"):
        learning_rate_schedule(0.0, None, 10)


def test_make_batch_is_seeded_and_oversamples():
    from training.densenet import TRAIN_SEED_HI, TRAIN_SEED_LO, make_batch, sampling_rates

    rates = sampling_rates(0.15)
    assert rates.min() == pytest.approx(0.15) and rates[LABELS.index("Infiltration")] == pytest.approx(0.175)
    a = make_batch(np.random.default_rng(5), 64, 3, 120.0, 60.0, rates)
    b = make_batch(np.random.default_rng(5), 64, 3, 120.0, 60.0, rates)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[0].shape == (3, 64, 64, 3) and a[1].shape == (3, 14)
    for row, masks in zip(a[1], a[2]):
        assert [LABELS[j] for j in np.flatnonzero(row)] == [lab for lab in LABELS if lab in masks]
    assert TRAIN_SEED_LO >= 2**40 and TRAIN_SEED_HI <= 2**41
    with pytest.raises(ValueError, match="floor"):
        sampling_rates(1.5)


@pytest.mark.slow
def test_train_smoke_run_writes_loadable_weights(tmp_path):
    from training.densenet import train

    out = tmp_path / "smoke.weights.h5"
    result = train(
        size=64, steps=2, batch_size=4, seed=0, out=out, recalibrate_batches=2,
        recalibrate_size=64, eval_n=16, log_every=1, eager=True,
    )
    assert out.is_file() and out.stat().st_size <= 30e6
    assert np.isfinite(result["final_loss"])
    assert len(result["auc_before"]) == len(result["auc_after"]) == 14
    model = load_C3M3_model(weights_path=out)
    for a, b in zip(model.weights, result["model"].weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not model.compiled  # weights only: the student library holds no training loss

    # the evaluation command runs on these weights and writes the model card's table
    from training.evaluate import main as evaluate_main

    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# Card\n\n<!-- metrics:start -->\nold\n<!-- metrics:end -->\n\nFooter\n")
    assert evaluate_main(["--weights", str(out), "--n", "8", "--size", "64", "--max-cams", "1", "--threshold", "0", "--card", str(card)]) == 0
    text = card.read_text()
    assert "old" not in text and text.endswith("Footer\n") and text.count("| Cardiomegaly |") == 1
    from util.models.densenet import weights_digest

    assert f"Weights SHA-256 `{weights_digest(out)}`" in text

    # a fresh interpreter loads it writing nothing to stderr (load time: benchmarks/bench_model.py)
    code = f"from util.models.densenet import load_C3M3_model; load_C3M3_model(weights_path={str(out)!r}); print('loaded')"
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.strip() == "loaded"


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

"""The training scripts' shared loop (training.loop) and the fundus model card's templates (training.card_template)."""

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest

from training import densenet, evaluate, fundus, loop
from training.card_template import TEMPLATES_DIR, placeholders, render
from training.fundus_card import model_card
from util.config.seeding import seeded_rng

SCRIPTS = {"densenet": densenet, "fundus": fundus}


# --------------------------------------------------------------------------- command line


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_both_scripts_parse_the_common_options_into_the_same_arguments(name):
    parser = SCRIPTS[name].parser()
    assert set(loop.COMMON_OPTIONS) <= set(vars(parser.parse_args([])))
    argv = ["--size", "96", "--steps", "7", "--batch-size", "3", "--seed", "5", "--lr", "2e-3",
            "--recalibrate-batches", "2", "--eval-n", "9", "--out", "w.weights.h5", "--log-every", "-4"]
    assert loop.common_arguments(parser.parse_args(argv)) == dict(
        size=96, steps=7, batch_size=3, seed=5, lr=2e-3, recalibrate_batches=2, eval_n=9, out="w.weights.h5",
        log_every=1)


def test_each_script_keeps_its_own_defaults_and_options():
    d = loop.common_arguments(densenet.parser().parse_args([]))
    f = loop.common_arguments(fundus.parser().parse_args([]))
    assert (d["size"], d["steps"], d["batch_size"], d["lr"], d["recalibrate_batches"], d["eval_n"], d["log_every"]) == (
        256, 400, 16, 1e-3, 24, 128, 10)
    assert (f["size"], f["steps"], f["batch_size"], f["lr"], f["recalibrate_batches"], f["eval_n"], f["log_every"]) == (
        128, 300, 32, 3e-3, 16, 500, 25)
    assert d["out"] is None and f["out"] is None and d["seed"] == f["seed"] == 0
    assert densenet.parser().parse_args(["--lr-final", "1e-4"]).lr_final == 1e-4
    assert fundus.parser().parse_args(["--card", "c.md"]).card == "c.md"
    with pytest.raises(SystemExit):
        fundus.parser().parse_args(["--lr-final", "1e-4"])


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_both_scripts_train_with_the_shared_loop(name):
    module = SCRIPTS[name]
    for shared in ("check_arguments", "make_train_step", "run_training", "save_weights"):
        assert getattr(module, shared) is getattr(loop, shared)
    assert module.seeded_rng is seeded_rng
    called = {node.func.id for node in ast.walk(ast.parse(inspect.getsource(module.train)))
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert {"check_arguments", "run_training"} <= called


def test_check_arguments_defaults_the_weights_file_and_refuses_bad_values(tmp_path):
    default = tmp_path / "model.weights.h5"
    assert loop.check_arguments(64, 0, 1, 0, 0, None, default) == default
    assert loop.check_arguments(64, 3, 2, 1, 4, "a/b.weights.h5", default) == Path("a/b.weights.h5")
    with pytest.raises(ValueError, match=r"--out must end with \.weights\.h5"):
        loop.check_arguments(64, 1, 1, 0, 0, tmp_path / "model.h5", default)
    for size, steps, batch_size, recal, eval_n in [(32, 1, 1, 0, 0), (64, -1, 1, 0, 0), (64, 1, 0, 0, 0),
                                                   (64, 1, 1, -1, 0), (64, 1, 1, 0, -1)]:
        with pytest.raises(ValueError, match="batch_size >= 1 and size >= 64"):
            loop.check_arguments(size, steps, batch_size, recal, eval_n, None, default)


# --------------------------------------------------------------------------- the loop


def test_prefetched_yields_every_batch_in_order():
    assert list(loop.prefetched(lambda a, b: a * b, [(1, 2), (3, 4), (5, 6)])) == [2, 12, 30]
    assert list(loop.prefetched(lambda a: a, [])) == []


def test_run_training_takes_one_batch_per_step_and_logs_every_n_steps(capsys):
    seen = []

    def step(x, y):
        seen.append((x, y))
        return float(x)

    batches = iter([(float(i), None) for i in range(1, 10)])
    run = loop.run_training(step, batches, steps=5, log_every=2)
    assert [x for x, _ in seen] == [1.0, 2.0, 3.0, 4.0, 5.0] and next(batches)[0] == 6.0
    assert run.losses == [1.0, 2.0, 3.0, 4.0, 5.0] and run.final_loss == 5.0
    assert run.train_seconds >= 0 and np.isfinite(run.seconds_per_step)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in lines] == ["step 2/5 loss 1.5000", "step 4/5 loss 3.5000",
                                                       "step 5/5 loss 4.5000"]
    empty = loop.run_training(step, iter([]), steps=0, log_every=1)
    assert empty.losses == [] and np.isnan(empty.final_loss) and np.isnan(empty.seconds_per_step)
    assert np.isnan(loop.run_training(step, iter([(1.0, None)]), steps=1, log_every=1).seconds_per_step)


def _tiny_model(seed):
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))


def test_the_train_step_is_the_same_eager_and_traced(tmp_path):
    import keras

    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    weights = []
    for eager in (True, False):
        model = _tiny_model(0)
        before = [w.copy() for w in model.get_weights()]
        step = loop.make_train_step(model, keras.losses.BinaryCrossentropy(), keras.optimizers.Adam(0.1), eager)
        losses = [float(step(x, y)) for _ in range(3)]
        assert losses[-1] < losses[0] and not np.array_equal(model.get_weights()[0], before[0])
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-6)

    out = tmp_path / "new" / "tiny.weights.h5"
    assert loop.save_weights(model, out) == out.stat().st_size > 0
    reloaded = _tiny_model(1)
    reloaded.load_weights(str(out))
    for a, b in zip(reloaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- the model card's templates


class _FakeModel:
    def count_params(self):
        return 104_000


def _result(tmp_path, before, after):
    out = tmp_path / "fundus.weights.h5"
    out.write_bytes(b"\0" * 470_000)
    return {"out": out, "command": "python -m training.fundus --steps 3", "train_seconds": 12.4,
            "seconds_per_step": 0.12, "total_seconds": 30.6, "before": before, "after": after}


def _metrics(accuracy):
    return {"accuracy": accuracy, "kappa": 0.9, "mae": 0.25, "confusion": np.eye(5, dtype=int) * 20}


@pytest.mark.parametrize("before, after", [(_metrics(0.4), _metrics(0.8)), (_metrics(0.4), None), (None, None)])
def test_the_card_fills_every_placeholder(tmp_path, before, after):
    card = model_card(_FakeModel(), _result(tmp_path, before, after), size=64, steps=3, batch_size=4, seed=7,
                      lr=3e-3, recalibrate_batches=2, eval_n=100)
    assert "$" not in card and card.startswith("# Model card: fundus_cnn") and card.endswith("modelled here.\n")
    assert "104,000 parameters" in card and "`python -m training.fundus --steps 3`" in card
    assert "set_random_seed(7)" in card and "warmed up to 0.003" in card and "12 images" in card
    if after is not None:
        assert "| grade accuracy | 0.800 |" in card and "before BatchNorm recalibration | 0.400 / 0.900 |" in card
        assert "| 4 Proliferative DR | 0 | 0 | 0 | 0 | 20 | 1.00 |" in card
    elif before is not None:
        assert "| grade accuracy | 0.400 |" in card and "before BatchNorm recalibration" not in card
    else:
        assert "Not evaluated (`--eval-n 0`)." in card and "grade accuracy" not in card


def test_a_template_refuses_a_missing_or_an_unknown_value():
    names = placeholders("fundus_before_recalibration.md")
    assert names == ["accuracy", "kappa"]
    assert render("fundus_before_recalibration.md", {"accuracy": "0.5", "kappa": "0.6"}) == (
        "| accuracy / kappa before BatchNorm recalibration | 0.5 / 0.6 |\n")
    with pytest.raises(KeyError, match=r"fundus_before_recalibration\.md needs a value for \$kappa"):
        render("fundus_before_recalibration.md", {"accuracy": "0.5"})
    with pytest.raises(ValueError, match="no placeholder for kapa"):
        render("fundus_before_recalibration.md", {"accuracy": "0.5", "kappa": "0.6", "kapa": "0.6"})
    with pytest.raises(FileNotFoundError, match="no card template"):
        render("no_such_card.md", {})


def test_every_template_is_valid_and_lives_in_the_maintainer_package():
    templates = sorted(p.name for p in TEMPLATES_DIR.glob("*.md"))
    assert templates == ["fundus_before_recalibration.md", "fundus_evaluation.md", "fundus_model_card.md",
                         "fundus_not_evaluated.md"]
    for name in templates:
        placeholders(name)  # parses
    assert TEMPLATES_DIR.parent == Path(loop.__file__).parent  # training/, which make student leaves out


# --------------------------------------------------------------------------- short functions


def _body_lines(function):
    body = ast.parse(inspect.getsource(function)).body[0].body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    return body[-1].end_lineno - body[0].lineno + 1


@pytest.mark.parametrize("function", [densenet.train, densenet.main, fundus.train, fundus.main, model_card,
                                      evaluate.evaluate], ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_the_training_steps_stay_short(function):
    assert _body_lines(function) <= 40

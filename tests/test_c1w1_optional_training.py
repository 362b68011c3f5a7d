"""C1W1's optional training cell (``code-12``), which nbgrader skips in validate and in autograde.

It runs here as it stands in the source notebook, outside nbgrader, on a small stand-in network (the
cell only uses ``model``; the DenseNet's training step takes ~40 s to build), and the test checks what
it produces: one line per epoch, a learning rate halved exactly after the epochs ReduceLROnPlateau
should react to, EarlyStopping's verdict matching the history, the checkpoint file holding weights of
the model, the loss curves drawn. Under ``NBGRADER_EXECUTION`` it only prints its Skipped line.
"""

import io
import re
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import numpy as np
import pytest

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[1] / "source" / "C1W1" / "C1W1_Assignment.ipynb"
EPOCH = re.compile(r"epoch (\d+): loss ([\d.]+), val_loss ([\d.]+), learning rate ([\d.e+-]+)")


def _cell_source():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "code-12"]
    assert len(cells) == 1 and 'os.environ.get("NBGRADER_EXECUTION")' in cells[0].source
    return cells[0].source


def _namespace():
    import os

    import keras
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from training.losses import compute_class_freqs, get_weighted_loss
    from util import LABELS, ensure_chestxray_data, get_train_generator, load_split

    train_df = load_split("train-small.csv")
    pos, neg = compute_class_freqs(train_df[LABELS].to_numpy())
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, strides=4, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(len(LABELS), activation="sigmoid")(x))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-4), loss=get_weighted_loss(neg, pos))
    return {"os": os, "keras": keras, "plt": plt, "np": np, "pd": pd, "model": model, "labels": LABELS,
            "train_df": train_df, "valid_df": load_split("valid-small.csv"),
            "IMAGE_DIR": ensure_chestxray_data() / "images", "get_train_generator": get_train_generator}


def _run(source, namespace):
    out = io.StringIO()
    with redirect_stdout(out):
        exec(compile(source, "code-12", "exec"), namespace)
    return out.getvalue()


def test_the_optional_training_cell_trains_with_its_four_callbacks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    namespace = _namespace()
    before = [w.copy() for w in namespace["model"].get_weights()]
    text = _run(_cell_source(), namespace)

    epochs = [tuple(float(v) for v in m.groups()[1:]) for m in EPOCH.finditer(text)]
    assert 2 <= len(epochs) <= 4, text
    assert all(np.isfinite(loss) and np.isfinite(val) for loss, val, _ in epochs)
    # ReduceLROnPlateau (patience 0, min_delta 0.005): the rate halves exactly after each epoch without
    # a fall of the best val_loss by 0.005; EarlyStopping (patience 2) stops after two such epochs in a row
    best, rate, waited = float("inf"), 1e-4, 0
    for k, (_, val, logged) in enumerate(epochs):
        assert logged == pytest.approx(rate, rel=0.06), (k, text)  # printed with 2 digits
        if val < best - 0.005:
            best, waited = val, 0
        else:
            rate, waited = rate / 2, waited + 1
    stopped = waited >= 2
    assert ("EarlyStopping: stopped after epoch" in text) == stopped
    assert (f"ran all {len(epochs)} epochs" in text) == (not stopped and len(epochs) == 4)

    checkpoint = tmp_path / "training-run" / "best.weights.h5"
    assert checkpoint.is_file() and f"holds the weights of the best val_loss, {min(v for _, v, _ in epochs):.3f}" in text
    namespace["model"].load_weights(checkpoint)  # weights of this very model
    assert any(not np.array_equal(a, b) for a, b in zip(before, namespace["model"].get_weights()))  # it trained
    assert "TensorBoard: " in text
    if (tmp_path / "training-run" / "logs").exists():
        assert any((tmp_path / "training-run" / "logs").rglob("events.out.*"))

    figure = namespace["plt"].gcf()
    assert [line.get_label() for line in figure.axes[0].get_lines()] == ["training loss", "validation loss"]
    namespace["plt"].close("all")


def test_the_optional_training_cell_is_skipped_when_graded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    text = _run(_cell_source(), {"os": __import__("os")})
    assert text == "Skipped: the notebook is being graded (NBGRADER_EXECUTION is set).\n"
    assert list(tmp_path.iterdir()) == []

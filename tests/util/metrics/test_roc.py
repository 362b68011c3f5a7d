"""util.metrics.roc: ROC curves and AUCs per label."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from util.metrics.roc import get_roc_curve

matplotlib.use("Agg")

LABELS3 = ["A", "B", "C"]


def test_get_roc_curve_returns_aucs_and_draws():
    import matplotlib.pyplot as plt

    truth = np.array([[1, 0, 1], [0, 1, 1], [1, 0, 0], [0, 1, 0]])
    pred = np.array([[0.9, 0.2, 0.6], [0.1, 0.8, 0.4], [0.8, 0.3, 0.5], [0.3, 0.9, 0.7]])
    fig, ax = plt.subplots()
    aucs = get_roc_curve(LABELS3, pred, pd.DataFrame(truth, columns=LABELS3), ax=ax)
    assert aucs == pytest.approx([1.0, 1.0, 0.25])
    assert len(ax.get_lines()) == 4  # three curves and the diagonal
    plt.close(fig)


def test_get_roc_curve_single_class_label_is_nan(capsys):
    truth = np.array([[1, 0], [0, 0], [1, 0]])
    pred = np.array([[0.9, 0.1], [0.2, 0.3], [0.7, 0.2]])
    aucs = get_roc_curve(["A", "B"], pred, truth)
    assert aucs[0] == 1.0 and np.isnan(aucs[1])
    assert "B: only one class" in capsys.readouterr().out


def test_get_roc_curve_bad_input():
    truth = pd.DataFrame({"A": [0, 1]})
    with pytest.raises(ValueError, match=r"no column\(s\) \['B'\]"):
        get_roc_curve(["A", "B"], np.zeros((2, 2)), truth)
    with pytest.raises(ValueError, match="shape"):
        get_roc_curve(["A", "B"], np.zeros((2, 3)), np.zeros((2, 2)))

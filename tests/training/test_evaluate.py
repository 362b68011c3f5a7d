"""The model card's strict pointing game and location-prior columns (training.evaluate)."""

import numpy as np
import pytest


def _row(label, **extra):
    row = {"label": label, "positives": 10, "auc": 0.9, "scored": 4, "pointing_game": 0.75, "energy": 0.25,
           "mask_share": 0.01}
    row.update(extra)
    return row


def test_the_table_adds_strict_and_prior_columns_after_the_old_ones():
    from training.evaluate import metrics_table

    rows = [_row("Cardiomegaly", pointing_strict=0.5, prior_pointing=0.25, prior_strict=0.0),
            _row("Hernia", scored=0, pointing_game=float("nan"), energy=float("nan"), mask_share=float("nan"),
                 pointing_strict=float("nan"), prior_pointing=float("nan"), prior_strict=float("nan"))]
    block = metrics_table({"rows": rows, "mean_auc": 0.9, "n": 20, "size": 320, "floor": 0.15, "threshold": 0.5,
                           "max_cams": 50, "tolerance": 15, "mean": 118.0, "std": 62.0, "weights_sha256": "ab" * 32})
    assert "| Mask share | Pointing game, strict | Prior, 15 px | Prior, strict |" in block
    assert "| Cardiomegaly | 10 | 0.900 | 4 | 0.75 | 0.25 | 0.010 | 0.50 | 0.25 | 0.00 |" in block
    assert "| Hernia | 10 | 0.900 | 0 | — | — | — | — | — | — |" in block
    assert "| **Mean** | | **0.900** | 4 | 0.75 | 0.25 | | 0.50 | 0.25 | 0.00 |" in block


def test_training_priors_are_the_mean_training_masks_at_the_asked_size():
    from util.config.course import LABELS
    from util.data.chestxray import ensure_chestxray_data, load_mask, load_split
    from training.evaluate import training_priors

    priors = training_priors(64)
    assert sorted(priors) == sorted(LABELS)
    assert all(p.shape == (64, 64) and 0 <= p.min() and p.max() <= 1 for p in priors.values())
    full = training_priors(320)["Cardiomegaly"]
    train = load_split("train-small.csv")
    names = train.loc[train["Cardiomegaly"] == 1, "Image"]
    expected = np.mean([load_mask(ensure_chestxray_data(), n, "Cardiomegaly") for n in names], axis=0)
    np.testing.assert_allclose(full, expected)
    assert full.max() == 1.0  # the heart's centre is in every Cardiomegaly mask


def test_evaluate_scores_the_prior_and_the_strict_game_on_the_same_films():
    """A two-batch run: strict hits never exceed lenient ones, for the CAM and for the prior."""
    from training.evaluate import evaluate

    result = evaluate(n=8, size=64, batch_size=4, max_cams=2, threshold=0.0, verbose=False)
    for r in result["rows"]:
        if r["scored"]:
            assert r["pointing_strict"] <= r["pointing_game"]
            assert r["prior_strict"] <= r["prior_pointing"]
        else:
            assert np.isnan(r["prior_pointing"])


def test_a_data_folder_without_masks_says_the_prior_needs_the_phantoms(tmp_path, monkeypatch):
    import training.evaluate as ev
    import util.data.chestxray as cx

    monkeypatch.setattr(cx, "ensure_chestxray_data", lambda *a, **k: tmp_path)
    with pytest.raises(FileNotFoundError, match="location prior needs the phantoms"):
        ev.training_priors(64)


def _result():
    rows = [
        {"label": lab, "positives": 10, "auc": 0.9, "scored": 4, "pointing_game": 0.5, "energy": 0.25, "mask_share": 0.01}
        for lab in ("Cardiomegaly", "Hernia")
    ]
    rows[1].update(scored=0, pointing_game=float("nan"), energy=float("nan"), mask_share=float("nan"))
    return {"rows": rows, "mean_auc": 0.9, "n": 20, "size": 320, "floor": 0.15, "threshold": 0.5,
            "max_cams": 50, "tolerance": 15, "mean": 118.0, "std": 62.0, "weights_sha256": "ab" * 32}


def test_metrics_table_and_card_update(tmp_path):
    from training.evaluate import MARK_END, MARK_START, metrics_table, update_card

    block = metrics_table(_result())
    assert block.startswith(MARK_START) and block.endswith(MARK_END)
    assert f"Weights SHA-256 `{'ab' * 32}`" in block  # which weights the numbers describe
    assert "| Cardiomegaly | 10 | 0.900 | 4 | 0.50 | 0.25 | 0.010 |" in block
    assert "| Hernia | 10 | 0.900 | 0 | — | — | — |" in block
    assert "| **Mean** | | **0.900** | 4 | 0.50 | 0.25 | |" in block

    card = tmp_path / "MODEL_CARD.md"
    card.write_text(f"# Card\n\nintro\n\n{MARK_START}\nold table\n{MARK_END}\n\n## Limits\n")
    update_card(block, card)
    update_card(block, card)  # idempotent
    text = card.read_text()
    assert text == f"# Card\n\nintro\n\n{block}\n\n## Limits\n"

    fresh = tmp_path / "new" / "MODEL_CARD.md"
    update_card(block, fresh)  # created, markers appended
    assert fresh.read_text().count(MARK_START) == 1

    broken = tmp_path / "broken.md"
    broken.write_text(f"{MARK_START}\nno end\n")
    with pytest.raises(ValueError, match="markers"):
        update_card(block, broken)

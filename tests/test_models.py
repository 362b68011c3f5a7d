"""The course model (util.models.densenet), its loss (training.losses) and its training script (training.densenet)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from util.explain import gradcam as C
from util.config.course import LABELS
from util.config.course import CAM_LAYER
from util.models.densenet import WEIGHTS_FILE, build_densenet121, load_C3M3_model, standardize
from training.losses import compute_class_freqs, get_weighted_loss

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def densenet():
    """One DenseNet121 for the whole module (building one costs seconds on CPU)."""
    keras.utils.set_random_seed(0)
    return build_densenet121()


# --------------------------------------------------------------------------- architecture


def test_architecture_layers(densenet):
    names = [layer.name for layer in densenet.layers]
    assert len(names) == 429  # Keras 3 keeps a final relu after bn: the course's Keras 2 model had 428
    assert names[-4:] == ["bn", "relu", "avg_pool", "predictions"]
    assert densenet.get_layer(CAM_LAYER) is densenet.get_layer("conv5_block16_concat")
    assert densenet.get_layer("conv5_block16_concat").output.shape[-1] == 1024
    assert densenet.get_layer("predictions").activation is keras.activations.sigmoid
    assert densenet.output_shape == (None, 14)
    assert densenet.input_shape == (None, None, None, 3)


def test_predictions_are_probabilities(densenet):
    x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype(np.float32)
    p = np.asarray(densenet(x, training=False))
    assert p.shape == (2, 14)
    assert ((p > 0) & (p < 1)).all()


def test_n_labels_is_validated():
    with pytest.raises(ValueError, match="n_labels"):
        build_densenet121(0)


def test_grad_cam_on_densenet(densenet):
    x = np.random.default_rng(1).normal(size=(1, 64, 64, 3)).astype(np.float32)
    cams = C.grad_cams(densenet, x, [0, 13])
    for k in (0, 13):
        cam = cams[k]
        assert cam.shape == (64, 64) and cam.dtype == np.float32
        assert 0.0 <= cam.min() and cam.max() <= 1.0
        np.testing.assert_allclose(cam, C.grad_cam(densenet, x, k), atol=1e-5)
    acts, grads = C.activations_and_gradients(densenet, x, 0)
    assert acts.shape == grads.shape == (2, 2, 1024)  # 64 / 32


def test_densenet_errors_name_the_valid_choices(densenet):
    x = np.zeros((1, 64, 64, 3), np.float32)
    with pytest.raises(ValueError, match="conv5_block16_concat"):
        C.grad_cam(densenet, x, 0, layer_name="conv5_block16_concatenate")
    with pytest.raises(IndexError, match=r"0\.\.13"):
        C.grad_cam(densenet, x, 14)


# --------------------------------------------------------------------------- loss and class frequencies


def _numpy_weighted_loss(y, p, wp, wn, eps=1e-7):
    total = 0.0
    for j in range(y.shape[1]):
        terms = wp[j] * y[:, j] * np.log(p[:, j] + eps) + wn[j] * (1 - y[:, j]) * np.log(1 - p[:, j] + eps)
        total += -np.mean(terms)
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_loss_matches_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random((16, 14)) < 0.3).astype(np.float32)
    p = rng.uniform(0.01, 0.99, size=(16, 14)).astype(np.float32)
    wp, wn = rng.random(14), rng.random(14)
    loss = get_weighted_loss(wp, wn)
    assert float(loss(y, p)) == pytest.approx(_numpy_weighted_loss(y, p, wp, wn), rel=1e-5)
    assert float(loss(y, y)) == pytest.approx(_numpy_weighted_loss(y, y, wp, wn), rel=1e-4)  # exact 0/1 is finite


def test_weighted_loss_course_symmetric_check():
    y = np.array([[1, 1, 1], [1, 1, 0], [0, 1, 0], [1, 0, 1]], dtype=np.float32)
    wp, wn = np.array([0.25, 0.25, 0.5]), np.array([0.75, 0.75, 0.5])
    loss = get_weighted_loss(wp, wn)
    l1 = float(loss(y, np.full(y.shape, 0.7, np.float32)))
    l2 = float(loss(y, np.full(y.shape, 0.3, np.float32)))
    assert l1 == pytest.approx(0.9754, abs=1e-4)
    assert l1 == pytest.approx(l2, abs=1e-6)  # balanced weights: 0.7 everywhere costs what 0.3 does


def test_weighted_loss_validates_weights():
    with pytest.raises(ValueError, match="same length"):
        get_weighted_loss([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="labels"):
        get_weighted_loss([1, 2], [1, 2])(np.zeros((2, 3)), np.full((2, 3), 0.5))


def test_prevalence_weights_balance_the_data_set():
    from util.data.phantoms import PREVALENCE
    from training.losses import prevalence_weights

    pos_w, neg_w = prevalence_weights()
    p = np.array([PREVALENCE[label] for label in LABELS])
    np.testing.assert_allclose(pos_w * p, neg_w * (1 - p))


def test_compute_class_freqs_known_matrix():
    labels = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 1], [1, 0, 1]])
    pos, neg = compute_class_freqs(labels)
    np.testing.assert_allclose(pos, [0.75, 0.25, 0.75])
    np.testing.assert_allclose(neg, [0.25, 0.75, 0.25])
    np.testing.assert_allclose(pos * (1 - pos), neg * (1 - neg))  # balanced weights: pos_w = neg, neg_w = pos
    with pytest.raises(ValueError, match="2-D"):
        compute_class_freqs([1, 0, 1])
    with pytest.raises(ValueError, match="binary"):
        compute_class_freqs([[0, 2]])


def test_standardize():
    img = np.array([[0, 100], [200, 255]], dtype=np.uint8)
    x = standardize(img, 100.0, 50.0)
    assert x.shape == (2, 2, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 0], [[-2.0, 0.0], [2.0, 3.1]])
    assert standardize(x * 0 + 1, 0, 1).shape == (2, 2, 3)  # already RGB
    with pytest.raises(ValueError, match="std"):
        standardize(img, 0.0, 0.0)


# --------------------------------------------------------------------------- loading


def test_load_missing_weights_says_what_to_do(tmp_path):
    missing = tmp_path / "nope.weights.h5"
    with pytest.raises(FileNotFoundError) as err:
        load_C3M3_model(weights_path=missing)
    assert str(missing) in str(err.value) and "weights_path=" in str(err.value)
    assert WEIGHTS_FILE.name == "densenet121_phantoms.weights.h5"


# --------------------------------------------------------------------------- training helpers


def test_recalibrate_batchnorm_sets_the_average_of_batch_statistics():
    from util.models.densenet import batchnorm_layers, recalibrate_batchnorm
    from training import densenet as training_densenet

    assert training_densenet.recalibrate_batchnorm is recalibrate_batchnorm  # one implementation for both models

    inp = keras.Input((4,))
    bn = keras.layers.BatchNormalization(momentum=0.99, name="bn")
    model = keras.Model(inp, keras.layers.Dense(1)(bn(inp)))
    rng = np.random.default_rng(0)
    batches = [rng.normal(loc=i, scale=1 + i, size=(32, 4)).astype(np.float32) for i in range(3)]
    before = [w.copy() for w in bn.get_weights()]
    dense_before = model.layers[-1].get_weights()[0].copy()
    assert recalibrate_batchnorm(model, iter(batches)) == 3
    gamma, beta, moving_mean, moving_var = bn.get_weights()
    np.testing.assert_allclose(moving_mean, np.mean([b.mean(axis=0) for b in batches], axis=0), rtol=1e-5)
    np.testing.assert_allclose(moving_var, np.mean([b.var(axis=0) for b in batches], axis=0), rtol=1e-4)
    assert not np.allclose(moving_mean, before[2])
    np.testing.assert_array_equal(gamma, before[0])  # no weight update
    np.testing.assert_array_equal(beta, before[1])
    np.testing.assert_array_equal(model.layers[-1].get_weights()[0], dense_before)
    assert bn.momentum == 0.99  # restored
    assert batchnorm_layers(model) == [bn]


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


# --------------------------------------------------------------------------- smoke run (slow)


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
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.strip() == "loaded"


def test_predict_with_progress_reports_and_equals_the_model_batch_by_batch(tmp_path):
    import keras

    from util.data.pipeline import ChestXrayBatches
    from util.models.densenet import predict_with_progress

    inp = keras.Input((8, 8, 3))
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(inp)))
    x = np.random.default_rng(0).normal(size=(7, 8, 8, 3)).astype(np.float32)
    lines = []
    got = predict_with_progress(model, [x[:3], x[3:6], x[6:]], every=2, report=lines.append)
    np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-6)
    assert lines == ["predicted 6 images, batch 2 of 3", "predicted 7 images, batch 3 of 3"]

    from PIL import Image

    for i in range(5):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    batches = ChestXrayBatches(tmp_path, [f"{i}.png" for i in range(5)], np.zeros((5, 2)), 2, False, 0, 8, 8,
                               mean=100.0, std=50.0)
    lines.clear()
    got = predict_with_progress(model, batches, every=1, report=lines.append)
    assert got.shape == (5, 2)
    assert lines == ["predicted 2 of 5 images", "predicted 4 of 5 images", "predicted 5 of 5 images"]
    for every, error in ((0, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="every must be an int"):
            predict_with_progress(model, batches, every=every)
    with pytest.raises(ValueError, match="nothing to predict"):
        predict_with_progress(model, [])

"""util.models.densenet: the course DenseNet121, its input convention, loading, precise BN and predictions."""

import keras
import numpy as np
import pytest

from util.explain import gradcam as C
from util.config.course import CAM_LAYER
from util.models.densenet import WEIGHTS_FILE, build_densenet121, load_C3M3_model, standardize

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


# --------------------------------------------------------------------------- smoke run (slow)


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

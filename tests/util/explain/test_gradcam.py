"""Grad-CAM step by step (util.explain.gradcam) on hand-built models whose gradients are known.

The tiny model is  x (1, H, W, 3) -> 1x1 conv "feat" (K, no bias) -> [2x2 average pool "pooled"]
-> global average pool -> dense "out" (V, no bias, linear). For class k the score is
y_k = sum_c V[c, k] * mean_hw(A[..., c]), so dy_k/dA[h, w, c] = V[c, k] / (h * w) everywhere and
the Grad-CAM before ReLU is sum_c V[c, k] / (h * w) * A[..., c].
"""


import cv2
import keras
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from util.config.course import CAM_LAYER
from util.explain import gradcam as C
from util.explain.overlay import plot_overlay

H, W = 8, 6  # non-square, to catch (W, H) mix-ups
K = np.array([[1.0, 0.5], [0.0, 1.0], [2.0, 0.0]], dtype=np.float32)  # (3 in, 2 channels)
V = np.array([[1.0, -1.0, 0.5], [2.0, -3.0, -1.0]], dtype=np.float32)  # (2 channels, 3 classes)


def _tiny(pool=False):
    inp = keras.Input((None, None, 3))
    feat = keras.layers.Conv2D(2, 1, use_bias=False, name="feat")(inp)
    x = keras.layers.AveragePooling2D(2, name="pooled")(feat) if pool else feat
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(3, use_bias=False, name="out")(x)
    model = keras.Model(inp, out)
    model.get_layer("feat").set_weights([K.reshape(1, 1, 3, 2)])
    model.get_layer("out").set_weights([V])
    return model


@pytest.fixture(scope="module")
def tiny():
    return _tiny()


@pytest.fixture(scope="module")
def tiny_pooled():
    return _tiny(pool=True)


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    return rng.uniform(0.1, 1.0, size=(1, H, W, 3)).astype(np.float32)  # positive pixels


def test_gradcam_model_outputs_activations_and_predictions(tiny, image):
    gm = C.gradcam_model(tiny, "feat")
    acts, preds = gm(image)
    np.testing.assert_allclose(np.asarray(acts)[0], image[0] @ K, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(preds), np.asarray(tiny(image)), rtol=1e-5)
    assert C.gradcam_model(tiny, "feat") is gm  # cached


@pytest.mark.parametrize("k", [0, 1, 2])
def test_activations_and_gradients_are_known(tiny, image, k):
    acts, grads = C.activations_and_gradients(tiny, image, k, "feat")
    assert acts.shape == grads.shape == (H, W, 2)
    np.testing.assert_allclose(acts, image[0] @ K, rtol=1e-5)
    np.testing.assert_allclose(grads, np.broadcast_to(V[:, k] / (H * W), (H, W, 2)), rtol=1e-5)


def test_steps_match_hand_computation(tiny, image):
    acts, grads = C.activations_and_gradients(tiny, image, 0, "feat")
    w = C.channel_weights(grads)
    np.testing.assert_allclose(w, V[:, 0] / (H * W), rtol=1e-5)
    cam = C.weighted_sum(acts, w)
    np.testing.assert_allclose(cam, (image[0] @ K) @ (V[:, 0] / (H * W)), rtol=1e-5)
    assert C.resize_to_input(cam, H, W).shape == (H, W)
    np.testing.assert_array_equal(C.relu(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 2.0])


@pytest.mark.parametrize("k", [0, 2])
def test_grad_cam_end_to_end(tiny, image, k):
    raw = (image[0] @ K) @ (V[:, k] / (H * W))
    expected = np.maximum(raw, 0)
    expected = expected / expected.max()
    cam = C.grad_cam(tiny, image, k, layer_name="feat")
    assert cam.shape == (H, W) and cam.dtype == np.float32
    np.testing.assert_allclose(cam, expected, rtol=1e-5, atol=1e-6)
    assert cam.max() == pytest.approx(1.0)


def test_grad_cam_with_downsampled_layer_is_relu_then_bilinear_resize(tiny_pooled, image):
    a = (image[0] @ K).reshape(H // 2, 2, W // 2, 2, 2).mean(axis=(1, 3))  # 2x2 average pool
    raw = a @ (V[:, 0] / ((H // 2) * (W // 2)))
    up = cv2.resize(np.maximum(raw, 0).astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
    expected = up / up.max()
    cam = C.grad_cam(tiny_pooled, image, 0, layer_name="pooled")
    np.testing.assert_allclose(cam, expected, rtol=1e-5, atol=1e-6)


def test_class_with_no_positive_evidence_gives_zeros_not_nan(tiny, image):
    # class 1 has negative weights on both channels and activations are positive
    cam = C.grad_cam(tiny, image, 1, layer_name="feat")
    assert not np.isnan(cam).any()
    np.testing.assert_array_equal(cam, np.zeros((H, W), np.float32))


def test_grad_cams_equal_grad_cam_per_class(tiny, image):
    cams = C.grad_cams(tiny, image, [2, 0, 2], layer_name="feat")
    assert sorted(cams) == [0, 2]
    for k, cam in cams.items():
        np.testing.assert_allclose(cam, C.grad_cam(tiny, image, k, layer_name="feat"), atol=1e-6)
    assert C.grad_cams(tiny, image, [], layer_name="feat") == {}


def test_resize_is_bilinear_with_width_height_order():
    cam = np.array([[0.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    out = C.resize_to_input(cam, 2, 4)  # H=2, W=4
    assert out.shape == (2, 4)
    np.testing.assert_allclose(out[0], [0.0, 0.25, 0.75, 1.0])  # nearest would give 0, 0, 1, 1


def test_normalize():
    np.testing.assert_allclose(C.normalize(np.array([0.0, 2.0, 4.0])), [0.0, 0.5, 1.0])
    zeros = C.normalize(np.zeros((3, 3)))
    assert not np.isnan(zeros).any() and (zeros == 0).all()
    with pytest.raises(ValueError, match="NaN"):
        C.normalize(np.array([np.nan, 1.0]))


def test_unknown_layer_lists_close_names(tiny, image):
    with pytest.raises(ValueError, match="'feat'") as err:
        C.grad_cam(tiny, image, 0, layer_name="feats")
    assert "no layer named 'feats'" in str(err.value)
    with pytest.raises(ValueError, match="no layer"):
        C.gradcam_model(tiny, "nonexistent")


@pytest.mark.parametrize("k", [3, -1, 1.0, True])
def test_class_index_out_of_range(tiny, image, k):
    with pytest.raises(IndexError, match=r"0\.\.2"):
        C.grad_cam(tiny, image, k, layer_name="feat")
    with pytest.raises(ValueError):  # also a ValueError
        C.grad_cams(tiny, image, [0, k], layer_name="feat")


@pytest.mark.parametrize("shape", [(H, W, 3), (2, H, W, 3), (1, H, W), (1, H, W, 1)])
def test_image_must_be_one_rgb_image(tiny, shape):
    with pytest.raises(ValueError, match=r"\(1, H, W, 3\)"):
        C.grad_cam(tiny, np.zeros(shape, np.float32), 0, layer_name="feat")


def test_step_input_validation():
    with pytest.raises(ValueError, match="grads"):
        C.channel_weights(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="weights"):
        C.weighted_sum(np.zeros((2, 2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="2-D"):
        C.resize_to_input(np.zeros((2, 2, 1)), 4, 4)


def test_plot_overlay_draws_image_cam_and_mask(image):
    import matplotlib.pyplot as plt

    cam = np.linspace(0, 1, H * W, dtype=np.float32).reshape(H, W)
    mask = np.zeros((H, W), bool)
    mask[2:5, 2:4] = True
    fig, ax = plt.subplots()
    out = plot_overlay(image, cam, ax=ax, alpha=0.4, mask=mask, title="t")
    assert out is ax
    assert len(ax.images) == 2 and ax.images[1].get_alpha() == 0.4
    assert ax.get_title() == "t"
    assert len(ax.collections) >= 1  # the mask outline
    with pytest.raises(ValueError, match="shape"):
        plot_overlay(image, np.zeros((3, 3)), ax=ax)
    plt.close(fig)


def _sigmoid_tiny(bias):
    """The tiny model with a sigmoid head whose bias can push the probabilities to saturation."""
    inp = keras.Input((None, None, 3))
    feat = keras.layers.Conv2D(2, 1, use_bias=False, name="feat")(inp)
    x = keras.layers.GlobalAveragePooling2D()(feat)
    out = keras.layers.Dense(3, activation="sigmoid", name="out")(x)
    model = keras.Model(inp, out)
    model.get_layer("feat").set_weights([K.reshape(1, 1, 3, 2)])
    model.get_layer("out").set_weights([V, np.full(3, bias, np.float32)])
    return model


def _expected_cam(image, k):
    raw = np.maximum((image[0] @ K) @ V[:, k], 0)
    return raw / raw.max()


def test_logit_and_output_scores_give_the_same_map_when_not_saturated(image):
    model = _sigmoid_tiny(bias=0.0)
    for score in C.SCORES:
        np.testing.assert_allclose(C.grad_cam(model, image, 0, "feat", score=score), _expected_cam(image, 0),
                                   rtol=1e-4, atol=1e-5)
    # the gradients differ by the positive factor p (1 - p) of the sigmoid
    p = float(model(image)[0, 0])
    _, g_logit = C.activations_and_gradients(model, image, 0, "feat", score="logit")
    _, g_output = C.activations_and_gradients(model, image, 0, "feat", score="output")
    np.testing.assert_allclose(g_output, p * (1 - p) * g_logit, rtol=1e-4)


def test_a_saturated_prediction_still_has_a_logit_map(image):
    model = _sigmoid_tiny(bias=40.0)  # sigmoid(40 + ...) is exactly 1.0 in float32
    assert float(model(image)[0, 0]) == 1.0
    blank = C.grad_cam(model, image, 0, "feat", score="output")
    np.testing.assert_array_equal(blank, np.zeros((H, W), np.float32))  # the course's score: no map at all
    cam = C.grad_cam(model, image, 0, "feat")
    np.testing.assert_allclose(cam, _expected_cam(image, 0), rtol=1e-4, atol=1e-5)
    cams = C.grad_cams(model, image, [0, 2], "feat")
    np.testing.assert_allclose(cams[2], _expected_cam(image, 2), rtol=1e-4, atol=1e-5)


def test_score_errors_say_what_to_pass(image):
    with pytest.raises(ValueError, match=r"score must be one of \('logit', 'output'\)"):
        C.grad_cam(_tiny(), image, 0, "feat", score="probability")
    inp = keras.Input((None, None, 3))
    feat = keras.layers.Conv2D(2, 1, use_bias=False, name="feat")(inp)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(feat)
    no_dense = keras.Model(inp, pooled)
    with pytest.raises(ValueError, match="score='output'"):
        C.grad_cam(no_dense, image, 0, "feat")
    assert C.grad_cam(no_dense, image, 0, "feat", score="output").shape == (H, W)


# --------------------------------------------------------------------------- which layers util.explain.gradcam explains


def _tiny_two_convs(nested=False):
    """x -> 1x1 conv "feat" -> 1x1 conv "mix" (or a nested model holding it) -> GAP -> dense "out"."""
    inp = keras.Input((None, None, 3))
    feat = keras.layers.Conv2D(2, 1, use_bias=False, name="feat")(inp)
    if nested:
        sub_in = keras.Input((None, None, 2))
        sub = keras.Model(sub_in, keras.layers.Conv2D(2, 1, name="inner_conv")(sub_in), name="block")
        x = sub(feat)
    else:
        x = keras.layers.Conv2D(2, 1, name="mix")(feat)
    x = keras.layers.ReLU(name="head_in")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(3, activation="sigmoid", name="out")(x)
    return keras.Model(inp, out)


GRADIENT_FUNCTIONS = {
    "gradcam_model": lambda m, x, layer: C.gradcam_model(m, layer),
    "activations_and_scores(logit)": lambda m, x, layer: C.activations_and_scores(m, x, layer, "logit"),
    "activations_and_scores(output)": lambda m, x, layer: C.activations_and_scores(m, x, layer, "output"),
    "activations_and_gradients": lambda m, x, layer: C.activations_and_gradients(m, x, 0, layer),
    "grad_cam": lambda m, x, layer: C.grad_cam(m, x, 0, layer),
    "grad_cams": lambda m, x, layer: C.grad_cams(m, x, [0, 1], layer),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_FUNCTIONS))
@pytest.mark.parametrize("nested", [False, True])
def test_a_layer_followed_by_a_convolution_is_refused(image, name, nested):
    model = _tiny_two_convs(nested)
    with pytest.raises(ValueError) as err:
        GRADIENT_FUNCTIONS[name](model, image, "feat")
    message = str(err.value)
    assert message.startswith("util.explain.gradcam explains only the layer the classification head reads, 'head_in'")
    assert "'feat'" in message and "C3W3 exercise" in message
    assert ("'block'" if nested else "'mix'") in message


@pytest.mark.parametrize("name", sorted(GRADIENT_FUNCTIONS))
def test_the_layer_the_head_reads_is_explained(image, name):
    model = _tiny_two_convs()
    for layer in ("head_in", "mix"):  # the last convolution itself, and the ReLU after it
        GRADIENT_FUNCTIONS[name](model, image, layer)


def test_unknown_layer_message_is_unchanged(tiny, image):
    # notebooks may store this message; it must stay byte-identical
    with pytest.raises(ValueError) as err:
        C.grad_cam(tiny, image, 0, layer_name="feats")
    assert str(err.value) == (
        "The model has no layer named 'feats'. Closest names: ['feat']. "
        "List them all with [layer.name for layer in model.layers]."
    )
    with pytest.raises(ValueError) as err:  # an unknown name is reported before the head check
        C.grad_cam(_tiny_two_convs(), image, 0, layer_name="nothing_like_it")
    assert str(err.value).startswith("The model has no layer named 'nothing_like_it'.")


def test_densenet_explains_only_its_last_dense_block():
    from util.models.densenet import build_densenet121

    model = build_densenet121()
    assert C.gradcam_model(model, CAM_LAYER) is C.gradcam_model(model, CAM_LAYER)
    for k in (4, 10, 15):
        with pytest.raises(ValueError, match="'conv5_block16_concat'.*C3W3 exercise"):
            C.gradcam_model(model, f"conv5_block{k}_concat")
    with pytest.raises(ValueError, match="C3W3 exercise"):
        C.activations_and_scores(model, np.zeros((1, 32, 32, 3), np.float32), "conv4_block24_concat")


def test_fundus_cnn_cam_layer_is_explained():
    from util.config.course import FUNDUS_CAM_LAYER as CAM_LAYER
    from util.models.fundus_cnn import build_fundus_cnn

    model = build_fundus_cnn()
    C.gradcam_model(model, CAM_LAYER)
    with pytest.raises(ValueError, match=f"{CAM_LAYER!r}"):
        C.gradcam_model(model, "block1_conv")


def test_sequential_models_are_checked_too(image):
    model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1, name="a"),
                              keras.layers.Conv2D(2, 1, name="b"), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, name="out")])
    assert C.grad_cam(model, image, 0, "b").shape == (H, W)
    with pytest.raises(ValueError, match="explains only the layer the classification head reads, 'b'"):
        C.grad_cam(model, image, 0, "a")


# --------------------------------------------------------------------------- the fast path: the head alone on the tape


def _full_tape_cams(model, x, class_indices, layer_name=CAM_LAYER):
    """Today's recipe, for reference: the whole network recorded on a tape, one backward pass per class."""
    import tensorflow as tf

    with tf.GradientTape(persistent=True) as tape:
        acts, scores = C.activations_and_scores(model, tf.convert_to_tensor(x), layer_name)
        totals = [tf.reduce_sum(scores[:, k]) for k in class_indices]
    grads = [tape.gradient(t, acts).numpy() for t in totals]
    acts = acts.numpy()
    return np.array([[C.postprocess(C.weighted_sum(acts[i], C.channel_weights(g[i])), *x.shape[1:3])
                      for g in grads] for i in range(len(x))])


def test_head_only_gradients_equal_the_whole_network_tape_on_the_course_model():
    from util.models.densenet import load_C3M3_model

    model = load_C3M3_model()
    assert C._split_at_layer(model, CAM_LAYER, "logit") is not None  # the fast path is taken
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, 96, 96, 3)).astype(np.float32)  # a 3x3 grid at the explained layer
    classes = [0, 5, 13]
    expected = _full_tape_cams(model, x, classes)
    maps = C.grad_cam_batch(model, x, classes, batch_size=2)  # batches of 2 and 1
    assert maps.shape == (3, 3, 96, 96) and maps.dtype == np.float32
    np.testing.assert_allclose(maps, expected, atol=2e-5)
    np.testing.assert_allclose(C.grad_cam(model, x[1:2], 5), expected[1, 1], atol=2e-5)
    preds, raw = C.predictions_and_raw_cams(model, x, classes)
    np.testing.assert_allclose(preds, model(x, training=False).numpy(), atol=1e-6)
    assert raw.shape == (3, 3, 3, 3)
    _, grads = C.activations_and_gradients(model, x[:1], 13)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        acts, scores = C.activations_and_scores(model, tf.convert_to_tensor(x[:1]))
        score = scores[0, 13]
    np.testing.assert_allclose(grads, tape.gradient(score, acts).numpy()[0], rtol=1e-4, atol=1e-9)


def test_fundus_cnn_takes_the_fast_path():
    from util.config.course import FUNDUS_CAM_LAYER as CAM_LAYER
    from util.models.fundus_cnn import build_fundus_cnn

    model = build_fundus_cnn()
    for score in C.SCORES:
        assert C._split_at_layer(model, CAM_LAYER, score) is not None


@pytest.mark.parametrize("score", C.SCORES)
def test_grad_cam_batch_equals_grad_cam_per_image_and_class(score):
    rng = np.random.default_rng(3)
    x = rng.uniform(0.1, 1.0, size=(5, H, W, 3)).astype(np.float32)
    model = _sigmoid_tiny(bias=0.0)
    maps = C.grad_cam_batch(model, x, layer_name="feat", score=score, batch_size=2)
    assert maps.shape == (5, 3, H, W)
    for i in range(5):
        for k in range(3):
            np.testing.assert_allclose(maps[i, k], C.grad_cam(model, x[i:i + 1], k, "feat", score=score), atol=1e-6)
            if k == 1:  # negative evidence only: a blank map
                np.testing.assert_array_equal(maps[i, k], 0.0)
            else:
                np.testing.assert_allclose(maps[i, k], _expected_cam(x[i:i + 1], k), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(C.grad_cam_batch(model, x, 2, "feat", score=score)[:, 0], maps[:, 2])
    np.testing.assert_array_equal(C.grad_cam_batch(model, x, [2, 0, 2], "feat", score=score), maps[:, [2, 0]])


def test_a_head_that_reads_an_earlier_layer_falls_back_to_the_whole_tape(image):
    inp = keras.Input((None, None, 3))
    feat = keras.layers.Conv2D(2, 1, use_bias=False, name="feat")(inp)
    both = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(feat),
                                       keras.layers.GlobalAveragePooling2D()(inp)])
    out = keras.layers.Dense(3, use_bias=False, name="out")(both)
    model = keras.Model(inp, out)
    model.get_layer("feat").set_weights([K.reshape(1, 1, 3, 2)])
    model.get_layer("out").set_weights([np.concatenate([V, np.ones((3, 3), np.float32)])])
    assert C._split_at_layer(model, "feat", "logit") is None
    raw = np.maximum((image[0] @ K) @ V[:, 0], 0)
    np.testing.assert_allclose(C.grad_cam(model, image, 0, "feat"), raw / raw.max(), rtol=1e-4, atol=1e-5)
    preds, _ = C.predictions_and_raw_cams(model, image, [0], "feat")
    np.testing.assert_allclose(preds, model(image).numpy(), rtol=1e-6)


@pytest.mark.parametrize("images, match", [
    (np.zeros((8, 6, 3), np.float32), r"images must be a batch .* shape \(n, H, W, 3\)"),
    (np.zeros((0, 8, 6, 3), np.float32), "n >= 1"),
    (np.zeros((2, 8, 6, 1), np.float32), r"got shape \(2, 8, 6, 1\)"),
])
def test_grad_cam_batch_says_what_shape_it_needs(tiny, images, match):
    with pytest.raises(ValueError, match=match):
        C.grad_cam_batch(tiny, images, layer_name="feat")


@pytest.mark.parametrize("batch_size, error, message", [
    (0, ValueError, "batch_size must be an int >= 1"), (-1, ValueError, "batch_size must be an int >= 1"),
    (2.0, TypeError, "batch_size must be an int .*float"), (True, TypeError, "batch_size must be an int .*bool")])
def test_grad_cam_batch_size_must_be_a_positive_integer(tiny, image, batch_size, error, message):
    with pytest.raises(error, match=message):
        C.grad_cam_batch(tiny, image, layer_name="feat", batch_size=batch_size)


def test_grad_cam_batch_checks_classes(tiny, image):
    with pytest.raises(IndexError, match="out of range"):
        C.grad_cam_batch(tiny, image, [0, 3], layer_name="feat")
    with pytest.raises(ValueError, match="class_index must be an integer"):
        C.grad_cam_batch(tiny, image, ["Mass"], layer_name="feat")

"""Visible tests of the C3W3 assignment ("Model Interpretation Methods").

Each test prints "All tests passed." when the function behaves as the
notebook asks, and raises an ``AssertionError`` that says what is wrong
otherwise. Passing them is necessary, not sufficient: the grader runs more
tests on inputs you do not see (other images and classes of the course
model, other tables).
"""

import warnings

import numpy as np
import pandas as pd

# Same criterion as the grader's: mean squared difference per pixel, maps in [0, 1].
CAM_MSE_TOLERANCE = 0.05


def _toy_model():
    """A small CNN with fixed random weights and 14 sigmoid outputs (built once)."""
    global _TOY
    try:
        return _TOY
    except NameError:
        pass
    import keras

    init = keras.initializers.GlorotUniform
    inputs = keras.Input(shape=(None, None, 3))
    x = keras.layers.Conv2D(8, 5, strides=4, padding="same", activation="relu",
                            kernel_initializer=init(seed=1), name="toy_conv1")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu",
                            kernel_initializer=init(seed=2), name="toy_block_concat")(x)
    x = keras.layers.Conv2D(16, 1, activation="tanh", kernel_initializer=init(seed=3), name="toy_mix")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(14, activation="sigmoid", kernel_initializer=init(seed=4), name="predictions")(x)
    _TOY = keras.Model(inputs, outputs, name="toy")
    return _TOY


def _toy_image(H=64, W=96, seed=0):
    """A smooth random (1, H, W, 3) image: a stand-in for a normalised X-ray, not square on purpose."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W] / np.array([H, W]).reshape(2, 1, 1)
    blobs = sum(np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.02) for cy, cx in rng.random((4, 2)))
    img = blobs + 0.1 * rng.normal(size=(H, W))
    img = (img - img.mean()) / img.std()
    return np.repeat(img[None, :, :, None], 3, axis=-1).astype("float32")


def _expected_cam(model, image, class_index, layer_name):
    """Grad-CAM written out with util.cam's steps, post-processed as the notebook does."""
    from util import cam as ucam

    acts, grads = ucam.activations_and_gradients(model, image, class_index, layer_name)
    cam = ucam.weighted_sum(acts, ucam.channel_weights(grads))
    cam = ucam.relu(cam)
    cam = ucam.resize_to_input(cam, image.shape[1], image.shape[2])
    return ucam.normalize(cam)


def _check_cam(cam, expected, what):
    assert cam is not None, f"{what}: got None; return the heat map."
    c = np.asarray(cam, dtype=np.float64)
    assert c.shape == expected.shape, f"{what}: expected shape {expected.shape} (the input's H, W), got {c.shape}."
    assert np.isfinite(c).all(), f"{what}: the map contains NaN or infinite values."
    assert c.min() >= -1e-4 and c.max() <= 1 + 1e-4, (
        f"{what}: values must lie in [0, 1] (ReLU, then divide by the maximum); got [{c.min():.3f}, {c.max():.3f}]."
    )
    mse = float(np.mean((c - expected) ** 2))
    assert mse < CAM_MSE_TOLERANCE, f"{what}: mean squared difference from the expected map is {mse:.4f}."


def grad_cam_test(target):
    """Exercise 1 on a small CNN with fixed weights (not the course model)."""
    model = _toy_model()
    image = _toy_image()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for class_index, layer_name in [(3, "toy_block_concat"), (9, "toy_block_concat"), (3, "toy_conv1")]:
            cam = target(model, image, class_index, layer_name)
            _check_cam(cam, _expected_cam(model, image, class_index, layer_name),
                       f"grad_cam(toy model, image, {class_index}, {layer_name!r})")
    print("All tests passed.")


def compute_gradcam_test(target, mean, std, data_dir, df, labels):
    """Exercise 2 with the small CNN on the first test image: returned CAMs and the figure."""
    import matplotlib.pyplot as plt

    from util.images import load_image_normalize

    model = _toy_model()
    img = df["Image"].iloc[0]
    selected = [labels[2], labels[0]]
    x = load_image_normalize(f"{data_dir}/{img}", mean, std)
    plt.close("all")
    show = plt.show
    plt.show = lambda *args, **kwargs: None  # keep the figure open to count its panels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cams = target(model, img, mean, std, data_dir, df, labels, selected, layer_name="toy_block_concat")
    finally:
        plt.show = show
    n_axes = sum(len(plt.figure(num).axes) for num in plt.get_fignums())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert isinstance(cams, dict), f"compute_gradcam must return a dict label -> CAM; got {type(cams).__name__}."
        assert set(cams) == set(selected), f"expected one CAM per selected label {selected}; got {list(cams)}."
        for label in selected:
            expected = _expected_cam(model, x, labels.index(label), "toy_block_concat")
            _check_cam(cams[label], expected, f"the CAM returned for {label}")
    assert n_axes >= 1 + len(selected), (
        f"draw the original and one overlay per selected label ({1 + len(selected)} panels); found {n_axes}."
    )
    print("All tests passed.")


def permute_feature_test(target):
    """Exercise 3: the course's example, averaged over 1000 seeded runs."""
    example_df = pd.DataFrame({"col1": [0, 1, 2], "col2": ["A", "B", "C"]})
    before = example_df.copy()
    np.random.seed(1)
    out = target(example_df, "col1")
    assert isinstance(out, pd.DataFrame), f"return a DataFrame; got {type(out).__name__}."
    assert sorted(out["col1"]) == [0, 1, 2], "the permuted column must hold the same values."
    assert list(out["col2"]) == ["A", "B", "C"], "the other columns must not change."
    np.random.seed(1)
    runs = np.array([target(example_df, "col1")["col1"].to_numpy() for _ in range(1000)])
    average = runs.mean(axis=0)
    print("Average of col1 over 1000 permutations:", np.round(average, 3))
    assert np.all(np.abs(average - 1.0) < 0.15), "averaged over many permutations every position should be near 1."
    pd.testing.assert_frame_equal(example_df, before, obj="the input DataFrame (do not modify it)")
    print("All tests passed.")


def permutation_importance_test(target, cindex):
    """Exercise 4: the course's logistic-regression example."""
    from sklearn.linear_model import LogisticRegression

    np.random.seed(3)
    example_df = pd.DataFrame({"important": np.random.normal(size=100),
                               "unimportant": np.random.normal(size=100)})
    example_y = (example_df["important"] > 0).astype(int)
    model = LogisticRegression().fit(example_df, example_y)
    np.random.seed(3)
    with warnings.catch_warnings(), pd.option_context("mode.copy_on_write", True):
        warnings.simplefilter("ignore")
        importances = target(example_df, example_y, model, cindex, num_samples=50)
    assert isinstance(importances, pd.DataFrame), f"return a DataFrame; got {type(importances).__name__}."
    assert list(importances.index) == ["importance"], f"one row named 'importance'; got {list(importances.index)}."
    assert list(importances.columns) == ["important", "unimportant"], "one column per feature, in X's order."
    values = pd.to_numeric(importances.loc["importance"], errors="coerce")
    print("Computed importances:", values.round(2).to_dict())
    assert values.notna().all(), "some importances are NaN: assign with importances.loc['importance', feature] = ..."
    assert abs(values["important"] - 0.5) < 0.05, "the important feature should have importance close to 0.5."
    assert abs(values["unimportant"]) < 0.05, "the unimportant feature should have importance close to 0."
    print("All tests passed.")

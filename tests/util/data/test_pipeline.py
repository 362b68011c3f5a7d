"""util.data.pipeline: the Keras 3 replacement of the course's ImageDataGenerator inputs."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from util.data.images import get_mean_std_per_batch, load_image_normalize
from util.data.pipeline import ChestXrayBatches, get_test_and_valid_generator, get_train_generator

LABEL_COLS = ["A", "B"]
H = W = 16


def _write_images(folder, n, start=0):
    """n 8-bit greyscale PNGs of different brightness and contrast; returns their file names."""
    rng = np.random.default_rng(start)
    names = []
    for i in range(start, start + n):
        pixels = np.clip(20 * i + rng.normal(100, 10 + 3 * i, size=(H, W)), 0, 255).astype(np.uint8)
        name = f"img_{i:03d}.png"
        Image.fromarray(pixels, mode="L").save(folder / name)
        names.append(name)
    return names


def _frame(names, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=(len(names), len(LABEL_COLS)))
    df = pd.DataFrame(labels, columns=LABEL_COLS)
    df.insert(0, "Image", names)
    return df


@pytest.fixture
def folder(tmp_path):
    return tmp_path


@pytest.fixture
def train_df(folder):
    return _frame(_write_images(folder, 10))


def _train(df, folder, **kw):
    kw = {"batch_size": 4, "target_w": W, "target_h": H, **kw}
    return get_train_generator(df, folder, "Image", LABEL_COLS, **kw)


def _all_batches(gen):
    xs, ys = zip(*(gen[i] for i in range(len(gen))))
    return np.concatenate(xs), np.concatenate(ys)


def test_train_batches_have_the_model_input_shape(train_df, folder):
    gen = _train(train_df, folder)
    assert isinstance(gen, ChestXrayBatches)
    assert len(gen) == 3  # 10 images in batches of 4: 4, 4, 2
    x, y = gen[0]
    assert x.shape == (4, H, W, 3) and x.dtype == np.float32
    assert y.shape == (4, 2) and y.dtype == np.float32
    assert gen[2][0].shape[0] == 2
    np.testing.assert_array_equal(gen.labels, train_df[LABEL_COLS].to_numpy(np.float32))


def test_train_images_are_standardised_each_by_its_own_statistics(train_df, folder):
    x, _ = _all_batches(_train(train_df, folder))
    np.testing.assert_allclose(x.mean(axis=(1, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(x.std(axis=(1, 2, 3)), 1, atol=1e-3)


def test_train_shuffle_visits_every_image_once_per_epoch_in_a_new_seeded_order(train_df, folder):
    gen = _train(train_df, folder)
    x0, y0 = _all_batches(gen)
    order0 = gen._order.copy()
    gen.on_epoch_end()
    order1 = gen._order.copy()
    assert sorted(order0) == sorted(order1) == list(range(10))
    assert not np.array_equal(order0, order1)
    # labels follow their images through the shuffle
    np.testing.assert_array_equal(y0, gen.labels[order0])
    again = _train(train_df, folder)
    np.testing.assert_array_equal(again._order, order0)
    np.testing.assert_array_equal(_all_batches(again)[0], x0)
    other = _train(train_df, folder, seed=2)
    assert not np.array_equal(other._order, order0)


def test_train_without_shuffle_keeps_the_frame_order(train_df, folder):
    gen = _train(train_df, folder, shuffle=False)
    _, y = _all_batches(gen)
    np.testing.assert_array_equal(y, train_df[LABEL_COLS].to_numpy(np.float32))


def test_valid_and_test_use_training_sample_statistics(train_df, folder):
    valid_df = _frame(_write_images(folder, 3, start=20), seed=1)
    test_df = _frame(_write_images(folder, 5, start=30), seed=2)
    valid, test = get_test_and_valid_generator(valid_df, test_df, train_df, folder, "Image", LABEL_COLS,
                                               sample_size=6, batch_size=2, target_w=W, target_h=H)
    mean, std = get_mean_std_per_batch(folder, train_df, H=H, W=W, sample_size=6, seed=1)
    assert (valid.mean, valid.std) == (test.mean, test.std) == (mean, std)
    x, y = _all_batches(test)
    np.testing.assert_array_equal(y, test_df[LABEL_COLS].to_numpy(np.float32))
    for i, name in enumerate(test_df["Image"]):
        expected = load_image_normalize(folder / name, mean, std, H=H, W=W)[0]
        np.testing.assert_allclose(x[i], expected, rtol=1e-6, atol=1e-6)
    # not the test images' own statistics: these brighter images keep a positive mean
    assert x.mean() > 0.5
    assert len(valid) == 2 and valid[1][0].shape[0] == 1


def test_a_keras_model_fits_and_predicts_from_the_batches(train_df, folder):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((H, W, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    gen = _train(train_df, folder)
    history = model.fit(gen, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert gen.epoch >= 2  # Keras asked for a new order after each epoch
    preds = model.predict(_train(train_df, folder, shuffle=False), verbose=0)
    assert preds.shape == (10, 2)


@pytest.mark.parametrize("change, message", [
    (lambda df: df.drop(columns="B"), r"no column\(s\) \['B'\]"),
    (lambda df: df.assign(A=2), r"only 0 and 1; \['A'\]"),
    (lambda df: df.assign(B=np.nan), r"only 0 and 1; \['B'\]"),
    (lambda df: df.iloc[:0], "no rows"),
    (lambda df: df.assign(Image="missing.png"), "10 image\\(s\\) of df are not in"),
])
def test_bad_frames_are_named(train_df, folder, change, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        _train(change(train_df), folder)


def test_bad_arguments_are_named(train_df, folder):
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        _train(train_df, folder, batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an int .*float"):
        _train(train_df, folder, batch_size=2.0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _train(train_df, folder / "nowhere")
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        _train(train_df.to_numpy(), folder)
    with pytest.raises(FileNotFoundError, match="of test_df are not in"):
        get_test_and_valid_generator(train_df, train_df.assign(Image="gone.png"), train_df, folder, "Image",
                                     LABEL_COLS, target_w=W, target_h=H)
    with pytest.raises(IndexError, match="out of range"):
        _train(train_df, folder)[3]


def test_blank_training_images_are_refused(folder):
    names = []
    for i in range(3):
        Image.fromarray(np.full((H, W), 7, np.uint8), mode="L").save(folder / f"blank_{i}.png")
        names.append(f"blank_{i}.png")
    blank = _frame(names)
    with pytest.raises(ValueError, match="zero standard deviation"):
        get_test_and_valid_generator(blank, blank, blank, folder, "Image", LABEL_COLS, target_w=W, target_h=H)


def test_on_the_course_data_the_test_inputs_match_util_images(tmp_path):
    """The course's own splits: the test generator's first image equals util.data.images.load_image."""
    from util.config.course import LABELS
    from util.data.chestxray import ensure_chestxray_data, load_split
    from util.data.images import load_image

    folder = ensure_chestxray_data()
    train, valid, test = (load_split(s) for s in ("train-small.csv", "valid-small.csv", "test.csv"))
    _, test_gen = get_test_and_valid_generator(valid, test, train, folder / "images", "Image", LABELS,
                                               batch_size=2)
    x, y = test_gen[0]
    assert x.shape == (2, 320, 320, 3)
    np.testing.assert_allclose(x[0], load_image(folder / "images" / test["Image"].iloc[0], train)[0],
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(y, test[LABELS].to_numpy(np.float32)[:2])

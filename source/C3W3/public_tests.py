"""Visible tests of the C3W3 assignment ("Model Interpretation Methods").

Each test prints what it measured next to what it expects, and "All tests passed." when the function
behaves as the notebook asks; otherwise it raises an ``AssertionError`` that says which step looks
wrong. Passing them is necessary, not sufficient: the course's grader checks your functions again,
outside this notebook, on cases it draws when it grades (other images and classes of the course
model, other tables).

The Grad-CAM tests run your functions on a small stand-in network with fixed weights (not the course
model), so they take a second and their maps look like noise. What a correct solution returns there
is stored below as numbers: the mean of each block of the map (8 x 8 pixels for ``grad_cam``,
32 x 32 for ``compute_gradcam``), rounded to 5 decimals. The error printed is the largest absolute
difference between the block means of your map and the stored ones.
"""

import linecache
import os
import tempfile
import warnings

import numpy as np
import pandas as pd

#: Largest absolute difference allowed between a block mean of your map and the stored one (maps lie
#: in [0, 1]). A correct solution differs by less than 1e-4 (float32 arithmetic; the stored values
#: are rounded to 5 decimals); the wrong maps we tried (another class or layer, weights taken from
#: the activations, gradients not averaged, the weights' absolute values or maxima, no weights, a
#: blurred or shifted map) differ by 0.05 or more.
CAM_BLOCK_TOLERANCE = 0.01
#: Float slack allowed at both ends of [0, 1] and on the maximum.
CAM_RANGE_SLACK = 1e-4

#: grad_cam's cases on the stand-in network: (class index, layer name).
_GRAD_CAM_CASES = [(3, "toy_block_concat"), (9, "toy_block_concat"), (3, "toy_conv1")]
#: Block means (8 x 8 pixels) of the 64 x 96 map a correct grad_cam returns for each case.
_EXPECTED_GRAD_CAM = {
    (3, 'toy_block_concat'): np.array([
        [0.47202, 0.52744, 0.59065, 0.73974, 0.38184, 0.41224, 0.86306, 0.64124, 0.55454, 0.59412, 0.44417, 0.52461],
        [0.41062, 0.52058, 0.77763, 0.70601, 0.52129, 0.75548, 0.77386, 0.60064, 0.37183, 0.61027, 0.41631, 0.18993],
        [0.52704, 0.52238, 0.63256, 0.55691, 0.62861, 0.67316, 0.59271, 0.30108, 0.41215, 0.39460, 0.43419, 0.28083],
        [0.34052, 0.31636, 0.44849, 0.34602, 0.41965, 0.52567, 0.24362, 0.21828, 0.22634, 0.50751, 0.69030, 0.38358],
        [0.17798, 0.33191, 0.65087, 0.58328, 0.39246, 0.33139, 0.22150, 0.24594, 0.40669, 0.32323, 0.45024, 0.34736],
        [0.26880, 0.32451, 0.32335, 0.31035, 0.35607, 0.48650, 0.25354, 0.17700, 0.29290, 0.41167, 0.54855, 0.74329],
        [0.53706, 0.43763, 0.28745, 0.49383, 0.47219, 0.50637, 0.51768, 0.30894, 0.17000, 0.30544, 0.51171, 0.51897],
        [0.64047, 0.40812, 0.45521, 0.42677, 0.52849, 0.46237, 0.23166, 0.37244, 0.40324, 0.10521, 0.11448, 0.23086]]),
    (9, 'toy_block_concat'): np.array([
        [0.24520, 0.06342, 0.00485, 0.00000, 0.00000, 0.00000, 0.00000, 0.00000, 0.01238, 0.07430, 0.01238, 0.00000],
        [0.03503, 0.01025, 0.00782, 0.00119, 0.00000, 0.00000, 0.00000, 0.00000, 0.00177, 0.01061, 0.00177, 0.00000],
        [0.00000, 0.00713, 0.04275, 0.00713, 0.00000, 0.00000, 0.00000, 0.00000, 0.00000, 0.00000, 0.00000, 0.00000],
        [0.00000, 0.00119, 0.01054, 0.02422, 0.01853, 0.00252, 0.00000, 0.00000, 0.00701, 0.04207, 0.00701, 0.00000],
        [0.00000, 0.00000, 0.02272, 0.15213, 0.11774, 0.01584, 0.00000, 0.00000, 0.04207, 0.25245, 0.05840, 0.11426],
        [0.00000, 0.00000, 0.01665, 0.10679, 0.05795, 0.00688, 0.00000, 0.00000, 0.00701, 0.04207, 0.11011, 0.72169],
        [0.01572, 0.00235, 0.00286, 0.01631, 0.02199, 0.01469, 0.00195, 0.00000, 0.00000, 0.00000, 0.04731, 0.33119],
        [0.11004, 0.01648, 0.00455, 0.01647, 0.10794, 0.09775, 0.01367, 0.00000, 0.00000, 0.00000, 0.00517, 0.03616]]),
    (3, 'toy_conv1'): np.array([
        [0.34845, 0.10180, 0.31238, 0.58102, 0.56881, 0.52421, 0.63141, 0.72665, 0.63221, 0.54006, 0.69962, 0.50279],
        [0.36320, 0.22797, 0.48987, 0.60720, 0.59010, 0.51287, 0.64558, 0.63166, 0.52293, 0.54468, 0.55035, 0.54616],
        [0.54920, 0.56857, 0.55063, 0.54822, 0.62764, 0.64523, 0.69660, 0.56184, 0.48892, 0.60189, 0.61215, 0.43293],
        [0.52372, 0.48246, 0.28298, 0.28095, 0.35597, 0.50348, 0.48669, 0.18201, 0.11674, 0.09178, 0.34399, 0.37486],
        [0.42241, 0.19233, 0.21283, 0.09307, 0.04118, 0.20716, 0.10638, 0.22505, 0.24747, 0.14228, 0.08970, 0.21494],
        [0.41742, 0.35938, 0.49841, 0.34342, 0.14472, 0.30212, 0.28401, 0.28588, 0.44400, 0.31341, 0.22308, 0.06300],
        [0.45806, 0.51072, 0.35563, 0.33253, 0.33883, 0.56360, 0.47909, 0.37072, 0.31314, 0.40251, 0.45014, 0.17816],
        [0.58451, 0.54580, 0.46916, 0.54316, 0.58825, 0.56901, 0.50768, 0.40953, 0.47535, 0.32475, 0.35700, 0.23882]]),
}
#: (h, w, channels) of the stand-in network's layers for a 64 x 96 and a 320 x 320 input.
_LAYER_SHAPES = {((64, 96), "toy_conv1"): (16, 24, 8), ((64, 96), "toy_block_concat"): (8, 12, 16),
                 ((320, 320), "toy_block_concat"): (40, 40, 16)}
#: compute_gradcam's case: the stand-in film, the labels selected (not in the order of `labels`).
_SELECTED = ["Effusion", "Cardiomegaly"]
_FILM_NAME, _FILM_MEAN, _FILM_STD = "toy_film.png", 110.0, 55.0
#: Block means (32 x 32 pixels) of the 320 x 320 map a correct compute_gradcam returns per label.
_EXPECTED_COMPUTE_GRADCAM = {
    'Effusion': np.array([
        [0.12431, 0.14526, 0.19722, 0.11216, 0.03652, 0.04475, 0.14525, 0.12875, 0.04707, 0.09068],
        [0.08597, 0.11734, 0.13454, 0.07315, 0.02456, 0.02672, 0.17058, 0.16836, 0.12939, 0.19837],
        [0.14182, 0.12691, 0.14053, 0.13780, 0.21179, 0.05139, 0.07349, 0.18284, 0.10821, 0.06662],
        [0.13971, 0.05853, 0.14174, 0.12805, 0.10228, 0.03862, 0.08234, 0.10598, 0.03887, 0.03120],
        [0.15316, 0.09377, 0.10270, 0.11439, 0.06029, 0.03801, 0.03672, 0.14922, 0.10193, 0.15530],
        [0.22795, 0.15806, 0.07001, 0.08296, 0.10192, 0.05966, 0.15172, 0.19467, 0.09117, 0.14252],
        [0.15699, 0.18607, 0.07780, 0.07310, 0.09276, 0.04685, 0.03989, 0.23639, 0.14770, 0.17310],
        [0.14693, 0.16064, 0.04763, 0.14622, 0.13369, 0.00841, 0.11216, 0.20242, 0.18256, 0.30015],
        [0.07181, 0.13598, 0.07845, 0.20291, 0.14043, 0.05354, 0.06365, 0.13541, 0.11165, 0.23521],
        [0.09314, 0.06475, 0.12098, 0.06555, 0.04210, 0.05601, 0.04814, 0.04553, 0.09929, 0.19816]]),
    'Cardiomegaly': np.array([
        [0.00000, 0.00000, 0.00060, 0.00417, 0.00774, 0.00000, 0.01034, 0.01439, 0.10125, 0.07041],
        [0.00000, 0.00000, 0.00385, 0.08836, 0.00701, 0.00082, 0.00005, 0.09080, 0.05266, 0.01353],
        [0.00421, 0.00194, 0.18092, 0.09395, 0.05507, 0.02443, 0.01075, 0.06049, 0.15919, 0.07812],
        [0.02950, 0.00021, 0.08413, 0.03137, 0.04476, 0.05191, 0.00154, 0.01084, 0.06830, 0.05389],
        [0.00000, 0.00000, 0.01493, 0.03283, 0.04737, 0.00165, 0.00000, 0.06415, 0.01700, 0.03835],
        [0.00000, 0.00000, 0.00000, 0.01695, 0.00212, 0.00012, 0.00000, 0.13016, 0.11313, 0.03889],
        [0.00000, 0.00317, 0.04571, 0.04068, 0.04654, 0.00082, 0.00020, 0.03342, 0.09883, 0.04365],
        [0.00000, 0.03146, 0.11729, 0.07772, 0.10003, 0.03418, 0.00000, 0.00000, 0.00740, 0.17235],
        [0.00000, 0.00629, 0.20709, 0.01269, 0.03804, 0.02835, 0.00000, 0.00008, 0.00118, 0.13292],
        [0.00000, 0.00451, 0.08386, 0.05356, 0.01656, 0.00665, 0.00000, 0.00001, 0.00008, 0.06717]]),
}


# --------------------------------------------------------------------------- the stand-in network
def _toy_model():
    """A small CNN with 14 sigmoid outputs and fixed weights drawn from a seeded generator (built once)."""
    global _TOY
    try:
        return _TOY
    except NameError:
        pass
    import keras

    inputs = keras.Input(shape=(None, None, 3))
    x = keras.layers.Conv2D(8, 5, strides=4, padding="same", activation="relu", name="toy_conv1")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="toy_block_concat")(x)
    x = keras.layers.Conv2D(16, 1, activation="tanh", name="toy_mix")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(14, activation="sigmoid", name="predictions")(x)
    model = keras.Model(inputs, outputs, name="toy")
    rng = np.random.default_rng(20240)
    weights = []
    for w in model.get_weights():
        if w.ndim == 1:  # biases
            weights.append(rng.uniform(-0.1, 0.1, size=w.shape).astype("float32"))
        else:  # kernels: uniform with variance 1 / fan_in
            limit = np.sqrt(3.0 / np.prod(w.shape[:-1]))
            weights.append(rng.uniform(-limit, limit, size=w.shape).astype("float32"))
    model.set_weights(weights)
    _TOY = model
    return _TOY


def _blobs(H, W, seed):
    """A smooth random (H, W) float64 image: four Gaussian blobs plus a little noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W] / np.array([H, W]).reshape(2, 1, 1)
    img = sum(np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.02) for cy, cx in rng.random((4, 2)))
    return img + 0.1 * rng.normal(size=(H, W))


def _toy_image(H=64, W=96, seed=0):
    """A (1, H, W, 3) float32 stand-in for a normalised X-ray, not square on purpose."""
    img = _blobs(H, W, seed)
    img = (img - img.mean()) / img.std()
    return np.repeat(img[None, :, :, None], 3, axis=-1).astype("float32")


def _write_toy_film(folder, seed=1):
    """Write a 320 x 320 8-bit greyscale PNG stand-in for a film into ``folder``; return its name."""
    from PIL import Image

    img = _blobs(320, 320, seed)
    img = np.clip(np.round(255 * (img - img.min()) / (img.max() - img.min())), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(os.path.join(folder, _FILM_NAME))
    return _FILM_NAME


# --------------------------------------------------------------------------- checking a map
def _block_means(cam, rows, cols):
    H, W = cam.shape
    return cam.reshape(rows, H // rows, cols, W // cols).mean(axis=(1, 3))


def _block_error(cam, expected):
    """Largest absolute difference between the block means of ``cam`` and the stored ``expected``."""
    expected = np.asarray(expected, dtype=np.float64)
    return float(np.max(np.abs(_block_means(cam, *expected.shape) - expected)))


def _post_processing_hint(err, fn):
    """When ``fn`` failed in its given post-processing lines, say what ``cam`` was wrong; else None."""
    code = getattr(fn, "__code__", None)
    frame = lineno = None
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is code:
            frame, lineno = tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next
    if frame is None:
        return None
    line = linecache.getline(code.co_filename, lineno)
    given = ("np.maximum(cam", "cv2.resize(cam", "cam.max()", "cam / cam")
    if not (any(s in line for s in given) if line else "H" in frame.f_locals):
        return None
    cam = frame.f_locals.get("cam")
    if cam is None:
        return ("cam is still None when the given post-processing starts: assign the weighted sum of the "
                "activation channels to cam between START CODE HERE and END CODE HERE.")
    shape = tuple(np.shape(cam))
    if len(shape) != 2:
        return (f"cam has shape {shape} when the given post-processing starts; it must be a 2-D (h, w) "
                f"map: drop the batch axis (take element [0]) and sum the weighted channels.")
    return None


def _call(fn, args, kwargs, call):
    """Call ``fn`` quietly; an error of the given post-processing becomes a message about ``cam``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as err:
        hint = _post_processing_hint(err, fn)
        if hint is None:
            raise
        raise AssertionError(f"{call} failed in the given post-processing "
                             f"({type(err).__name__}: {err}).\n{hint}") from None


def _check_map(cam, size, layer_shape, what):
    """The map is a finite (H, W) array in [0, 1] with maximum 1; say which step is wrong if not."""
    H, W = size
    assert cam is not None, f"{what} returned None; return the heat map cam."
    try:
        c = np.asarray(cam, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise AssertionError(f"{what} returned a {type(cam).__name__} that is not an array of numbers ({err}).") \
            from None
    h, w, channels = layer_shape
    if c.shape != (H, W):
        if c.ndim == 3 and c.shape[:2] == (H, W) and c.shape[2] == w:
            why = "it keeps the batch axis: take element [0] so that cam is (h, w) before the post-processing"
        elif c.ndim == 3 and c.shape[:2] == (H, W) and c.shape[2] == channels:
            why = ("the channels are weighted but not summed: cam is the weighted sum of the channels, "
                   "an (h, w) map (np.dot(output, weights))")
        elif c.shape in ((1, H, W), (1, h, w)):
            why = "it keeps the batch axis: take element [0]"
        elif c.shape == (h, w):
            why = "it is not resized to the input: keep the given post-processing"
        else:
            why = "cam must be a 2-D (h, w) map before the given post-processing resizes it to (H, W)"
        raise AssertionError(f"{what}: expected shape {(H, W)} (the input's height and width), got {c.shape}; "
                             f"{why}.")
    assert np.isfinite(c).all(), (
        f"{what}: the map contains NaN or infinite values. The weighted sum was <= 0 everywhere, so after the "
        f"ReLU the given code divided 0 by 0: check the channel weights (the mean of the gradients over "
        f"height and width) and that cam is the sum of the activation channels weighted by them."
    )
    assert c.min() >= -CAM_RANGE_SLACK, (
        f"{what}: the map has negative values (minimum {c.min():.4f}): keep the ReLU, np.maximum(cam, 0), "
        f"of the given post-processing."
    )
    assert abs(c.max() - 1) <= CAM_RANGE_SLACK, (
        f"{what}: the map's maximum is {c.max():.4f}, not 1: divide the map by its maximum (cam / cam.max()), "
        f"as the given post-processing does."
    )
    return c


# --------------------------------------------------------------------------- Exercise 1
def grad_cam_test(target):
    """Exercise 1 on the stand-in network: three (class, layer) cases against the stored block means."""
    model = _toy_model()
    image = _toy_image()
    before = image.copy()
    maps = {}
    for class_index, layer_name in _GRAD_CAM_CASES:
        call = f"grad_cam(toy_model, image, {class_index}, {layer_name!r})"
        cam = _call(target, (model, image, class_index, layer_name), {}, call)
        assert np.array_equal(image, before), f"{call} changed its input image; leave image as it is."
        c = _check_map(cam, image.shape[1:3], _LAYER_SHAPES[(image.shape[1:3], layer_name)], call)
        maps[(class_index, layer_name)] = c
        err = _block_error(c, _EXPECTED_GRAD_CAM[(class_index, layer_name)])
        print(f"{call}: error from reference {err:.4f} (tolerance {CAM_BLOCK_TOLERANCE})")
        if err <= CAM_BLOCK_TOLERANCE:
            continue
        for (other_class, other_layer), expected in _EXPECTED_GRAD_CAM.items():
            if (other_class, other_layer) != (class_index, layer_name) and \
                    _block_error(c, expected) <= CAM_BLOCK_TOLERANCE:
                step = (f"the score of class category_index (predictions[:, category_index]), not of class "
                        f"{other_class}" if other_layer == layer_name else
                        f"the activations of layer_name ({layer_name!r}), not of {other_layer!r}")
                raise AssertionError(f"{call}: the map is the one expected for class {other_class} and layer "
                                     f"{other_layer!r}: use {step}.")
        same = [k for k, m in maps.items() if k[1] == layer_name and k != (class_index, layer_name)
                and np.allclose(m, c, atol=1e-6)]
        assert not same, (
            f"{call}: the map is the same as for class {same[0][0]}; it must depend on category_index: "
            f"differentiate the score predictions[:, category_index]."
        )
        raise AssertionError(
            f"{call}: the map differs from the expected one by {err:.4f} (tolerance {CAM_BLOCK_TOLERANCE}): check "
            f"the gradients (of the class score with respect to the layer's activations), the channel weights "
            f"(their mean over height and width) and the weighted sum of the activation channels."
        )
    print("All tests passed.")


# --------------------------------------------------------------------------- Exercise 2
def compute_gradcam_test(target):
    """Exercise 2 with the stand-in network on a stand-in film: the returned maps and the figure."""
    import matplotlib.pyplot as plt

    from util import LABELS

    labels = list(LABELS)
    model = _toy_model()
    with tempfile.TemporaryDirectory() as folder:
        img = _write_toy_film(folder)
        df = pd.DataFrame([{"Image": img, **{label: int(label == "Effusion") for label in labels}}])
        df_before = df.copy()
        plt.close("all")
        show = plt.show
        plt.show = lambda *args, **kwargs: None  # keep the figure open to look at its panels
        try:
            cams = _call(target, (model, img, _FILM_MEAN, _FILM_STD, folder, df, labels, list(_SELECTED)),
                         {"layer_name": "toy_block_concat"}, "compute_gradcam(...)")
        except NotImplementedError:
            raise
        except Exception as err:
            err.add_note("compute_gradcam calls your grad_cam: make grad_cam_test pass first.")
            raise
        finally:
            plt.show = show
    assert df.equals(df_before), "compute_gradcam changed its input df; leave it as it is."
    assert isinstance(cams, dict), (
        f"compute_gradcam must return the dict cams (label -> map); got {type(cams).__name__}."
    )
    assert set(cams) == set(_SELECTED), (
        f"cams must hold one map per selected label {sorted(_SELECTED)}; got {sorted(map(str, cams))}: store "
        f"cams[labels[i]] for every label of labels that is in selected_labels."
    )
    for label in labels:
        if label not in _SELECTED:
            continue
        what = f"the map returned for {label}"
        c = _check_map(cams[label], (320, 320), _LAYER_SHAPES[((320, 320), "toy_block_concat")], what)
        err = _block_error(c, _EXPECTED_COMPUTE_GRADCAM[label])
        print(f"{label}: error from reference {err:.4f} (tolerance {CAM_BLOCK_TOLERANCE})")
        if err > CAM_BLOCK_TOLERANCE:
            others = [o for o in _SELECTED if o != label
                      and _block_error(c, _EXPECTED_COMPUTE_GRADCAM[o]) <= CAM_BLOCK_TOLERANCE]
            assert not others, (
                f"{what} is the map of {others[0]}: the class index of a label is its position in labels "
                f"(labels.index(label) or the loop index i)."
            )
            raise AssertionError(
                f"{what} differs from the expected one by {err:.4f} (tolerance {CAM_BLOCK_TOLERANCE}): compute it "
                f"with grad_cam(model, preprocessed_input, <the label's index in labels>, layer_name)."
            )
    figures = [plt.figure(num) for num in plt.get_fignums()]
    assert figures, "compute_gradcam drew no figure."
    axes = figures[-1].axes
    expected_order = [label for label in labels if label in _SELECTED]
    assert len(axes) >= 1 + len(expected_order), (
        f"the figure should have {1 + len(expected_order)} panels (the original, then one per selected label); "
        f"found {len(axes)}."
    )
    for j, label in enumerate(expected_order, start=1):
        ax = axes[j]
        assert ax.images, (
            f"panel {j} is empty: draw the map of {label} there with plot_overlay(..., ax=axes[j]), "
            f"then move to the next panel (j += 1)."
        )
        assert label in ax.get_title(), (
            f"panel {j} should show {label} (the selected labels in the order of labels), titled with the label "
            f"and its probability; its title is {ax.get_title()!r}."
        )
    print(f"panels: {['Original'] + expected_order}")
    print("All tests passed.")


# --------------------------------------------------------------------------- Exercise 3
#: Averaged over 1000 permutations, every position of col1 (values 0, 1, 2) should be within this of 1.
PERMUTE_AVERAGE_TOLERANCE = 0.15


def permute_feature_test(target):
    """Exercise 3: the course's example, averaged over 1000 seeded runs."""
    example_df = pd.DataFrame({"col1": [0, 1, 2], "col2": ["A", "B", "C"]})
    before = example_df.copy()
    np.random.seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = target(example_df, "col1")
    assert out is not None, "permute_feature returned None; return permuted_df."
    assert isinstance(out, pd.DataFrame), f"return a DataFrame; got {type(out).__name__}."
    assert out is not example_df, "permute_feature returned df itself; return the copy permuted_df."
    assert example_df.equals(before), (
        "permute_feature changed its input df: permute the column of the copy permuted_df, not of df."
    )
    assert list(out.columns) == ["col1", "col2"], f"keep the columns of df; got {list(out.columns)}."
    assert sorted(out["col1"]) == [0, 1, 2], (
        f"the permuted column must hold the same values in another order; got {out['col1'].tolist()}."
    )
    assert list(out["col2"]) == ["A", "B", "C"], "the other columns must not change."
    np.random.seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = np.array([target(example_df, "col1")["col1"].to_numpy() for _ in range(1000)])
    average = runs.mean(axis=0)
    err = float(np.max(np.abs(average - 1.0)))
    print("Average of col1 over 1000 permutations:", np.round(average, 3))
    print(f"largest distance from 1: {err:.3f} (tolerance {PERMUTE_AVERAGE_TOLERANCE})")
    assert err < PERMUTE_AVERAGE_TOLERANCE, (
        "averaged over many permutations every position should be near 1: draw a new random permutation "
        "(np.random.permutation) at every call."
    )
    assert example_df.equals(before), "permute_feature changed its input df: work on the copy permuted_df."
    print("All tests passed.")


# --------------------------------------------------------------------------- Exercise 4
#: Expected importances on the course's example, each within this absolute tolerance.
IMPORTANCE_TOLERANCE = 0.05


def permutation_importance_test(target, cindex):
    """Exercise 4: the course's logistic-regression example."""
    from sklearn.linear_model import LogisticRegression

    np.random.seed(3)
    example_df = pd.DataFrame({"important": np.random.normal(size=100),
                               "unimportant": np.random.normal(size=100)})
    example_y = (example_df["important"] > 0).astype(int)
    model = LogisticRegression().fit(example_df, example_y)
    before = example_df.copy()
    num_samples = 50
    np.random.seed(3)
    with warnings.catch_warnings(), pd.option_context("mode.copy_on_write", True):
        warnings.simplefilter("ignore")
        importances = target(example_df, example_y, model, cindex, num_samples=num_samples)
    assert example_df.equals(before), (
        "permutation_importance changed X: shuffle copies of it (permute_feature), never X itself."
    )
    assert isinstance(importances, pd.DataFrame), f"return a DataFrame; got {type(importances).__name__}."
    assert list(importances.index) == ["importance"], f"one row named 'importance'; got {list(importances.index)}."
    assert list(importances.columns) == ["important", "unimportant"], "one column per feature, in X's order."
    values = pd.to_numeric(importances.loc["importance"], errors="coerce")
    print("Computed importances:", values.round(2).to_dict())
    assert values.notna().all(), "some importances are NaN: assign with importances.loc['importance', feature] = ..."
    for feature, want in [("important", 0.5), ("unimportant", 0.0)]:
        got = float(values[feature])
        err = abs(got - want)
        print(f"{feature}: {got:.3f}, expected about {want}; error {err:.3f} (tolerance {IMPORTANCE_TOLERANCE})")
        if err <= IMPORTANCE_TOLERANCE:
            continue
        if want and abs(got + want) <= IMPORTANCE_TOLERANCE:
            raise AssertionError(f"the importance of {feature} has the wrong sign: store baseline minus the mean "
                                 f"of the permuted metrics.")
        if abs(got) > 1:
            raise AssertionError(f"the importance of {feature} is {got:.2f}, but a drop in c-index lies in [-1, 1]: "
                                 f"subtract the mean of the permuted metrics, not their sum.")
        raise AssertionError(f"the importance of {feature} should be close to {want}, got {got:.3f}: the baseline "
                             f"minus the mean metric over num_samples permutations of that feature.")
    print("All tests passed.")

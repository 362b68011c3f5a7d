"""Grad-CAM, one step at a time.

Grad-CAM (Selvaraju et al., 2017) explains one output of a CNN with a heat map
over the input image. The pipeline, as in pytorch-grad-cam's base class,
is a chain of small steps, each a function here so that a lecture can show
one step at a time and a solution can be checked step by step:

1. :func:`gradcam_model` — a model that returns a layer's activations and the
   predictions together;
2. :func:`activations_and_gradients` — the activations ``A`` (h, w, c) of the
   layer and the gradients ``dy_k/dA`` of the class score ``y_k``, via
   ``tf.GradientTape``;
3. :func:`channel_weights` — one weight per channel: the gradients' spatial mean;
4. :func:`weighted_sum` — ``sum_c w_c * A[..., c]``, an (h, w) map;
5. :func:`relu` — keep only what speaks *for* the class;
6. :func:`resize_to_input` — up-sampled to the input's (H, W), **bilinearly**;
7. :func:`normalize` — divide by the maximum, so the map is in [0, 1].

:func:`grad_cam` runs them all for one class, :func:`grad_cams` for several
classes of one image, :func:`grad_cam_batch` for every requested class of a
batch of images, and :func:`plot_overlay` draws a map over its image.

Cost. The explained layer is one the classification head reads directly (see
"Which layer" below), so the library runs the network up to that layer once,
outside any tape, and differentiates only the head above it (for DenseNet121:
BatchNorm, ReLU, global average pooling and the Dense layer on a 10 x 10 x
1024 tensor). Every class's gradient then costs next to nothing, and all 14
maps of an image cost about one forward pass (``benchmarks/bench_gradcam.py``).
Recording the whole network on a tape, as the course's recipe does, costs a
backward pass through all of it for every class. The two give the same maps
to float32 precision (``tests/util/explain/test_gradcam.py``). Models whose head cannot be
split off their graph (a subclassed model, a head that also reads an earlier
layer) fall back to the full tape.

The class score ``y_k`` is the **logit** of output ``k`` (the output layer's
pre-activation), as in Selvaraju et al., who differentiate the score before the
softmax. The course differentiated the sigmoid probability ``p_k`` instead.
Since ``dp_k/dA = p_k (1 - p_k) dy_k/dA`` and ``p_k (1 - p_k) > 0``, both give
the same normalised map, except where the sigmoid saturates: when ``p_k``
rounds to exactly 1.0 in float32 its gradient is exactly zero and the course's
map is blank, for the very predictions one most wants to explain (lecture 02,
section 9, shows it on the course model's own head). Pass
``score="output"`` to differentiate the model's output as the course did.

Post-processing order. :func:`postprocess` applies the ReLU first, then the
bilinear resize to the input, then the division by the maximum (steps 5, 6, 7
above). The course is not consistent about this order: the C3W3 assignment's
text lists its last step as "Resize, take ReLU, and return cam" (resize
first), while the post-processing code that assignment gives applies the ReLU
first (``np.maximum(cam, 0)``, then ``cv2.resize``, then ``cam / cam.max()``);
the ``grad_cam`` of the C1W1 ``util.py`` resizes first and takes the ReLU
after. ``util.explain.gradcam`` follows the C3W3 given code, and so do this course's C3W3
notebook and lecture 02 (ReLU in its section 7, up-sampling in section 8).
With bilinear interpolation the two orders differ only next to the map's zero
crossings (resizing first lets a negative cell pull the interpolated values of
its positive neighbours down); the C3W3 grader accepts either order
(``autograder/C3W3/TOLERANCES.md``). The C3W3 code wrote
``cv2.resize(cam, (W, H), cv2.INTER_NEAREST)``: the third positional argument
of ``cv2.resize`` is ``dst``, not ``interpolation``, so its maps were in fact
interpolated bilinearly (OpenCV's default). Here the interpolation is bilinear
on purpose and written as a keyword.

Which layer. The functions that compute gradients (:func:`gradcam_model`,
:func:`activations_and_scores`, :func:`activations_and_gradients`,
:func:`grad_cam`, :func:`grad_cams`) explain only a layer that the
classification head reads without any further convolution in between:
``conv5_block16_concat`` for the course's DenseNet121, the CAM layer of the
fundus CNN (``util.config.course.FUNDUS_CAM_LAYER``). For any other existing layer they
raise a ValueError: Grad-CAM of an arbitrary layer is the C3W3 assignment's
exercise, and the student library does not answer it.
"""

from __future__ import annotations

import difflib
import weakref

import numpy as np

from util.config.checks import check_int
from util.config.course import CAM_LAYER

__all__ = [
    "SCORES",
    "activations_and_gradients",
    "activations_and_scores",
    "channel_weights",
    "grad_cam",
    "grad_cam_batch",
    "grad_cams",
    "gradcam_model",
    "normalize",
    "postprocess",
    "predictions_and_raw_cams",
    "relu",
    "resize_to_input",
    "weighted_sum",
]


#: What a class score can be: the output layer's pre-activation, or the model's output itself.
SCORES = ("logit", "output")


class ClassIndexError(IndexError, ValueError):
    """A class index outside the model's outputs (both an IndexError and a ValueError)."""


# gradcam_model(model, layer) is built once per (model, layer) and reused.
_GRADCAM_MODELS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


# --------------------------------------------------------------------------- checks


def _check_layer(model, layer_name):
    """Return ``model.get_layer(layer_name)`` or raise a ValueError naming close matches."""
    names = [layer.name for layer in model.layers]
    if not isinstance(layer_name, str) or layer_name not in names:
        close = difflib.get_close_matches(str(layer_name), names, n=5, cutoff=0.5)
        hint = close if close else [n for n in names if "concat" in n or "conv" in n][-5:] or names[-5:]
        raise ValueError(
            f"The model has no layer named {layer_name!r}. "
            f"{'Closest names' if close else 'Some of its layers'}: {hint}. "
            f"List them all with [layer.name for layer in model.layers]."
        )
    return model.get_layer(layer_name)


#: Layer types that count as a convolution between an explained layer and the model's output.
_CONV_TYPES = ("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
               "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D", "DepthwiseConv2D",
               "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")


def _is_convolution(op):
    """Whether a graph operation is a convolution, or a nested model that contains one."""
    import keras

    types = tuple(getattr(keras.layers, name) for name in _CONV_TYPES if hasattr(keras.layers, name))
    if isinstance(op, types):
        return True
    if isinstance(op, keras.Model):
        return any(_is_convolution(inner) for inner in op.layers)
    return False


def _output_graph(model):
    """The model's graph seen from its output: ``{id(tensor): (tensor, producing op, [id(input)...])}``."""
    graph = {}
    stack = list(model.outputs)
    while stack:
        t = stack.pop()
        if id(t) in graph:
            continue
        history = getattr(t, "_keras_history", None)
        if history is None:
            graph[id(t)] = (t, None, [])
            continue
        op, node_index = history[0], history[1]
        inputs = list(op._inbound_nodes[node_index].input_tensors)
        graph[id(t)] = (t, op, [id(i) for i in inputs])
        stack.extend(inputs)
    return graph


def _ops_after(graph, tensor):
    """The operations on some path from ``tensor`` to the model's output, in no particular order."""
    children = {}
    for tid, (_, op, inputs) in graph.items():
        for i in inputs:
            children.setdefault(i, []).append(tid)
    seen, ops, stack = {id(tensor)}, [], [id(tensor)]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
                op = graph[child][1]
                if op is not None and all(op is not o for o in ops):
                    ops.append(op)
    return ops


def _head_layer_name(model, graph):
    """The layer to name in the error: the course's layer if the model has it, else the last 4-D layer
    that the output reads without a convolution in between."""
    import keras

    names = [layer.name for layer in model.layers]
    candidates = []
    for name in names:
        layer = model.get_layer(name)
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            out = layer.output
        except (AttributeError, ValueError):
            continue
        if id(out) in graph and len(out.shape) == 4 and not any(_is_convolution(op) for op in _ops_after(graph, out)):
            candidates.append(name)
    if CAM_LAYER in candidates:
        return CAM_LAYER
    return candidates[-1] if candidates else None


def _check_head_layer(model, layer_name):
    """Raise a ValueError unless ``layer_name`` reaches the output without a further convolution.

    ``layer_name`` must exist (:func:`_check_layer` first). Models whose graph cannot be read (no
    functional graph) are let through. The verdict is cached per (model, layer).
    """
    try:
        cache = _GRADCAM_MODELS.setdefault(model, {})
    except TypeError:
        cache = {}
    key = (layer_name, "head-check")
    if key in cache:
        if cache[key]:
            raise ValueError(cache[key])
        return
    message = ""
    try:
        graph = _output_graph(model)
        out = model.get_layer(layer_name).output
    except (AttributeError, ValueError, IndexError, TypeError):
        graph, out = None, None
    if graph is not None and id(out) in graph:
        convs = [op for op in _ops_after(graph, out) if _is_convolution(op)]
        if convs:
            head = _head_layer_name(model, graph)
            which = f"{head!r}" if head else "the output of its last convolution"
            message = (
                f"util.explain.gradcam explains only the layer the classification head reads, {which}: "
                f"{layer_name!r} is followed by further convolutions (e.g. {convs[0].name!r}) before the output. "
                f"Grad-CAM of other layers is the C3W3 exercise: write it with tf.GradientTape in your grad_cam."
            )
    cache[key] = message
    if message:
        raise ValueError(message)


def _check_explained_layer(model, layer_name):
    """:func:`_check_layer`, then :func:`_check_head_layer`; return the layer."""
    layer = _check_layer(model, layer_name)
    _check_head_layer(model, layer_name)
    return layer


def _n_outputs(model):
    shape = model.outputs[0].shape
    return int(shape[-1])


def _check_class_index(model, class_index):
    n = _n_outputs(model)
    if isinstance(class_index, (bool, np.bool_)) or not isinstance(class_index, (int, np.integer)):
        raise ClassIndexError(
            f"class_index must be an integer in 0..{n - 1}; got {class_index!r} "
            f"(use LABELS.index(name) to turn a label name into an index)."
        )
    if not 0 <= int(class_index) < n:
        raise ClassIndexError(f"class_index {class_index} is out of range: the model has {n} outputs, indices 0..{n - 1}.")
    return int(class_index)


def _check_score(score):
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}; got {score!r}.")
    return score


def _dense_head(model):
    """The model's output layer, which must be a Dense layer for ``score="logit"``."""
    import keras

    head = model.layers[-1]
    if not isinstance(head, keras.layers.Dense):
        raise ValueError(
            f"score='logit' needs a model whose output layer is a Dense layer (its pre-activation is the "
            f"logit); this model ends with {type(head).__name__} {head.name!r}. Pass score='output' to "
            "explain the model's output itself."
        )
    return head


def _check_image(image):
    shape = tuple(getattr(image, "shape", ()))
    if len(shape) != 4 or shape[0] != 1 or shape[-1] != 3:
        raise ValueError(
            f"image must be one preprocessed image of shape (1, H, W, 3); got shape {shape}. "
            f"Use util.data.images.load_image_normalize, or add a batch axis with image[None]."
        )
    return np.asarray(image, dtype=np.float32)


def _check_images(images):
    shape = tuple(getattr(images, "shape", ()))
    if len(shape) != 4 or shape[0] < 1 or shape[-1] != 3:
        raise ValueError(
            f"images must be a batch of preprocessed images of shape (n, H, W, 3) with n >= 1; got shape {shape}. "
            f"Stack single images with np.concatenate, or add a batch axis with image[None]."
        )
    return np.asarray(images, dtype=np.float32)


def _check_class_indices(model, class_indices):
    """Validated, de-duplicated class indices (all outputs when ``None``), in the order given."""
    if class_indices is None:
        return list(range(_n_outputs(model)))
    if isinstance(class_indices, (int, np.integer)) and not isinstance(class_indices, (bool, np.bool_)):
        class_indices = [class_indices]
    return list(dict.fromkeys(_check_class_index(model, k) for k in class_indices))


def _check_batch_size(batch_size):
    return check_int(batch_size, "batch_size", minimum=1, what="a batch size")


# --------------------------------------------------------------------------- steps


def gradcam_model(model, layer_name=CAM_LAYER):
    """Return a model that outputs ``[layer activations, predictions]``.

    Parameters
    ----------
    model : keras.Model
        A functional (or Sequential) model with one output.
    layer_name : str, default ``"conv5_block16_concat"``
        The layer to explain: one the classification head reads without a
        further convolution in between (see the module's notes).

    Returns
    -------
    keras.Model
        ``keras.Model(model.inputs, [layer.output, model.output])``, sharing
        ``model``'s weights. Built once per (model, layer) and cached.

    Raises
    ------
    ValueError
        If the model has no such layer (the message lists the closest names),
        or if the layer is followed by further convolutions before the output
        (Grad-CAM of such a layer is the C3W3 exercise).
    """
    import keras

    layer = _check_explained_layer(model, layer_name)
    try:
        cache = _GRADCAM_MODELS.setdefault(model, {})
    except TypeError:  # not weak-referenceable: build without caching
        cache = {}
    if layer_name not in cache:
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        cache[layer_name] = keras.Model(inputs, [layer.output, model.outputs[0]])
    return cache[layer_name]


def _features_model(model, layer_name):
    """``keras.Model(inputs, [layer output, input of the Dense output layer])``, cached like gradcam_model."""
    import keras

    layer = _check_explained_layer(model, layer_name)
    head = _dense_head(model)
    try:
        cache = _GRADCAM_MODELS.setdefault(model, {})
    except TypeError:
        cache = {}
    key = (layer_name, "logit")
    if key not in cache:
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        cache[key] = keras.Model(inputs, [layer.output, head.input])
    return cache[key], head


def activations_and_scores(model, images, layer_name=CAM_LAYER, score="logit"):
    """Return a layer's activations and every class score, for use inside a ``tf.GradientTape``.

    Parameters
    ----------
    model : keras.Model
    images : tensor of shape (n, H, W, 3)
        Preprocessed images (a batch; in inference mode they do not affect each other).
    layer_name : str, default ``"conv5_block16_concat"``
        As in :func:`gradcam_model`.
    score : {"logit", "output"}, default "logit"
        ``"logit"``: the pre-activation of the model's Dense output layer
        (``features @ kernel + bias``); ``"output"``: the model's output (a
        sigmoid probability for the course's models), as the course did.

    Returns
    -------
    activations : tensor of shape (n, h, w, c)
    scores : tensor of shape (n, n_outputs)
        Differentiable with respect to ``activations`` when called under a tape.
    """
    import keras

    _check_score(score)
    if score == "output":
        return gradcam_model(model, layer_name)(images, training=False)
    features_model, head = _features_model(model, layer_name)
    activations, features = features_model(images, training=False)
    logits = keras.ops.matmul(features, head.kernel)
    if head.use_bias:
        logits = logits + head.bias
    return activations, logits


def _split_at_layer(model, layer_name, score):
    """``(features, head)`` models that split ``model`` at the explained layer, or ``None``.

    ``features``: inputs -> the layer's activations. ``head``: activations ->
    ``(scores, predictions)``, where the scores are the logits (``score="logit"``,
    the Dense output layer's pre-activation) or the model's output. ``None`` when
    the graph cannot be split there (a subclassed model; a head that also reads an
    earlier layer); callers then record the whole network on a tape. Cached per
    (model, layer, score).
    """
    import keras

    try:
        cache = _GRADCAM_MODELS.setdefault(model, {})
    except TypeError:
        cache = {}
    key = (layer_name, score, "split")
    if key not in cache:
        layer = model.get_layer(layer_name)
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        try:
            features = keras.Model(inputs, layer.output)
            if score == "logit":
                dense = _dense_head(model)
                to_features = keras.Model(layer.output, dense.input)

                def head(acts, to_features=to_features, dense=dense):
                    logits = keras.ops.matmul(to_features(acts, training=False), dense.kernel)
                    if dense.use_bias:
                        logits = logits + dense.bias
                    return logits, dense.activation(logits)
            else:
                to_output = keras.Model(layer.output, model.outputs[0])

                def head(acts, to_output=to_output):
                    out = to_output(acts, training=False)
                    return out, out
            cache[key] = (features, head)
        except ValueError as err:
            if "score='output'" in str(err):  # no Dense head: say so, as the full-tape path does
                raise
            cache[key] = None
        except (AttributeError, TypeError, KeyError):
            cache[key] = None
    return cache[key]


def _head_gradients(model, x, class_indices, layer_name, score, want_predictions=False):
    """Activations, per-class gradients and predictions for a batch ``x`` of shape (n, H, W, 3).

    Returns
    -------
    acts : numpy.ndarray (n, h, w, c)
    grads : list of numpy.ndarray (n, h, w, c), one per class index
    predictions : numpy.ndarray (n, n_outputs) or None
        The model's output for each image (free on the fast path; on the
        full-tape path one more forward pass, run only if ``want_predictions``).
    """
    import tensorflow as tf

    split = _split_at_layer(model, layer_name, score)
    x = tf.convert_to_tensor(x)
    if split is not None:  # the network below the layer runs outside the tape: nothing of it is recorded
        features, head = split
        activations = tf.convert_to_tensor(features(x, training=False))
    with tf.GradientTape(persistent=len(class_indices) > 1) as tape:
        if split is None:  # the whole network on the tape
            activations, scores = activations_and_scores(model, x, layer_name, score)
            predictions = None
        else:
            tape.watch(activations)
            scores, predictions = head(activations)
        # images are independent in inference mode, so the gradient of the batch's sum of scores
        # with respect to one image's activations is that image's own gradient
        totals = [tf.reduce_sum(scores[:, k]) for k in class_indices]
    grads = [tape.gradient(t, activations).numpy() for t in totals]
    del tape
    if predictions is None and want_predictions:
        predictions = model(x, training=False)
    return activations.numpy(), grads, None if predictions is None else np.asarray(predictions)


def activations_and_gradients(model, image, class_index, layer_name=CAM_LAYER, score="logit"):
    """Return a layer's activations and the gradient of one class score with respect to them.

    Parameters
    ----------
    model : keras.Model
    image : array-like of shape (1, H, W, 3)
        One preprocessed image.
    class_index : int
        Which output to explain (``LABELS.index(name)``).
    layer_name : str, default ``"conv5_block16_concat"``
    score : {"logit", "output"}, default "logit"
        The class score differentiated (see :func:`activations_and_scores`).

    Returns
    -------
    activations : numpy.ndarray of shape (h, w, c)
        The layer's output for the image (batch axis dropped).
    gradients : numpy.ndarray of shape (h, w, c)
        ``d score[0, class_index] / d activations``.

    Raises
    ------
    ValueError
        Bad image shape; unknown layer; a layer followed by further
        convolutions before the output (see :func:`gradcam_model`).
    IndexError
        ``class_index`` outside ``0..n_outputs-1`` (the error is also a ValueError).
    """
    x = _check_image(image)
    _check_explained_layer(model, layer_name)
    k = _check_class_index(model, class_index)
    acts, (grads,), _ = _head_gradients(model, x, [k], layer_name, _check_score(score))
    return acts[0], grads[0]


def channel_weights(grads):
    """Return one weight per channel: the gradients' mean over the spatial axes.

    Parameters
    ----------
    grads : array-like of shape (h, w, c)

    Returns
    -------
    numpy.ndarray of shape (c,)
    """
    g = np.asarray(grads, dtype=np.float32)
    if g.ndim != 3:
        raise ValueError(f"grads must have shape (h, w, c); got {g.shape}.")
    return g.mean(axis=(0, 1))


def weighted_sum(activations, weights):
    """Return ``sum_c weights[c] * activations[:, :, c]``, an (h, w) map.

    Parameters
    ----------
    activations : array-like of shape (h, w, c)
    weights : array-like of shape (c,)
    """
    a = np.asarray(activations, dtype=np.float32)
    w = np.asarray(weights, dtype=np.float32)
    if a.ndim != 3 or w.shape != (a.shape[-1],):
        raise ValueError(f"activations must be (h, w, c) and weights (c,); got {a.shape} and {w.shape}.")
    return a @ w


def relu(cam):
    """Return ``max(cam, 0)``: keep only the regions that raise the class score."""
    return np.maximum(np.asarray(cam, dtype=np.float32), 0.0)


def resize_to_input(cam, H, W):
    """Up-sample an (h, w) map to the input's (H, W), bilinearly.

    Uses ``cv2.resize(cam, (W, H), interpolation=cv2.INTER_LINEAR)`` — note
    OpenCV's ``(width, height)`` order. (The course's C3W3 code passed
    ``cv2.INTER_NEAREST`` positionally, where ``cv2.resize`` expects ``dst``, so
    it got bilinear too.)
    """
    import cv2

    c = np.asarray(cam, dtype=np.float32)
    if c.ndim != 2:
        raise ValueError(f"cam must be a 2-D (h, w) map; got shape {c.shape}.")
    return cv2.resize(c, (int(W), int(H)), interpolation=cv2.INTER_LINEAR)


def normalize(cam):
    """Divide a non-negative map by its maximum, so that it lies in [0, 1].

    A map with no positive value (e.g. all zeros after the ReLU: nothing in
    the layer speaks for the class) is returned as zeros, not NaN.
    """
    c = np.asarray(cam, dtype=np.float32)
    top = float(c.max()) if c.size else 0.0
    if not np.isfinite(top):
        raise ValueError("cam contains NaN or infinite values.")
    if top <= 0.0:
        return np.zeros_like(c)
    return c / np.float32(top)


def postprocess(raw, H, W):
    """Steps 5-7 on a weighted sum: ReLU, bilinear resize to (H, W), division by the maximum.

    Parameters
    ----------
    raw : array-like of shape (h, w)
        ``weighted_sum(activations, channel_weights(gradients))``.
    H, W : int
        The input's height and width.

    Returns
    -------
    numpy.ndarray of float32, shape (H, W), in [0, 1]
    """
    return normalize(resize_to_input(relu(raw), H, W))


def _cam_from(acts, grads, H, W):
    return postprocess(weighted_sum(acts, channel_weights(grads)), H, W)


def grad_cam(model, image, class_index, layer_name=CAM_LAYER, score="logit"):
    """Return the Grad-CAM heat map of one class for one image.

    Parameters
    ----------
    model : keras.Model
        E.g. ``util.models.densenet.load_C3M3_model()``.
    image : array-like of shape (1, H, W, 3)
        One image, preprocessed the way the model expects.
    class_index : int
        Output to explain, an index into ``util.config.course.LABELS``.
    layer_name : str, default ``"conv5_block16_concat"``
    score : {"logit", "output"}, default "logit"
        The class score differentiated: the logit (a map even for a
        prediction that saturates at 1.0) or the model's output, as the course
        did (see the module's notes).

    Returns
    -------
    numpy.ndarray of float32, shape (H, W)
        In [0, 1]: 1 where the evidence for the class is strongest; all
        zeros when no region raises the class score.

    Raises
    ------
    ValueError
        Image not of shape (1, H, W, 3); unknown layer (closest names
        listed); a layer followed by further convolutions before the output
        (util.explain.gradcam explains only the layer the classification head reads).
    IndexError
        ``class_index`` out of range (also a ValueError).
    """
    x = _check_image(image)
    _check_explained_layer(model, layer_name)
    k = _check_class_index(model, class_index)
    acts, (grads,), _ = _head_gradients(model, x, [k], layer_name, _check_score(score))
    return _cam_from(acts[0], grads[0], x.shape[1], x.shape[2])


def grad_cams(model, image, class_indices, layer_name=CAM_LAYER, score="logit"):
    """Return Grad-CAM maps of several classes for one image, from one forward pass.

    Parameters
    ----------
    model, image, layer_name, score
        As in :func:`grad_cam`.
    class_indices : iterable of int

    Returns
    -------
    dict of int -> numpy.ndarray (H, W)
        One map per class index, each as :func:`grad_cam` would return it.
    """
    x = _check_image(image)
    _check_explained_layer(model, layer_name)
    ks = [_check_class_index(model, k) for k in class_indices]
    if not ks:
        return {}
    _, maps = predictions_and_raw_cams(model, x, ks, layer_name, score)
    return {k: postprocess(raw, x.shape[1], x.shape[2]) for k, raw in zip(dict.fromkeys(ks), maps[0])}


def predictions_and_raw_cams(model, images, class_indices=None, layer_name=CAM_LAYER, score="logit"):
    """Return the model's predictions and the Grad-CAM weighted sums, from one forward pass.

    The raw maps are step 4 of the pipeline (before the ReLU, at the layer's
    resolution); :func:`postprocess` turns one into what :func:`grad_cam`
    returns. Keeping them small lets a caller predict many images and draw
    maps only for those it selects afterwards (``make evaluate`` does).

    Parameters
    ----------
    model : keras.Model
    images : array-like of shape (n, H, W, 3)
        Preprocessed images, one batch (they go through the network together).
    class_indices : int or iterable of int, optional
        The classes to explain, in order (repeats dropped); all outputs when omitted.
    layer_name, score
        As in :func:`grad_cam`.

    Returns
    -------
    predictions : numpy.ndarray of shape (n, n_outputs)
        The model's output for each image, as ``model(images, training=False)``.
    raw : numpy.ndarray of float32, shape (n, k, h, w)
        ``weighted_sum(activations, channel_weights(gradients))`` per image and class.
    """
    x = _check_images(images)
    _check_explained_layer(model, layer_name)
    ks = _check_class_indices(model, class_indices)
    acts, grads, predictions = _head_gradients(model, x, ks, layer_name, _check_score(score), want_predictions=True)
    weights = np.stack([g.mean(axis=(1, 2)) for g in grads], axis=1)  # (n, k, c)
    raw = np.stack([[weighted_sum(a, w) for w in per_image] for a, per_image in zip(acts, weights)])
    return predictions, raw.reshape(len(x), len(ks), *acts.shape[1:3])


def grad_cam_batch(model, images, class_indices=None, layer_name=CAM_LAYER, score="logit", batch_size=8):
    """Return the Grad-CAM maps of every requested class for every image of a batch.

    Parameters
    ----------
    model : keras.Model
    images : array-like of shape (n, H, W, 3)
        Preprocessed images.
    class_indices : int or iterable of int, optional
        The classes to explain, in order (repeats dropped); all outputs when omitted.
    layer_name, score
        As in :func:`grad_cam`.
    batch_size : int, default 8
        Images sent through the network at once (on two CPU cores, 8 halves
        the time per image of one at a time).

    Returns
    -------
    numpy.ndarray of float32, shape (n, k, H, W)
        ``maps[i, j]`` is ``grad_cam(model, images[i:i+1], class_indices[j], ...)``
        to float32 precision.
    """
    x = _check_images(images)
    _check_explained_layer(model, layer_name)
    ks = _check_class_indices(model, class_indices)
    size = _check_batch_size(batch_size)
    H, W = x.shape[1:3]
    out = np.empty((len(x), len(ks), H, W), dtype=np.float32)
    for start in range(0, len(x), size):
        _, raw = predictions_and_raw_cams(model, x[start : start + size], ks, layer_name, score)
        for i, per_image in enumerate(raw, start):
            for j, r in enumerate(per_image):
                out[i, j] = postprocess(r, H, W)
    return out



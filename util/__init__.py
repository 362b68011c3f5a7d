"""medxai-course's shared library.

Notebooks import the course-facing names with ``from util import *``. The
names are loaded lazily, so ``import util`` stays fast and TensorFlow is only
imported by code that needs a model.

The package is layered; each layer imports only the layers above it in this list
(``tests/test_layers.py`` checks it):

``util.config``
    paths, course facts (labels, explained layers, seed ranges), input checks,
    TensorFlow quieting.
``util.data``
    the generated chest X-rays, fundus images and mortality cohort; image loading and batches.
``util.models``
    the course DenseNet121, the fundus CNN, ordinal encoding.
``util.explain``
    Grad-CAM, overlays.
``util.metrics``
    ROC, C-index, localisation scores, agreement.

Maintainer code (training, evaluation, model cards) is in ``training/``; the
instructor's grader in ``grading/``. Neither is imported from here.
"""

from importlib import import_module

from util.config.quiet import quiet_environment

# TensorFlow reads its logging settings once, at its first import: set them before any module can.
quiet_environment()

# name -> module that defines it
_EXPORTS = {
    "CAM_LAYER": "util.config.course",
    "LABELS": "util.config.course",
    "data_dir": "util.config.paths",
    "read_image": "util.data.images",
    "load_image": "util.data.images",
    "load_image_normalize": "util.data.images",
    "get_mean_std_per_batch": "util.data.images",
    "get_train_generator": "util.data.pipeline",
    "get_test_and_valid_generator": "util.data.pipeline",
    "get_roc_curve": "util.metrics.roc",
    "cindex": "util.metrics.concordance",
    "ensure_chestxray_data": "util.data.chestxray",
    "load_split": "util.data.chestxray",
    "load_bboxes": "util.data.chestxray",
    "load_mask": "util.data.chestxray",
    "load_mortality_cohort": "util.data.cohort",
    "load_mortality_rf": "util.data.cohort",
    "build_densenet121": "util.models.densenet",
    "load_C3M3_model": "util.models.densenet",
    "standardize": "util.models.densenet",
    "plot_overlay": "util.explain.overlay",
    "pointing_game": "util.metrics.localization",
    "energy_pointing": "util.metrics.localization",
    "evaluate_localization": "util.metrics.localization",
    "generate_fundus": "util.data.fundus",
    "circular_crop": "util.data.fundus",
    "make_fundus_set": "util.data.fundus",
    "GRADE_NAMES": "util.data.fundus",
    "encode_grades": "util.models.ordinal",
    "decode_outputs": "util.models.ordinal",
    "quadratic_weighted_kappa": "util.metrics.agreement",
    "load_fundus_model": "util.models.fundus_cnn",
    "fundus_inputs": "util.models.fundus_cnn",
    "predict_grades": "util.models.fundus_cnn",
    "grad_cam_for_grade": "util.explain.grades",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'util' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))

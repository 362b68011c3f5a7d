"""medxai-course's shared library.

Notebooks import the course-facing names with ``from util import *``. The
names are loaded lazily, so ``import util`` stays fast and TensorFlow is only
imported by code that needs a model.
"""

from importlib import import_module

# name -> module that defines it
_EXPORTS = {
    "LABELS": "util.labels",
    "data_dir": "util.paths",
    "read_image": "util.images",
    "load_image": "util.images",
    "load_image_normalize": "util.images",
    "get_mean_std_per_batch": "util.images",
    "get_train_generator": "util.pipeline",
    "get_test_and_valid_generator": "util.pipeline",
    "get_roc_curve": "util.metrics",
    "cindex": "util.metrics",
    "ensure_chestxray_data": "util.chestxray",
    "load_split": "util.chestxray",
    "load_bboxes": "util.chestxray",
    "load_mask": "util.chestxray",
    "load_mortality_cohort": "util.cohort",
    "load_mortality_rf": "util.cohort",
    "build_densenet121": "util.models",
    "load_C3M3_model": "util.models",
    "standardize": "util.models",
    "plot_overlay": "util.cam",
    "pointing_game": "util.metrics",
    "energy_pointing": "util.metrics",
    "evaluate_localization": "util.metrics",
    "generate_fundus": "util.fundus",
    "circular_crop": "util.fundus",
    "make_fundus_set": "util.fundus",
    "GRADE_NAMES": "util.fundus",
    "encode_grades": "util.ordinal",
    "decode_outputs": "util.ordinal",
    "quadratic_weighted_kappa": "util.ordinal",
    "load_fundus_model": "util.train_fundus",
    "fundus_inputs": "util.train_fundus",
    "predict_grades": "util.train_fundus",
    "grad_cam_for_grade": "util.train_fundus",
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

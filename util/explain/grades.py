"""Grad-CAM of an ordinal model's grade: the output that decided it."""

from __future__ import annotations

import numpy as np

from util.config.course import FUNDUS_CAM_LAYER
from util.explain import gradcam
from util.models.fundus_cnn import N_GRADES, predict_grades
from util.models.ordinal import grade_output_index

__all__ = ["grad_cam_for_grade"]


def grad_cam_for_grade(model, x, grade=None, layer_name=FUNDUS_CAM_LAYER):
    """Grad-CAM of the output that decides a grade, for one image.

    The ordinal head has no output per grade: output ``j`` says "grade > j".
    For a predicted grade ``k >= 1`` the output that decided it is ``k - 1``
    ("grade >= k", the highest output above 0.5), so that is the one
    explained (:func:`util.models.ordinal.grade_output_index`). For grade 0, output 0
    ("grade > 0") is explained: what would speak for any retinopathy.

    Parameters
    ----------
    model : keras.Model
        E.g. :func:`load_fundus_model`.
    x : float32 array (1, H, W, 3)
        One model input (:func:`fundus_inputs`).
    grade : int, optional
        The grade to explain; default the predicted grade.
    layer_name : str, default ``"last_conv"``

    Returns
    -------
    cam : numpy.ndarray of float32, shape (H, W)
        :func:`util.explain.gradcam.grad_cam`, in [0, 1].
    grade : int
        The grade explained.
    output_index : int
        The output explained.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"x must be one model input of shape (1, H, W, 3); got {x.shape}")
    if grade is None:
        grade = int(predict_grades(model, x)[1][0])
    index = 0 if grade == 0 else grade_output_index(grade, N_GRADES)
    return gradcam.grad_cam(model, x, index, layer_name=layer_name), int(grade), index


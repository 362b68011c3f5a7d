"""util.explain.grades: Grad-CAM of the fundus CNN for the output that decides a grade."""

import pytest

from util.config.course import FUNDUS_CAM_LAYER
from util.data.fundus import generate_fundus
from util.explain.grades import grad_cam_for_grade
from util.models.fundus_cnn import build_fundus_cnn, fundus_inputs, predict_grades


@pytest.fixture(scope="module")
def model():
    """An untrained fundus CNN: the maps' shapes and the output chosen do not depend on its weights."""
    return build_fundus_cnn()


def test_grad_cam_runs_on_the_last_conv_layer(model):
    from util.explain.gradcam import grad_cam

    image = fundus_inputs(generate_fundus(0, 4)[0])
    cam = grad_cam(model, image, 3, layer_name=FUNDUS_CAM_LAYER)
    assert cam.shape == (128, 128) and cam.min() >= 0 and cam.max() <= 1


def test_grad_cam_for_grade_explains_the_deciding_output(model):
    x = fundus_inputs(generate_fundus(3, 3)[0])
    cam, grade, index = grad_cam_for_grade(model, x, grade=3)
    assert cam.shape == (128, 128) and (grade, index) == (3, 2)
    assert grad_cam_for_grade(model, x, grade=0)[2] == 0
    _, predicted, index = grad_cam_for_grade(model, x)
    assert predicted == int(predict_grades(model, x)[1][0]) and index == max(predicted - 1, 0)
    with pytest.raises(ValueError, match="shape"):
        grad_cam_for_grade(model, x[0])

"""Localization metrics against lesion masks (util.metrics), on hand-made maps with known answers."""

import numpy as np
import pytest

from util.metrics.localization import POINTING_TOLERANCE, energy_pointing, evaluate_localization, pointing_game


def _mask(shape=(100, 100), rows=slice(40, 60), cols=slice(40, 60)):
    m = np.zeros(shape, dtype=bool)
    m[rows, cols] = True
    return m


def _peak(shape, r, c, value=1.0):
    cam = np.zeros(shape, dtype=np.float32)
    cam[r, c] = value
    return cam


def test_default_tolerance_is_15_pixels():
    assert POINTING_TOLERANCE == 15


@pytest.mark.parametrize(
    "peak, tolerance, expected",
    [
        ((50, 50), 15, True),  # inside
        ((40, 40), 0, True),  # on the mask's corner pixel
        ((50, 70), 15, True),  # 11 px right of column 59
        ((50, 74), 15, True),  # exactly 15 px away: counts (<=)
        ((50, 75), 15, False),  # 16 px away
        ((50, 70), 0, False),  # outside with no tolerance
        ((70, 70), 15, False),  # diagonal to (59, 59): sqrt(11**2 + 11**2) = 15.56 px
        ((5, 5), 15, False),  # far outside
    ],
)
def test_pointing_game_known_answers(peak, tolerance, expected):
    mask = _mask()
    cam = _peak(mask.shape, *peak)
    assert pointing_game(cam, mask, tolerance=tolerance) is expected


def test_pointing_game_uses_the_maximum_not_the_mass():
    mask = _mask()
    cam = np.zeros(mask.shape)
    cam[40:60, 40:60] = 0.9  # most of the mass inside
    cam[5, 5] = 1.0  # but the maximum far away
    assert pointing_game(cam, mask) is False
    assert energy_pointing(cam, mask) > 0.99


def test_all_zero_cam_points_nowhere_and_has_no_energy():
    mask = _mask()
    cam = np.zeros(mask.shape)
    assert pointing_game(cam, mask) is False
    assert energy_pointing(cam, mask) == 0.0
    negative = -np.ones(mask.shape)  # no positive evidence either
    assert pointing_game(negative, mask) is False
    assert energy_pointing(negative, mask) == 0.0


def test_energy_share_is_exact():
    mask = _mask((10, 10), slice(0, 5), slice(0, 10))  # top half
    cam = np.zeros((10, 10))
    cam[:5] = 3.0  # 50 px * 3 = 150 inside
    cam[5:] = 1.0  # 50 px * 1 = 50 outside
    assert energy_pointing(cam, mask) == pytest.approx(0.75)
    cam[5:] = -4.0  # negative values are clipped, not subtracted
    assert energy_pointing(cam, mask) == pytest.approx(1.0)
    uniform = np.ones((10, 10))
    assert energy_pointing(uniform, mask) == pytest.approx(mask.mean())


def test_integer_masks_are_accepted():
    mask = _mask().astype(np.uint8)
    assert pointing_game(_peak(mask.shape, 50, 50), mask) is True
    assert energy_pointing(_peak(mask.shape, 50, 50), mask) == 1.0


@pytest.mark.parametrize(
    "cam, mask, match",
    [
        (np.zeros((10, 10)), np.zeros((10, 11), bool), "shape"),
        (np.zeros((1, 10, 10)), np.zeros((1, 10, 10), bool), "2-D"),
        (np.full((10, 10), np.nan), np.ones((10, 10), bool), "NaN"),
        (np.zeros((10, 10)), np.full((10, 10), 2), "boolean"),
        (np.array([["a"] * 2] * 2), np.ones((2, 2), bool), "numeric"),
    ],
)
def test_bad_inputs_raise_clear_errors(cam, mask, match):
    with pytest.raises(ValueError, match=match):
        pointing_game(cam, mask)
    with pytest.raises(ValueError, match=match):
        energy_pointing(cam, mask)


def test_empty_mask_and_negative_tolerance():
    cam = _peak((10, 10), 2, 2)
    with pytest.raises(ValueError, match="empty"):
        pointing_game(cam, np.zeros((10, 10), bool))
    assert energy_pointing(cam, np.zeros((10, 10), bool)) == 0.0
    with pytest.raises(ValueError, match="tolerance"):
        pointing_game(cam, np.ones((10, 10), bool), tolerance=-1)


def test_evaluate_localization_aggregates():
    mask = _mask()
    cams = [_peak(mask.shape, 50, 50), _peak(mask.shape, 5, 5), np.zeros(mask.shape)]
    result = evaluate_localization(cams, [mask] * 3)
    assert result["n"] == 3
    assert result["pointing_game"] == pytest.approx(1 / 3)
    assert result["energy"] == pytest.approx(1 / 3)
    empty = evaluate_localization([], [])
    assert empty["n"] == 0 and np.isnan(empty["pointing_game"])
    with pytest.raises(ValueError, match="masks"):
        evaluate_localization(cams, [mask])


# --------------------------------------------------------------------------- model card table (training.evaluate)


def test_location_prior_is_the_share_of_masks_covering_each_pixel():
    from util.metrics.localization import location_prior

    left = _mask((4, 4), slice(0, 4), slice(0, 2))
    top = _mask((4, 4), slice(0, 2), slice(0, 4))
    prior = location_prior([left, top, left.astype(int)])
    assert prior.dtype == np.float64
    assert prior[0, 0] == pytest.approx(1.0)  # in all three
    assert prior[0, 3] == pytest.approx(1 / 3)  # top only
    assert prior[3, 0] == pytest.approx(2 / 3)  # left twice
    assert prior[3, 3] == 0.0
    # it points where the masks overlap most, whatever the image shows
    assert pointing_game(prior, _mask((4, 4), slice(0, 1), slice(0, 1)), tolerance=0)


@pytest.mark.parametrize(
    "masks, message",
    [([], "at least one mask"), ([np.zeros((4, 4), bool), np.zeros((5, 4), bool)], "mask 1 has shape"), ([np.full((4, 4), 2)], "boolean")],
)
def test_location_prior_rejects_bad_masks(masks, message):
    from util.metrics.localization import location_prior

    with pytest.raises(ValueError, match=message):
        location_prior(masks)

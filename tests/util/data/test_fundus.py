"""Unit tests of the retinal fundus phantoms (util.data.fundus)."""

import numpy as np
import pytest
from scipy import ndimage

from util.data import fundus
from util.data.fundus import (DEFINING_LESIONS, GRADE_NAMES, GRADES, LESION_TYPES, circular_crop, fov_bounding_box,
                              generate_fundus, make_fundus_set, render_fundus)

MASK_KEYS = {*LESION_TYPES, "lesions"}


def test_grades_and_names():
    assert GRADES == (0, 1, 2, 3, 4)
    assert len(GRADE_NAMES) == 5 and GRADE_NAMES[0] == "No DR" and GRADE_NAMES[4] == "Proliferative DR"


def test_same_seed_same_bytes_different_seed_or_grade_differs():
    a, ma = generate_fundus(3, 2)
    b, mb = generate_fundus(3, 2)
    c, _ = generate_fundus(4, 2)
    d, _ = generate_fundus(3, 3)
    assert a.tobytes() == b.tobytes()
    assert set(ma) == set(mb) == MASK_KEYS
    assert all(np.array_equal(ma[k], mb[k]) for k in ma)
    assert a.tobytes() != c.tobytes()
    assert a.tobytes() != d.tobytes()


def test_known_pixels_are_stable():
    """Pinned values of eye 0 at grade 4, so that an accidental change of the generator is noticed."""
    import hashlib

    image, masks = generate_fundus(0, 4)
    assert image.shape == (128, 128, 3) and image.dtype == np.uint8
    assert (int(image.sum()), int(masks["lesions"].sum())) == (2952812, 928)
    assert hashlib.sha256(image.tobytes()).hexdigest() == (
        "5122f560065c153c21a43ae8f82807c2546f1155db5e751a3451cd8e5c7620c5")


@pytest.mark.parametrize("size", [64, 128, 200])
@pytest.mark.parametrize("grade", GRADES)
def test_dtype_shape_and_masks(size, grade):
    ph = render_fundus(5, grade, size=size)
    assert ph.image.dtype == np.uint8 and ph.image.shape == (size, size, 3)
    assert set(ph.masks) == MASK_KEYS
    for k, m in {**ph.masks, **ph.anatomy}.items():
        assert m.dtype == bool and m.shape == (size, size), k
    assert np.array_equal(ph.masks["lesions"], np.logical_or.reduce([ph.masks[k] for k in LESION_TYPES]))


@pytest.mark.parametrize("seed", range(6))
def test_black_border_outside_the_circular_field_of_view(seed):
    ph = render_fundus(seed, 3, size=128)
    fov = ph.anatomy["fov"]
    outside = ~ndimage.binary_dilation(fov, iterations=1)
    assert outside.any()
    assert (ph.image[outside] == 0).all()
    for corner in (ph.image[0, 0], ph.image[0, -1], ph.image[-1, 0], ph.image[-1, -1]):
        assert (corner == 0).all()
    # a disc: its area matches the radius of its bounding box
    rows = np.flatnonzero(fov.any(axis=1))
    r = (rows[-1] - rows[0] + 1) / 2
    assert fov.sum() == pytest.approx(np.pi * r * r, rel=0.05)
    # inside, a lit orange-red fundus: red > green > blue
    mean = ph.image[fov].mean(axis=0)
    assert mean[0] > 80 and mean[0] > mean[1] > mean[2]


@pytest.mark.parametrize("seed", range(8))
def test_grade_0_has_no_lesion_and_lesions_only_grow_with_grade(seed):
    masks = [render_fundus(seed, g).masks for g in GRADES]
    assert not any(masks[0][k].any() for k in MASK_KEYS)
    areas = [int(m["lesions"].sum()) for m in masks]
    assert all(a < b for a, b in zip(areas, areas[1:])), areas
    # the same eye getting worse: every lesion of grade g is still there at grade g + 1
    for lo, hi in zip(masks, masks[1:]):
        assert not (lo["lesions"] & ~hi["lesions"]).any()


def test_mean_lesion_area_per_grade_increases_steeply():
    mean = [np.mean([render_fundus(s, g).masks["lesions"].sum() for s in range(10, 20)]) for g in GRADES]
    assert mean[0] == 0
    assert all(b > 1.5 * a for a, b in zip(mean[1:], mean[2:]))


@pytest.mark.parametrize("seed", range(6))
def test_lesion_types_follow_the_icdr_grades(seed):
    present = {g: {k for k in LESION_TYPES if render_fundus(seed, g).masks[k].any()} for g in GRADES}
    counts = {g: render_fundus(seed, g).counts for g in GRADES}
    assert present[0] == set()
    assert present[1] == {"microaneurysms"} and counts[1]["microaneurysms"] >= 3
    assert {"microaneurysms", "haemorrhages"} <= present[2]
    assert counts[2]["haemorrhages"] >= 2 and counts[2]["microaneurysms"] > counts[1]["microaneurysms"]
    assert not present[2] & {"cotton_wool_spots", "new_vessels", "preretinal_haemorrhage", "venous_beading"}
    assert {"microaneurysms", "haemorrhages", "cotton_wool_spots"} <= present[3]
    assert counts[3]["haemorrhages"] >= 16  # at least four in each quadrant
    assert not present[3] & {"new_vessels", "preretinal_haemorrhage"}
    assert "new_vessels" in present[4] and present[3] <= present[4]


@pytest.mark.parametrize("seed", range(4))
def test_defining_lesions_are_present_at_their_grade(seed):
    assert set(DEFINING_LESIONS) == {1, 2, 3, 4}
    for grade, types in DEFINING_LESIONS.items():
        masks = render_fundus(seed, grade).masks
        assert set(types) <= set(LESION_TYPES)
        assert np.logical_or.reduce([masks[k] for k in types]).any()


def test_some_eyes_have_exudates_beading_and_preretinal_haemorrhage():
    seen = set()
    for s in range(30):
        seen |= {k for k in LESION_TYPES if render_fundus(s, 4).masks[k].any()}
    assert seen == set(LESION_TYPES)


@pytest.mark.parametrize("seed", range(6))
def test_masks_lie_inside_the_field_of_view(seed):
    ph = render_fundus(seed, 4, size=96)
    for k in MASK_KEYS:
        assert not (ph.masks[k] & ~ph.anatomy["fov"]).any(), k
    for k in ("optic_disc", "macula", "vessels"):
        assert ph.anatomy[k].any() and not (ph.anatomy[k] & ~ph.anatomy["fov"]).any(), k


def test_lesions_and_anatomy_have_their_colours():
    """Haemorrhages dark red, exudates yellow, cotton-wool spots pale, disc bright, macula dark."""
    for seed in range(4):
        ph = render_fundus(seed, 3, size=128)
        img = ph.image.astype(float)
        m, a = ph.masks, ph.anatomy
        background = a["fov"] & ~m["lesions"] & ~a["vessels"] & ~a["optic_disc"]
        bg = img[background].mean(axis=0)
        haem = img[m["haemorrhages"]].mean(axis=0)
        assert haem[0] < bg[0] - 15 and haem[1] < 0.7 * bg[1]
        assert img[a["optic_disc"]].mean() > bg.mean() + 25
        assert img[m["cotton_wool_spots"]].mean() > bg.mean() + 15
        if m["hard_exudates"].any():
            assert img[m["hard_exudates"]].mean(axis=0)[1] > bg[1] + 40
        ring = ndimage.binary_dilation(a["macula"], iterations=8) & ~a["macula"] & background
        assert img[a["macula"] & ~m["lesions"]].mean() < img[ring].mean() - 3


def test_left_and_right_eyes_are_mirror_images():
    sides = {}
    for s in range(12):
        ph = render_fundus(s, 0, size=128)
        disc_col = np.flatnonzero(ph.anatomy["optic_disc"].any(axis=0)).mean()
        macula_col = np.flatnonzero(ph.anatomy["macula"].any(axis=0)).mean()
        sides.setdefault(ph.eye.eye, []).append(disc_col > macula_col)
    assert set(sides) == {"OD", "OS"}
    assert all(sides["OD"]) and not any(sides["OS"])  # right eye: disc on the image's right


def test_geometry_scales_with_size():
    small, big = render_fundus(7, 3, size=64), render_fundus(7, 3, size=256)
    frac = [p.masks["lesions"].mean() for p in (small, big)]
    assert frac[0] == pytest.approx(frac[1], rel=0.1)  # 0.0378 at 64 px, 0.0352 at 256 px
    assert small.anatomy["fov"].mean() == pytest.approx(big.anatomy["fov"].mean(), rel=0.05)


@pytest.mark.parametrize("grade", [-1, 5, 2.0, True, "2", None])
def test_invalid_grade_raises_naming_the_valid_grades(grade):
    with pytest.raises(ValueError, match=r"\(0, 1, 2, 3, 4\)"):
        generate_fundus(0, grade)


@pytest.mark.parametrize("size, error", [(63, ValueError), (0, ValueError), (128.0, TypeError)])
def test_invalid_size_raises(size, error):
    with pytest.raises(error, match="size"):
        generate_fundus(0, 1, size=size)


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (1.5, TypeError), ("3", TypeError)])
def test_invalid_seed_raises(seed, error):
    with pytest.raises(error, match="seed"):
        generate_fundus(seed, 1)


# --------------------------------------------------------------------------- render_fundus's steps


def test_fov_alpha_is_one_inside_zero_from_the_radius_out_and_antialiased_between():
    r = np.linspace(0.0, 0.6, 601)
    alpha = fundus._fov_alpha(r, 0.45, 128)
    assert (alpha[r <= 0.45 - 1 / 128] == 1.0).all() and (alpha[r >= 0.45] == 0.0).all()
    edge = alpha[(r > 0.45 - 1 / 128) & (r < 0.45)]
    assert edge.size and ((edge > 0.0) & (edge <= 1.0)).all() and (np.diff(alpha) <= 0.0).all()


def test_venous_beading_modulates_only_the_chosen_vein_trunks():
    eye = fundus.EyeAnatomy.from_seed(0)
    paths = fundus._vessel_tree(eye)
    _, vw, vidx, vs = fundus._densify(paths, 128)
    kinds = np.array([p.kind for p in paths])[vidx]
    trunks = np.array([p.trunk for p in paths])[vidx]
    same, none, n = fundus._venous_beading(0, False, kinds, trunks, vs, vw, eye.fov_r)
    assert same is vw and not none.any() and n == 0
    for seed in range(6):
        beaded_vw, beaded, n = fundus._venous_beading(seed, True, kinds, trunks, vs, vw, eye.fov_r)
        assert n in (2, 3) and set(trunks[beaded].tolist()) == set(range(n)) and (kinds[beaded] == "vein").all()
        assert np.array_equal(beaded_vw[~beaded], vw[~beaded])
        ratio = beaded_vw[beaded] / vw[beaded]
        assert 0.45 - 1e-12 <= ratio.min() < 0.6 and 1.4 < ratio.max() <= 1.55 + 1e-12


def test_frond_takes_even_steps_inside_the_field_of_view():
    eye = fundus.EyeAnatomy.from_seed(0)
    R = eye.fov_r
    frond = fundus._frond(np.random.default_rng(0), eye, eye.disc, 20, 0.01 * R)
    steps = np.hypot(*np.diff(frond.xy, axis=0).T)
    assert len(frond.xy) >= 2 and frond.kind == "nv" and frond.trunk == -1 and (frond.w == 0.01 * R).all()
    np.testing.assert_allclose(steps, 0.014 * R)
    np.testing.assert_allclose(frond.s, np.concatenate([[0.0], np.cumsum(steps)]))
    assert (np.hypot(frond.xy[:, 0] - eye.fov_cx, frond.xy[:, 1] - eye.fov_cy) <= 0.95 * R).all()
    # one step of 0.014 R cannot get back inside 0.95 R from 0.99 R: nothing to draw
    assert fundus._frond(np.random.default_rng(0), eye, (eye.fov_cx + 0.99 * R, eye.fov_cy), 5, 0.01 * R) is None


def test_quantise_applies_the_contrast_curve_and_blacks_out_the_border():
    img = np.zeros((4, 4, 3))
    img[:, 1], img[:, 2], img[:, 3] = 0.5, 1.0, 2.0
    inside = np.ones((4, 4), dtype=bool)
    inside[3] = False
    linear, dark = fundus._quantise(img, 1.0, inside), fundus._quantise(img, 2.0, inside)
    assert linear.dtype == np.uint8 and linear.shape == img.shape
    # 0.5 -> level 2048 of 4095 -> 255 * 0.5001 = 127.5 (linear), 255 * 0.2501 = 63.8 (gamma 2)
    assert linear[0, :, 0].tolist() == [0, 128, 255, 255] and dark[0, :, 0].tolist() == [0, 64, 255, 255]
    assert not linear[3].any() and not dark[3].any()


# --------------------------------------------------------------------------- circular crop


def test_crop_box_of_a_known_rectangle():
    img = np.zeros((50, 60, 3), dtype=np.uint8)
    img[10:30, 5:45] = (200, 90, 40)
    assert fov_bounding_box(img) == (10, 30, 5, 45)
    crop = circular_crop(img, resize=False)
    assert crop.shape == (20, 40, 3) and (crop == (200, 90, 40)).all()
    resized = circular_crop(img)
    assert resized.shape == img.shape and resized.dtype == np.uint8 and (resized == (200, 90, 40)).all()


def test_threshold_uses_the_grey_level():
    img = np.zeros((20, 20, 3), dtype=np.uint8)
    img[5, 5] = (20, 0, 0)  # grey 0.299 * 20 = 6.0 <= 7: black
    img[8:12, 9:15] = (0, 0, 200)  # grey 22.8
    assert fov_bounding_box(img, threshold=7) == (8, 12, 9, 15)
    assert fov_bounding_box(img, threshold=5) == (5, 12, 5, 15)


@pytest.mark.parametrize("seed", range(5))
def test_circular_crop_removes_the_black_border(seed):
    ph = render_fundus(seed, 4, size=128)
    crop, masks = circular_crop(ph.image, masks=ph.masks)
    assert crop.shape == ph.image.shape and crop.dtype == np.uint8
    grey = crop.astype(float) @ np.array([0.299, 0.587, 0.114])
    # the field of view now touches all four sides
    for edge in (grey[0], grey[-1], grey[:, 0], grey[:, -1]):
        assert edge.max() > 7
    assert (grey > 7).mean() > (ph.image.astype(float) @ np.array([0.299, 0.587, 0.114]) > 7).mean()
    assert (grey > 7).mean() == pytest.approx(np.pi / 4, abs=0.04)  # a disc filling its square
    assert set(masks) == set(ph.masks)
    for k, m in masks.items():
        assert m.dtype == bool and m.shape == (128, 128)
        # areas scale by the zoom factor squared
        top, bottom, left, right = fov_bounding_box(ph.image)
        zoom = 128 * 128 / ((bottom - top) * (right - left))
        assert m.sum() == pytest.approx(ph.masks[k].sum() * zoom, rel=0.12, abs=3), k  # at most 10.6 % (small exudates)


def test_circular_crop_of_an_all_black_image_raises():
    with pytest.raises(ValueError, match="all black"):
        circular_crop(np.zeros((64, 64, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="all black"):
        circular_crop(np.full((64, 64, 3), 5, dtype=np.uint8))  # below the threshold


def test_circular_crop_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="shape"):
        circular_crop(np.ones((64, 64), dtype=np.uint8) * 100)
    img, masks = generate_fundus(0, 2, size=64)
    with pytest.raises(ValueError, match="mask"):
        circular_crop(img, masks={"lesions": masks["lesions"][:10]})


def test_float_image_stays_float():
    img, _ = generate_fundus(1, 1, size=64)
    crop = circular_crop(img.astype(np.float32))
    assert crop.dtype == np.float32 and crop.shape == (64, 64, 3)


# --------------------------------------------------------------------------- data set


def test_make_fundus_set_is_balanced_deterministic_and_cropped_on_request():
    images, grades, masks = make_fundus_set(2, seed=1, size=64)
    assert images.shape == (10, 64, 64, 3) and images.dtype == np.uint8
    assert grades.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert set(masks) == MASK_KEYS and masks["lesions"].shape == (10, 64, 64)
    assert not masks["lesions"][:2].any() and masks["lesions"][2:].any(axis=(1, 2)).all()
    again, _, _ = make_fundus_set(2, seed=1, size=64)
    other, _, _ = make_fundus_set(2, seed=2, size=64)
    assert images.tobytes() == again.tobytes() and images.tobytes() != other.tobytes()
    cropped, g2, m2 = make_fundus_set(2, seed=1, size=64, crop=True)
    assert np.array_equal(g2, grades)
    assert np.array_equal(cropped[3], circular_crop(images[3]))
    assert (cropped[:, 0].max(axis=(1, 2)) > 0).all()


@pytest.mark.parametrize("n, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError)])
def test_make_fundus_set_validates_n(n, error):
    with pytest.raises(error, match="n_per_grade"):
        make_fundus_set(n)


# --------------------------------------------------------------------------- display and Ben Graham's preprocessing


def test_draw_circle_hand_worked():
    from util.data.fundus import draw_circle

    img = np.full((5, 5), 9, np.uint8)
    # centre (2, 2), radius 2.5: only the corners (distance sqrt(8) = 2.83) are outside
    expected = np.full((5, 5), 9, np.uint8)
    expected[[0, 0, 4, 4], [0, 4, 0, 4]] = 0
    np.testing.assert_array_equal(draw_circle(img), expected)
    # radius 0.6 -> 1.5 px: the 3x3 centre block's corners are at sqrt(2) = 1.41 (kept), (0, 2) at 2 (out)
    small = draw_circle(img, radius=0.6, fill=1)
    assert small[1:4, 1:4].tolist() == [[9, 9, 9]] * 3
    assert (small == 9).sum() == 9 and (small == 1).sum() == 16
    # RGB fill, input untouched, dtype kept, rectangles use the shorter side
    rgb = np.full((4, 6, 3), 200.0)
    out = draw_circle(rgb, radius=1.0, fill=(128, 0, 5))
    assert out.dtype == rgb.dtype and (rgb == 200).all()
    assert out[0, 0].tolist() == [128, 0, 5] and out[1, 2].tolist() == [200, 200, 200]
    assert out[:, 0].tolist() == [[128, 0, 5]] * 4  # column 0 is 2.5 px from the centre column 2.5, radius 2


@pytest.mark.parametrize("radius, error", [(0, ValueError), (-1, ValueError), (np.nan, ValueError), (True, TypeError),
                                           ("1", TypeError)])
def test_draw_circle_rejects_bad_radius(radius, error):
    from util.data.fundus import draw_circle

    with pytest.raises(error, match="radius"):
        draw_circle(np.zeros((8, 8)), radius=radius)


def test_draw_circle_on_a_cropped_phantom_blacks_out_only_the_corners():
    from util.data.fundus import draw_circle

    cropped = circular_crop(generate_fundus(3, 2)[0])
    masked = draw_circle(cropped)
    changed = (masked != cropped).any(axis=-1)
    h, w = cropped.shape[:2]
    rows, cols = np.ogrid[:h, :w]
    inside = (rows - (h - 1) / 2) ** 2 + (cols - (w - 1) / 2) ** 2 <= (min(h, w) / 2) ** 2
    assert not changed[inside].any()
    assert (masked[~inside] == 0).all()


def test_subtract_local_average_hand_worked():
    from util.data.fundus import subtract_local_average

    # a flat image has no detail: everything maps to the offset
    flat = np.full((32, 32, 3), 77, np.uint8)
    assert (subtract_local_average(flat) == 128).all()
    # one bright pixel on a flat background: 4 * (x - blur(x)) + 128 at the pixel, below 128 around it
    img = np.full((31, 31), 100.0)
    img[15, 15] = 110.0
    out = subtract_local_average(img, sigmaX=1.0)
    g = np.exp(-0.5 * np.arange(-4, 5) ** 2)
    g /= g.sum()
    blur_at_peak = 100.0 + 10.0 * g[4] ** 2  # separable Gaussian, truncated at 4 sigma as SciPy does
    assert out[15, 15] == pytest.approx(4 * (110.0 - blur_at_peak) + 128, abs=1e-9)
    assert out[15, 16] < 128 and out[0, 0] == pytest.approx(128)
    # clipping to 0-255, and the default sigma is min(H, W) / 60
    step = np.zeros((60, 120))
    step[:, 60:] = 255
    clipped = subtract_local_average(step)
    assert clipped.min() == 0 and clipped.max() == 255
    np.testing.assert_array_equal(clipped, subtract_local_average(step, sigmaX=1.0))


@pytest.mark.parametrize("sigma", [None, 10.0])
def test_subtract_local_average_is_cv2_addweighted_of_gaussianblur(sigma):
    import cv2
    from util.data.fundus import subtract_local_average

    img = circular_crop(generate_fundus(7, 3)[0])
    s = img.shape[0] / 60 if sigma is None else sigma
    f = img.astype(np.float64)
    reference = np.clip(cv2.addWeighted(f, 4, cv2.GaussianBlur(f, (0, 0), s), -4, 128), 0, 255)
    np.testing.assert_allclose(subtract_local_average(f, sigmaX=sigma), reference, atol=1e-9)
    # uint8 in, uint8 out; OpenCV's uint8 blur is rounded to whole grey levels first, then multiplied by 4
    ours = subtract_local_average(img, sigmaX=sigma)
    theirs = cv2.addWeighted(img, 4, cv2.GaussianBlur(img, (0, 0), s), -4, 128)
    assert ours.dtype == np.uint8 and ours.shape == img.shape
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 5


@pytest.mark.parametrize("kwargs, match", [
    ({"sigmaX": 0}, "sigmaX"), ({"sigmaX": -2}, "sigmaX"), ({"sigmaX": np.inf}, "sigmaX"),
])
def test_subtract_local_average_rejects_bad_sigma(kwargs, match):
    from util.data.fundus import subtract_local_average

    with pytest.raises(ValueError, match=match):
        subtract_local_average(np.zeros((8, 8, 3), np.uint8), **kwargs)


@pytest.mark.parametrize("image", [np.zeros((8, 8, 4)), np.zeros(8), np.zeros((8, 8), dtype=bool)])
def test_display_helpers_reject_non_images(image):
    from util.data.fundus import draw_circle, subtract_local_average

    for fn in (draw_circle, subtract_local_average):
        with pytest.raises(ValueError, match="image"):
            fn(image)

"""Unit tests of the chest X-ray phantoms (util.data.phantoms)."""

import numpy as np
import pytest

from util.config.course import LABELS
from util.data import phantoms
from util.data.phantoms import (CM, PREVALENCE, PatientAnatomy, cardiothoracic_ratio, draw_findings, generate_phantom,
                                render_phantom)
from util.data.raster import pixel_grid

# where each finding's mask must lie, as a key of Phantom.anatomy
REGION = {label: "lungs" for label in LABELS}
REGION.update({"Cardiomegaly": "heart", "Effusion": "thorax", "Pleural_Thickening": "thorax",
               "Pneumothorax": "thorax", "Hernia": "thorax"})


def equivalent_diameter_cm(mask, size):
    return 2 * np.sqrt(mask.sum() / np.pi) / size / CM


def test_same_seed_same_bytes_different_seed_differs():
    a, ma = generate_phantom(3)
    b, mb = generate_phantom(3)
    c, _ = generate_phantom(4)
    assert a.tobytes() == b.tobytes()
    assert sorted(ma) == sorted(mb)
    assert all(np.array_equal(ma[k], mb[k]) for k in ma)
    assert a.tobytes() != c.tobytes()


@pytest.mark.parametrize("size", [224, 256, 320])
def test_dtype_shape_and_radiograph_contrast(size):
    ph = render_phantom(11, size=size, findings=[])
    assert ph.image.dtype == np.uint8 and ph.image.shape == (size, size)
    assert ph.masks == {}
    anat = ph.anatomy
    for key in ("thorax", "left_lung", "right_lung", "lungs", "heart"):
        assert anat[key].dtype == bool and anat[key].shape == (size, size) and anat[key].any()
    # white = dense: heart brighter than lungs; lungs inside the thorax
    assert ph.image[anat["heart"]].mean() > ph.image[anat["lungs"]].mean() + 40
    assert not (anat["lungs"] & ~anat["thorax"]).any()
    # radiological convention: the heart bulges to the image's right (patient's left)
    cols = np.flatnonzero(anat["heart"].any(axis=0))
    assert cols.mean() > size / 2
    assert np.flatnonzero(anat["right_lung"].any(axis=0)).mean() < size / 2


@pytest.mark.parametrize("label", LABELS)
def test_forced_finding_mask_nonempty_and_where_it_belongs(label):
    for seed in range(4):
        ph = render_phantom(seed, findings=[label])
        assert list(ph.masks) == [label] and ph.findings == [label]
        mask = ph.masks[label]
        assert mask.dtype == bool and mask.shape == ph.image.shape
        assert mask.sum() >= 20, f"{label} mask nearly empty for seed {seed}"
        region = ph.anatomy[REGION[label]]
        inside = (mask & region).sum() / mask.sum()
        assert inside >= 0.98, f"{label} mask only {inside:.0%} inside {REGION[label]}"


def test_forced_findings_give_exactly_those_masks():
    wanted = ["Effusion", "Edema", "Cardiomegaly"]
    _, masks = generate_phantom(5, findings=wanted)
    assert set(masks) == set(wanted)
    _, masks = generate_phantom(5, findings=[])
    assert masks == {}


def test_findings_change_the_image_where_the_mask_is():
    for label in LABELS:
        normal = render_phantom(7, findings=[]).image.astype(float)
        ph = render_phantom(7, findings=[label])
        diff = np.abs(ph.image.astype(float) - normal)
        mask = ph.masks[label]
        assert diff[mask].mean() > 6, f"{label} barely visible"


def test_hernia_is_retrocardiac_and_low():
    for seed in range(4):
        ph = render_phantom(seed, findings=["Hernia"])
        mask, heart = ph.masks["Hernia"], ph.anatomy["heart"]
        assert (mask & heart).sum() / mask.sum() > 0.8
        assert np.nonzero(mask)[0].mean() > np.nonzero(heart)[0].mean()
        # gas is lucent: darker than the rest of the heart
        assert ph.image[mask].mean() < ph.image[heart & ~mask].mean()


def test_cardiothoracic_ratio():
    for seed in range(6):
        normal = render_phantom(seed, findings=[])
        big = render_phantom(seed, findings=["Cardiomegaly"])
        assert cardiothoracic_ratio(normal.anatomy["heart"], normal.anatomy["thorax"]) < 0.5
        assert cardiothoracic_ratio(big.masks["Cardiomegaly"], big.anatomy["thorax"]) > 0.5


def test_mass_over_3cm_nodule_under_3cm():
    for seed in range(6):
        for size in (224, 320):
            mass = render_phantom(seed, size=size, findings=["Mass"]).masks["Mass"]
            nodule = render_phantom(seed, size=size, findings=["Nodule"]).masks["Nodule"]
            assert equivalent_diameter_cm(mass, size) > 3.0
            assert equivalent_diameter_cm(nodule, size) < 3.0


def test_pneumothorax_rim_is_lucent():
    for seed in range(6):
        ph = render_phantom(seed, findings=["Pneumothorax"])
        rim = ph.masks["Pneumothorax"]
        side = "right_lung" if (rim & ph.anatomy["right_lung"]).sum() > rim.sum() / 2 else "left_lung"
        rest = ph.anatomy[side] & ~rim
        assert ph.image[rim].mean() < ph.image[rest].mean() - 5


def test_emphysema_lungs_are_larger_and_darker():
    normal = render_phantom(2, findings=[])
    emph = render_phantom(2, findings=["Emphysema"])
    assert emph.anatomy["lungs"].sum() > normal.anatomy["lungs"].sum()
    assert emph.image[emph.anatomy["lungs"]].mean() < normal.image[normal.anatomy["lungs"]].mean()


def test_patient_shares_anatomy_across_images():
    patient = PatientAnatomy.from_seed(42)
    a = render_phantom(1, findings=[], patient=patient)
    b = render_phantom(2, findings=[], patient=patient)
    other = render_phantom(3, findings=[], patient=PatientAnatomy.from_seed(43))
    def iou(m, n):
        return (m & n).sum() / (m | n).sum()
    assert iou(a.anatomy["lungs"], b.anatomy["lungs"]) > iou(a.anatomy["lungs"], other.anatomy["lungs"])
    assert iou(a.anatomy["lungs"], b.anatomy["lungs"]) > 0.85
    assert a.image.tobytes() != b.image.tobytes()


def test_drawn_findings_follow_prevalence():
    rng = np.random.default_rng(0)
    n = 20000
    draws = [draw_findings(rng) for _ in range(n)]
    for label, p in PREVALENCE.items():
        freq = sum(label in d for d in draws) / n
        assert abs(freq - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-3, label
    # co-occurrence: Edema comes with Effusion far more often than chance
    with_edema = [d for d in draws if "Edema" in d]
    assert sum("Effusion" in d for d in with_edema) / len(with_edema) > 3 * PREVALENCE["Effusion"]
    counts = np.array([len(d) for d in draws])
    # the expected number of findings per film is the sum of the prevalences (0.735; 0.731 drawn here)
    assert abs(counts.mean() - sum(PREVALENCE.values())) < 4 * counts.std() / np.sqrt(n)
    assert (counts >= 2).mean() > 0.1  # several findings on one film are common (16.6 % here)
    assert any(len(d) >= 3 for d in draws)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(seed=-1), ValueError, "seed must be an int >= 0"),
        (dict(seed=1.5), TypeError, "seed must be an int .*float"),
        (dict(seed=0, size=32), ValueError, "size must be an int >= 64"),
        (dict(seed=0, size=True), TypeError, "size must be an int .*bool"),
        (dict(seed=0, findings=["Nodule", "Tumour"]), ValueError,
         r"unknown finding label\(s\) \['Tumour'\].*Cardiomegaly"),
    ],
)
def test_bad_inputs_raise_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        generate_phantom(**kwargs)


def test_anatomy_masks_step_partitions_the_chest():
    g = phantoms._Geometry(PatientAnatomy(), phantoms._jitter(0), [], {})
    x, y = pixel_grid(128)
    full, anatomy = phantoms._anatomy_masks(g, x, y, 128)
    assert all(mask.any() for mask in anatomy.values())
    right, left, lungs = anatomy["right_lung"], anatomy["left_lung"], anatomy["lungs"]
    assert not (right & left).any()
    np.testing.assert_array_equal(lungs, right | left)
    assert not (lungs & (anatomy["heart"] | anatomy["mediastinum"])).any()
    assert not (right & ~full[-1]).any() and not (left & ~full[1]).any()
    assert not ((lungs | anatomy["heart"]) & ~anatomy["thorax"]).any()


def test_expose_step_film_is_brighter_where_denser():
    films = [phantoms._expose(np.full((64, 64), d), PatientAnatomy(), 1.0, 0) for d in (0.0, 0.3, 0.8)]
    assert all(f.dtype == np.uint8 for f in films)
    means = [f.mean() for f in films]
    assert means[0] < 5 and means[0] < means[1] < means[2]

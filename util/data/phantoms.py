"""Radiograph-like chest X-ray phantoms with a lesion mask per finding.

A phantom is a posteroanterior (PA) chest radiograph drawn from a few smooth
shapes: soft-tissue thorax, two dark lung fields with vessel markings, heart and
mediastinum, spine, posterior ribs, clavicles and diaphragm domes.  Each of the
14 ChestX-ray14 findings is drawn as its radiological sign, and the pixels
where it was drawn are returned as a mask, so that saliency maps such as
Grad-CAM can be scored against the truth.

Conventions
-----------
* Images are ``uint8`` greyscale, white = dense (bone, fluid, soft tissue),
  black = air.  Display convention of a PA film: the patient's right is on the
  image's left, so the heart bulges to the image's right.
* Masks are ``bool`` arrays of the image's shape, True = finding.
* ``right_lung``/``left_lung`` are the patient's right/left lung.
* Geometry is computed in image fractions, so everything scales with ``size``.
  At 320 px one pixel is about 1.1 mm (the image spans about 35 cm).
* Everything is computed in float64 with NumPy/SciPy and quantized once at the
  end, with seeds derived by :class:`numpy.random.SeedSequence`, so the same
  seed gives the same bytes on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from util.config.course import LABELS
from util.config.checks import check_int, check_seed
from util.config.seeding import seeded_rng
from util.data.raster import pixel_grid, smooth_noise, smoothstep, square_window

__all__ = [
    "CM",
    "CO_OCCURRENCE",
    "FIELD_OF_VIEW_CM",
    "MIN_SIZE",
    "PREVALENCE",
    "PatientAnatomy",
    "Phantom",
    "SAMPLING_ORDER",
    "cardiothoracic_ratio",
    "draw_findings",
    "generate_phantom",
    "render_phantom",
]

#: Prevalence of each finding, close to the course's training set.
PREVALENCE = {
    "Infiltration": 0.175,
    "Effusion": 0.128,
    "Atelectasis": 0.106,
    "Nodule": 0.057,
    "Mass": 0.052,
    "Pneumothorax": 0.047,
    "Consolidation": 0.042,
    "Pleural_Thickening": 0.030,
    "Cardiomegaly": 0.025,
    "Emphysema": 0.022,
    "Edema": 0.021,
    "Fibrosis": 0.015,
    "Pneumonia": 0.013,
    "Hernia": 0.002,
}

#: Co-occurrence as a tree: label -> (parent label, risk ratio given the parent).
#: Marginals stay at PREVALENCE (see :func:`draw_findings`).
CO_OCCURRENCE = {
    "Edema": ("Cardiomegaly", 6.0),
    "Effusion": ("Edema", 4.5),
    "Atelectasis": ("Effusion", 2.5),
    "Pneumonia": ("Infiltration", 3.0),
    "Consolidation": ("Pneumonia", 8.0),
    "Nodule": ("Mass", 2.5),
    "Pneumothorax": ("Emphysema", 4.0),
    "Pleural_Thickening": ("Fibrosis", 5.0),
}

#: Labels in an order where every parent comes before its children.
SAMPLING_ORDER = [
    "Cardiomegaly", "Edema", "Effusion", "Atelectasis",
    "Infiltration", "Pneumonia", "Consolidation",
    "Mass", "Nodule", "Emphysema", "Pneumothorax",
    "Fibrosis", "Pleural_Thickening", "Hernia",
]

MIN_SIZE = 64
#: Image width in centimetres assumed for size thresholds (Mass > 3 cm > Nodule).
FIELD_OF_VIEW_CM = 35.0
CM = 1.0 / FIELD_OF_VIEW_CM  # one centimetre in image fractions

# Seed-stream keys: each random decision has its own stream, so adding a
# finding does not change the anatomy or the other findings of an image.
_PATIENT, _FINDINGS, _JITTER, _NOISE, _FINDING0 = 1, 2, 3, 4, 100


def _check_findings(findings):
    if isinstance(findings, str):
        findings = [findings]
    findings = list(findings)
    unknown = [f for f in findings if f not in LABELS]
    if unknown:
        raise ValueError(
            f"unknown finding label(s) {unknown}; valid labels are: {', '.join(LABELS)}"
        )
    # course order, no duplicates
    return [label for label in LABELS if label in findings]


def draw_findings(rng):
    """Draw a set of findings at :data:`PREVALENCE` with realistic co-occurrence.

    Each label either is a root (drawn at its prevalence) or has one parent in
    :data:`CO_OCCURRENCE`; given the parent its probability is multiplied by the
    risk ratio, and without the parent it is lowered so that the marginal
    prevalence stays exact.

    Parameters
    ----------
    rng : numpy.random.Generator

    Returns
    -------
    list of str
        Labels present, in :data:`util.config.course.LABELS` order (possibly empty).
    """
    present = set()
    for label in SAMPLING_ORDER:
        p = PREVALENCE[label]
        if label in CO_OCCURRENCE:
            parent, ratio = CO_OCCURRENCE[label]
            pp = PREVALENCE[parent]
            p = p * ratio if parent in present else p * (1 - ratio * pp) / (1 - pp)
        if rng.random() < p:
            present.add(label)
    return [label for label in LABELS if label in present]


# --------------------------------------------------------------------------- anatomy


@dataclass(frozen=True)
class PatientAnatomy:
    """Per-patient anatomy and acquisition settings (image fractions unless noted).

    Draw one with :meth:`from_seed`; images of the same patient share it and
    differ only by a small per-image jitter (position, inspiration, exposure).
    """

    cx: float = 0.5  #: thorax midline
    apex: float = 0.13  #: top of the lung apices
    half_width: float = 0.37  #: lateral half-width of the lung fields
    base: float = 0.70  #: top of the right hemidiaphragm dome
    left_drop: float = 0.025  #: left dome lies this much lower than the right
    dome: float = 0.055  #: dome height (dome top to costophrenic angle)
    ctr: float = 0.43  #: cardiothoracic ratio of the healthy heart
    heart_tilt: float = 0.5  #: heart long-axis angle below horizontal (rad)
    mediastinum: float = 0.06  #: half-width of the upper mediastinum
    body_margin: float = 0.065  #: soft tissue outside the rib cage
    rib_spacing: float = 0.062  #: vertical spacing of posterior ribs
    rib_phase: float = 0.0  #: rib phase in [0, 1)
    rib_curve: float = 1.0  #: rib arc curvature factor
    clavicle_y: float = 0.165  #: height of the sternal ends of the clavicles
    bone: float = 1.0  #: bone density factor
    markings: float = 1.0  #: vessel-marking strength
    exposure: float = 1.0  #: film darkness factor (higher = darker film)
    gamma: float = 1.0  #: contrast curve exponent
    noise: float = 2.5  #: quantum noise sd in grey levels (at 320 px)
    gastric_bubble: float = 0.0  #: radius of the stomach gas bubble, 0 = none
    vessel_seed: int = 0  #: seed of the vessel-marking pattern

    @classmethod
    def from_seed(cls, seed):
        """Draw a patient's anatomy from ``seed`` (int >= 0)."""
        rng = seeded_rng(check_seed(seed, "patient seed"), _PATIENT)
        n = rng.normal
        u = rng.uniform
        return cls(
            cx=0.5 + n(0, 0.012),
            apex=0.13 + n(0, 0.012),
            half_width=float(np.clip(n(0.37, 0.02), 0.32, 0.42)),
            base=float(np.clip(n(0.70, 0.02), 0.64, 0.75)),
            left_drop=u(0.012, 0.035),
            dome=u(0.04, 0.07),
            ctr=u(0.38, 0.46),
            heart_tilt=u(0.4, 0.6),
            mediastinum=u(0.05, 0.07),
            body_margin=u(0.05, 0.085),
            rib_spacing=u(0.057, 0.067),
            rib_phase=u(0, 1),
            rib_curve=u(0.85, 1.15),
            clavicle_y=u(0.15, 0.18),
            bone=u(0.8, 1.2),
            markings=u(0.8, 1.2),
            exposure=u(0.9, 1.1),
            gamma=u(0.85, 1.15),
            noise=u(1.5, 3.5),
            gastric_bubble=u(0.02, 0.035) if rng.random() < 0.6 else 0.0,
            vessel_seed=int(rng.integers(0, 2**31)),
        )


@dataclass
class Phantom:
    """A rendered phantom.

    Attributes
    ----------
    image : numpy.ndarray
        ``uint8`` (size, size), white = dense.
    masks : dict of str to numpy.ndarray
        One ``bool`` mask per finding present (True = finding).
    anatomy : dict of str to numpy.ndarray
        ``bool`` masks ``thorax`` (inside the rib cage), ``right_lung`` and
        ``left_lung`` (the patient's; visible lung fields), ``lungs``,
        ``heart`` and ``mediastinum``.
    findings : list of str
        Findings present, in :data:`util.config.course.LABELS` order.
    patient : PatientAnatomy
    """

    image: np.ndarray
    masks: dict
    anatomy: dict
    findings: list
    patient: PatientAnatomy = field(repr=False)


def _sub(x, y, sl):
    """The coordinate row and column of window ``sl``."""
    return x[:, sl[1]], y[sl[0], :]


def _resize_linear(a, size):
    """Separable linear resampling of a square array to (size, size), pixel-centre aligned."""
    m = a.shape[0]
    pos = np.clip((np.arange(size) + 0.5) * (m / size) - 0.5, 0.0, m - 1.0)
    i = np.minimum(pos.astype(np.int64), m - 2)
    f = pos - i
    rows = a[i] * (1.0 - f)[:, None] + a[i + 1] * f[:, None]
    return rows[:, i] * (1.0 - f) + rows[:, i + 1] * f


def _point(flat_index, size):
    i, j = divmod(int(flat_index), size)
    return (j + 0.5) / size, (i + 0.5) / size


def _sample_inside(rng, region, radius, tries=80):
    """A random point of ``region`` whose disc of ``radius`` lies inside it.

    Returns the last candidate when none fits, or None when ``region`` is empty.
    """
    size = region.shape[0]
    idx = np.flatnonzero(region)
    if idx.size == 0:
        return None
    x, y = pixel_grid(size)
    for _ in range(tries):
        cx, cy = _point(idx[int(rng.integers(idx.size))], size)
        sl = square_window(size, cx, cy, radius)
        xs, ys = _sub(x, y, sl)
        disc = (xs - cx) ** 2 + (ys - cy) ** 2 < radius * radius
        if region[sl][disc].all():
            break
    return cx, cy


class _Geometry:
    """Image-specific geometry: the patient's anatomy after jitter and findings."""

    def __init__(self, p, jitter, findings, rng_f):
        dx, dy, scale = jitter["dx"], jitter["dy"], jitter["scale"]
        self.scale = scale
        self.cx = 0.5 + (p.cx - 0.5) * scale + dx
        self.apex = 0.5 + (p.apex - 0.5) * scale + dy
        self.hw = p.half_width * scale
        base = 0.5 + (p.base - 0.5) * scale + dy + jitter["inspiration"]
        self.base_r, self.base_l = base, base + p.left_drop * scale
        self.dome = p.dome * scale
        self.ctr = p.ctr
        self.med = p.mediastinum * scale
        if "Emphysema" in findings:  # hyperinflation: low flat diaphragm, narrow heart
            self.hw *= 1.04
            self.base_r += 0.045
            self.base_l += 0.045
            self.dome *= 0.35
            self.ctr *= 0.85
        if "Fibrosis" in findings:  # volume loss
            self.base_r -= 0.02
            self.base_l -= 0.02
        self.atelectasis_side = None
        if "Atelectasis" in findings:  # volume loss: the diaphragm of that side rises
            self.atelectasis_side = -1 if rng_f["Atelectasis"].random() < 0.55 else 1
            if self.atelectasis_side < 0:
                self.base_r -= 0.025
            else:
                self.base_l -= 0.025
        if "Cardiomegaly" in findings:
            self.ctr = rng_f["Cardiomegaly"].uniform(0.56, 0.68)
        self.height = self.base_r - self.apex
        # hila; the left one sits slightly higher
        self.hilum = {
            -1: (self.cx - 0.10 * scale, self.apex + 0.44 * self.height),
            1: (self.cx + 0.09 * scale, self.apex + 0.41 * self.height),
        }

    def base(self, side):
        return self.base_r if side < 0 else self.base_l

    def lung_shape(self, x, y, side, shrink=1.0, center=None):
        """Full outline of one lung (``side`` -1 = patient right = image left).

        With ``shrink`` < 1 the outline is scaled about ``center`` (a collapsed
        lung, the inner edge of a pleural band).
        """
        if shrink != 1.0:
            x = center[0] + (x - center[0]) / shrink
            y = center[1] + (y - center[1]) / shrink
        hw, apex = self.hw, self.apex
        base = self.base(side)
        h = base - apex
        d = side * (x - self.cx)  # row: lateral distance
        top = apex + 2.0 * h * ((d - 0.5 * hw) / hw) ** 2  # rounded apex
        lateral = hw * (1.0 - 0.5 * ((y - apex - 0.65 * h) / h) ** 2)  # column
        dia = base + self.dome * ((d - 0.42 * hw) / (0.58 * hw)) ** 2  # dome, deep lateral angle
        return (y > top) & (d < lateral) & (d > self.med) & (y < dia)

    def heart(self, x, y):
        """Heart silhouette; its horizontal extent is ``ctr`` times the thorax width."""
        width = self.ctr * 2.0 * self.hw
        c, s = np.cos(0.55), np.sin(0.55)
        ratio = 0.72
        a = 0.5 * width / np.sqrt(c * c + ratio * ratio * s * s)
        b = ratio * a
        ev = np.sqrt(a * a * s * s + b * b * c * c)
        hx = self.cx + 0.17 * width
        bottom = self.base_l + 0.3 * self.dome
        hy = bottom - 0.72 * ev
        self.heart_center, self.heart_bottom = (hx, hy), bottom
        u = ((x - hx) * (c / a)) + ((y - hy) * (s / a))
        v = ((y - hy) * (c / b)) - ((x - hx) * (s / b))
        return (u * u + v * v < 1.0) & (y < bottom)

    def mediastinum(self, x, y, heart_top):
        upper = (np.abs(x - self.cx) < self.med) & (y < heart_top + 0.02)
        kx, ky, kr = self.cx + self.med + 0.008, self.apex + 0.2 * self.height, 0.03 * self.scale
        knob = (x - kx) ** 2 + (y - ky) ** 2 < kr * kr  # aortic knob
        return upper | knob


# --------------------------------------------------------------------------- rendering


def render_phantom(seed, size=320, findings=None, patient=None):
    """Render a chest X-ray phantom with its finding masks and anatomy masks.

    Parameters
    ----------
    seed : int
        Image seed (>= 0): findings drawn when ``findings`` is None, their
        placement, position jitter and noise.
    size : int, default 320
        Width and height in pixels (>= 64).
    findings : list of str, optional
        Labels to draw (exactly those). None draws them at :data:`PREVALENCE`
        with co-occurrence (:func:`draw_findings`); ``[]`` gives a normal film.
    patient : PatientAnatomy or int, optional
        The patient's anatomy, or a patient seed. None uses ``seed``, so every
        image is its own patient.

    Returns
    -------
    Phantom

    Raises
    ------
    TypeError
        If ``seed`` or ``size`` is not an int (a bool is not), or ``patient`` is neither a
        :class:`PatientAnatomy` nor an int.
    ValueError
        On a negative ``seed`` or patient seed, ``size`` < 64, or an unknown label.
    """
    seed = check_seed(seed)
    size = check_int(size, "size", minimum=MIN_SIZE, what="the image side in pixels")
    if findings is None:
        findings = draw_findings(seeded_rng(seed, _FINDINGS))
    else:
        findings = _check_findings(findings)
    if patient is None:
        patient = PatientAnatomy.from_seed(seed)
    elif not isinstance(patient, PatientAnatomy):
        patient = PatientAnatomy.from_seed(check_seed(patient, "patient"))
    return _render(seed, size, findings, patient)


def generate_phantom(seed, size=320, findings=None):
    """Generate a chest X-ray phantom and one mask per finding.

    Parameters
    ----------
    seed : int
        Seed (>= 0); the same seed gives the same bytes on any machine.
    size : int, default 320
        Width and height in pixels (>= 64).
    findings : list of str, optional
        Labels to draw (exactly those); None draws them at :data:`PREVALENCE`.

    Returns
    -------
    image : numpy.ndarray
        ``uint8`` (size, size), white = dense.
    masks : dict of str to numpy.ndarray
        ``bool`` (size, size) mask per finding present, True = finding.

    Raises
    ------
    TypeError
        If ``seed`` or ``size`` is not an int (a bool is not).
    ValueError
        On a negative ``seed``, ``size`` < 64, or an unknown label.

    Examples
    --------
    >>> image, masks = generate_phantom(0, findings=["Nodule"])
    >>> image.dtype, image.shape, sorted(masks)
    (dtype('uint8'), (320, 320), ['Nodule'])
    """
    ph = render_phantom(seed, size=size, findings=findings)
    return ph.image, ph.masks


def cardiothoracic_ratio(heart, thorax):
    """Widest horizontal extent of ``heart`` over that of ``thorax`` (bool masks)."""
    def width(mask):
        cols = np.flatnonzero(mask.any(axis=0))
        return cols[-1] - cols[0] + 1 if cols.size else 0

    return width(heart) / max(width(thorax), 1)


def _render(seed, size, findings, p):
    """Render image ``seed`` of patient ``p`` with ``findings`` (arguments already checked).

    The order of the steps is part of the output: it fixes the floating-point sums into
    ``dens``, and ``_Geometry`` draws from a finding's generator before the finding's drawer does.
    """
    x, y = pixel_grid(size)
    jitter = _jitter(seed)
    rng_f = {label: seeded_rng(seed, _FINDING0 + LABELS.index(label)) for label in findings}
    g = _Geometry(p, jitter, findings, rng_f)
    full, anatomy = _anatomy_masks(g, x, y, size)
    emphysema = "Emphysema" in findings
    dens = _soft_tissue(p, g, x, y)
    _add_lungs_and_mediastinum(dens, g, x, y, size, anatomy, emphysema)
    _add_gastric_bubble(dens, p, g, x, y, size)
    bones, marks = _bones_and_markings(p, g, size, emphysema)
    dens += bones
    lung = {-1: anatomy["right_lung"], 1: anatomy["left_lung"]}
    ctx = dict(x=x, y=y, g=g, lung=lung, full=full, lungs=anatomy["lungs"], heart=anatomy["heart"],
               thorax=anatomy["thorax"], size=size)
    masks = _add_findings(dens, marks, findings, rng_f, ctx)
    dens += marks * anatomy["lungs"].astype(np.float64)  # vessel markings show in the lungs only
    image = _expose(dens, p, jitter["exposure"], seed)
    return Phantom(image=image, masks=masks, anatomy=anatomy, findings=list(findings), patient=p)


def _jitter(seed):
    """Per-image position, scale, inspiration and exposure jitter of image ``seed``.

    Returns
    -------
    dict of str to float
        ``dx``, ``dy`` (image fractions), ``scale``, ``inspiration`` (diaphragm shift) and
        ``exposure`` (film darkness factor).
    """
    jr = seeded_rng(seed, _JITTER)
    return {
        "dx": jr.normal(0, 0.008),
        "dy": jr.normal(0, 0.008),
        "scale": 1.0 + jr.normal(0, 0.015),
        "inspiration": jr.normal(0, 0.01),
        "exposure": 1.0 + jr.normal(0, 0.04),
    }


def _anatomy_masks(g, x, y, size):
    """Lung, heart, mediastinum and thorax masks of geometry ``g``.

    Returns
    -------
    full : dict of int to numpy.ndarray
        Each lung's whole outline (-1 = patient right), including the part the heart hides.
    anatomy : dict of str to numpy.ndarray
        The masks of :attr:`Phantom.anatomy`; the visible lungs exclude heart and mediastinum.
    """
    full = {s: g.lung_shape(x, y, s) for s in (-1, 1)}
    heart = g.heart(x, y)
    rows = np.flatnonzero(heart.any(axis=1))
    heart_top = (rows[0] + 0.5) / size if rows.size else g.apex + 0.4 * g.height
    mediast = g.mediastinum(x, y, heart_top) & ~heart
    central = heart | mediast
    lung = {s: full[s] & ~central for s in (-1, 1)}
    cage = full[-1] | full[1] | heart
    # each row filled between the cage's outermost pixels
    thorax = np.maximum.accumulate(cage, axis=1) & np.maximum.accumulate(cage[:, ::-1], axis=1)[:, ::-1]
    anatomy = {
        "thorax": thorax,
        "right_lung": lung[-1],
        "left_lung": lung[1],
        "lungs": lung[-1] | lung[1],
        "heart": heart,
        "mediastinum": mediast,
    }
    return full, anatomy


def _soft_tissue(p, g, x, y):
    """Density of the body's soft tissue: a cylinder-like body, thicker in the middle, zero outside."""
    yc = y[:, 0]
    widen = 0.10 * np.clip((g.apex + 0.06 - yc) / 0.15, 0.0, 1.0)
    narrow = 0.05 * np.clip((yc - g.base_r) / 0.3, 0.0, 1.0)
    half_body = ((g.hw + p.body_margin * g.scale) * (1.0 + widen - narrow))[:, None]
    t = 1.0 - ((x - g.cx) / half_body) ** 2
    np.clip(t, 0.0, None, out=t)
    return 0.26 * np.sqrt(t) + 0.16 * (t > 0)


def _add_lungs_and_mediastinum(dens, g, x, y, size, anatomy, emphysema):
    """Draw the lungs' and the trachea's air and the denser heart and mediastinum into ``dens`` (in place)."""
    yc = y[:, 0]
    # air replaces tissue; thin lung edges are less lucent
    lung_f = anatomy["lungs"].astype(np.float64)
    depth = ndimage.uniform_filter(lung_f, size=max(3, int(0.06 * size) | 1), mode="constant")
    lower = (0.9 + 0.1 * smoothstep((g.base_r - yc) / (0.5 * g.height)))[:, None]  # soft tissue over the bases
    lucency = (0.36 if emphysema else 0.30) * (0.5 + 0.5 * depth) * lower
    dens -= lucency * lung_f
    dens += 0.04 * anatomy["heart"] + 0.02 * anatomy["mediastinum"]
    # trachea: air column in the upper mediastinum
    carina = g.apex + 0.3 * g.height
    tr = (np.abs(x - g.cx - 0.003) < 0.016 * g.scale) & (y < carina)
    dens -= 0.09 * tr * np.clip((carina - y) / 0.04, 0.0, 1.0)


def _add_gastric_bubble(dens, p, g, x, y, size):
    """Draw the stomach's gas bubble under the left hemidiaphragm (normal anatomy) into ``dens`` (in place)."""
    if p.gastric_bubble <= 0:
        return
    r = p.gastric_bubble * g.scale
    gx, gy = g.cx + 0.5 * g.hw, g.base_l + g.dome * 0.5 + 0.7 * r + 0.02
    sl = square_window(size, gx, gy, 1.3 * r)
    xs, ys = _sub(x, y, sl)
    q = ((xs - gx) / (1.3 * r)) ** 2 + ((ys - gy) / r) ** 2
    dens[sl] -= 0.08 * ((q < 1) & (ys < gy + 0.3 * r))


def _bones_and_markings(p, g, size, emphysema):
    """Bone density and vessel markings, each (size, size).

    Both are smooth, so they are drawn at half resolution and resized.
    """
    half = max(size // 2, MIN_SIZE // 2)
    hx, hy = pixel_grid(half)
    bones = _resize_linear(p.bone * _bones(hx, hy, g, half), size)
    marking_scale = p.markings * (0.5 if emphysema else 1.0)
    marks = _resize_linear(marking_scale * _markings(p, g, hx, hy, half), size)
    return bones, marks


def _add_findings(dens, marks, findings, rng_f, ctx):
    """Draw each finding into ``dens`` and clear ``marks`` where it hides them (both in place).

    Returns
    -------
    dict of str to numpy.ndarray
        The mask of each finding, in the order of ``findings``.
    """
    masks = {}
    for label in findings:
        mask, add, no_marks = _FINDING_DRAWERS[label](rng_f[label], ctx)
        masks[label] = mask
        if add is not None:
            dens += add
        if no_marks is not None:
            marks[no_marks] = 0.0
    return masks


def _expose(dens, p, exposure, seed):
    """The ``uint8`` film of density map ``dens``.

    Anti-aliases every edge at once, then applies exponential attenuation, the patient's contrast
    curve and quantum noise (stream ``_NOISE`` of ``seed``), and quantizes.
    """
    size = dens.shape[0]
    dens = ndimage.gaussian_filter(dens, sigma=0.0035 * size, mode="nearest", truncate=3.0)
    k = 2.6 / (p.exposure * exposure)
    img = 1.0 - np.exp(-k * np.clip(dens, 0.0, None))
    img = 255.0 * img ** p.gamma
    noise = seeded_rng(seed, _NOISE).standard_normal((size, size))
    img += p.noise * (0.4 + 0.6 / 255.0 * img) * noise
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _bones(x, y, g, size):
    """Density of spine, posterior and anterior ribs, and clavicles."""
    s = g.scale
    xr, yc = x[0], y[:, 0]
    d = np.abs(xr - g.cx)
    dn = d / g.hw
    # spine: vertebral bodies with darker disc spaces (separable)
    spine_w = 0.032 * s
    prof = np.sqrt(np.clip(1.0 - (d / spine_w) ** 2, 0.0, 1.0))
    vert = 0.8 + 0.2 * smoothstep((np.cos(2 * np.pi * (yc - g.apex) / (0.075 * s)) + 0.6) / 0.4)
    out = 0.15 * vert[:, None] * prof[None, :]
    # posterior ribs: arcs rising slightly from the spine, then falling laterally
    arc = g.hw * (-0.1 * dn + 0.5 * dn * dn)
    k = (y - arc[None, :] - (g.apex - 0.035)) / (0.062 * s)
    k *= 1.0 - 0.012 * k  # ribs a little wider apart lower down
    rib = smoothstep((np.cos(2 * np.pi * k) - 0.2) / 0.5)
    zx = smoothstep((d - 0.7 * spine_w) / (0.03 * s)) * smoothstep((1.05 * g.hw - d) / (0.03 * s))
    zx *= 1.0 - 0.4 * smoothstep((dn - 0.5) / 0.5)
    zy = smoothstep((yc - g.apex + 0.06) / 0.04) * (1.0 - 0.75 * smoothstep((yc - g.base_r + 0.02) / 0.08))
    out += 0.055 * rib * (zy[:, None] * zx[None, :])
    # anterior ribs: fainter, sloping down towards the midline
    ka = (y + 0.45 * d[None, :] - (g.apex + 0.05)) / (0.07 * s)
    ant = smoothstep((np.cos(2 * np.pi * ka) - 0.5) / 0.4)
    zxa = smoothstep((d - 0.15) / 0.05) * smoothstep((g.hw - d) / 0.03)
    zya = smoothstep((yc - g.apex) / 0.04) * (1.0 - smoothstep((yc - g.apex - 0.35) / 0.1))
    out += 0.025 * ant * (zya[:, None] * zxa[None, :])
    # clavicles: from the sternal ends out to the shoulders, rising slightly
    for side in (-1, 1):
        x0, y0 = g.cx + side * 0.03 * s, g.apex + 0.035 * s
        x1, y1 = g.cx + side * 0.33 * s, g.apex - 0.01 * s
        sl = square_window(size, 0.5 * (x0 + x1), 0.5 * (y0 + y1), 0.2 * s)
        xs, ys = _sub(x, y, sl)
        vx, vy = x1 - x0, y1 - y0
        tt = np.clip(((xs - x0) * vx + (ys - y0) * vy) / (vx * vx + vy * vy), 0.0, 1.0)
        cy = y0 + tt * vy - 0.05 * s * tt * (1.0 - tt) * (tt - 0.35)  # gentle S-shape
        dist2 = ((xs - x0 - tt * vx) ** 2 + (ys - cy) ** 2) / (0.012 * s) ** 2
        out[sl] += 0.17 * np.sqrt(np.clip(1.0 - dist2, 0.0, 1.0))
    return out


def _markings(p, g, x, y, size):
    """Vessel markings radiating from the hila, fading towards the periphery."""
    rng = np.random.default_rng(np.random.SeedSequence([p.vessel_seed, 7]))
    out = np.zeros((size, size))
    nb = 512
    ang = np.linspace(-np.pi, np.pi, nb, endpoint=False)
    for side in (-1, 1):
        hx, hy = g.hilum[side]
        sl = square_window(size, hx, hy, 0.38)
        xs, ys = _sub(x, y, sl)
        dx, dy = xs - hx, ys - hy
        r = np.sqrt(dx * dx + dy * dy)
        theta = np.arctan2(dy, dx) + (1.2 * side) * r  # gentle curl
        lut = np.zeros(nb)
        for c in rng.uniform(-np.pi, np.pi, 22):
            w = rng.uniform(0.015, 0.035)
            dd = (ang - c + np.pi) % (2 * np.pi) - np.pi
            lut += rng.uniform(0.5, 1.0) * np.exp(-0.5 * (dd / w) ** 2)
        idx = ((theta * (nb / (2 * np.pi))).astype(np.int64) + nb // 2) % nb
        out[sl] += ((0.08 * np.minimum(lut, 1.2))[idx] * np.exp(-r * (1 / 0.12))
                    + 0.05 * np.exp(-r * r * (0.5 / 0.035**2)))
    out += 0.015 * smooth_noise(rng, (size, size), 0.025 * size)
    return out


# --------------------------------------------------------------------------- findings
# Each drawer returns (mask, density to add or None, where vessel markings vanish or None).


def _side(rng, p_right=0.5):
    return -1 if rng.random() < p_right else 1


def _blob(ctx, cx, cy, radius, allowed, lobulation=0.0, phases=(0.0, 0.0)):
    """Mask and sphere-like profile of a (lobulated) disc, both full-size."""
    x, y, size = ctx["x"], ctx["y"], ctx["size"]
    sl = square_window(size, cx, cy, radius * (1 + 2 * lobulation) + 2.0 / size)
    xs, ys = _sub(x, y, sl)
    dx, dy = xs - cx, ys - cy
    rad = radius
    if lobulation:
        a = np.arctan2(dy, dx)
        rad = radius * (1 + lobulation * (0.6 * np.cos(3 * a + phases[0]) + 0.4 * np.cos(5 * a + phases[1])))
    q2 = (dx * dx + dy * dy) / (rad * rad)
    mask = np.zeros((size, size), dtype=bool)
    mask[sl] = (q2 < 1.0) & allowed[sl]
    prof = np.zeros((size, size))
    prof[sl] = np.sqrt(np.clip(1.0 - q2, 0.0, 1.0))
    return mask, prof


def _draw_cardiomegaly(rng, ctx):
    return ctx["heart"].copy(), None, None


def _draw_nodule(rng, ctx):
    radius = 0.5 * rng.uniform(0.9, 1.9) * CM  # 8-17 px at 320 px, under 3 cm
    cx, cy = _sample_inside(rng, ctx["lungs"], radius * 1.2)
    mask, prof = _blob(ctx, cx, cy, radius, ctx["lungs"], 0.05, rng.uniform(0, 6.3, 2))
    return mask, 0.30 * np.sqrt(prof), None


def _draw_mass(rng, ctx):
    radius = 0.5 * rng.uniform(3.6, 5.8) * CM  # over 3 cm
    cx, cy = _sample_inside(rng, ctx["lungs"], radius * 1.25)
    mask, prof = _blob(ctx, cx, cy, radius, ctx["lungs"], 0.1, rng.uniform(0, 6.3, 2))
    return mask, 0.26 * np.sqrt(prof), None


def _draw_effusion(rng, ctx):
    g, x, y = ctx["g"], ctx["x"], ctx["y"]
    r = rng.random()
    sides = [-1] if r < 0.45 else [1] if r < 0.8 else [-1, 1]
    mask = np.zeros(ctx["lungs"].shape, dtype=bool)
    dens = np.zeros(mask.shape)
    for s in sides:
        d = s * (x - g.cx)
        level = g.base(s) - rng.uniform(0.2, 0.4) * g.height
        # meniscus: concave upwards, the fluid climbs highest along the lateral chest wall
        men = level + rng.uniform(0.09, 0.14) * np.clip((g.hw - d) / (0.8 * g.hw), 0.0, 1.0) ** 2
        region = ctx["lung"][s] & (y > men)
        mask |= region
        dens += (0.32 * region) * (0.55 + 0.45 * smoothstep((y - men) / 0.04))
    return mask, dens, mask


def _draw_pneumothorax(rng, ctx):
    g, x, y = ctx["g"], ctx["x"], ctx["y"]
    s = _side(rng, 0.55)
    hx, hy = g.hilum[s]
    shrink = rng.uniform(0.76, 0.87)
    collapsed = g.lung_shape(x, y, s, shrink=shrink, center=(hx, g.base(s)))
    lung = ctx["lung"][s]
    # the air rim lies apically and laterally, not along the mediastinum
    rim = lung & ~collapsed & ((s * (x - hx) > 0) | (y < hy - 0.12))
    inner = lung & collapsed
    # visible pleural line: the edge of the collapsed lung next to the rim
    line = inner & ~ndimage.binary_erosion(inner) & ndimage.binary_dilation(rim)
    dens = -0.08 * rim + 0.03 * inner + 0.16 * line
    return rim, dens, rim


def _draw_edema(rng, ctx):
    g, x, y, size = ctx["g"], ctx["x"], ctx["y"], ctx["size"]
    lungs = ctx["lungs"]
    mask = np.zeros(lungs.shape, dtype=bool)
    soft = np.zeros(lungs.shape)
    for s in (-1, 1):
        hx, hy = g.hilum[s]
        bx, by = hx + s * 0.05, hy + 0.01
        rx, ry = rng.uniform(0.12, 0.16), rng.uniform(0.13, 0.17)
        q = np.sqrt(((x - bx) / rx) ** 2 + ((y - by) / ry) ** 2)
        mask |= (q < 1.0) & lungs
        soft += smoothstep((1.2 - q) / 0.55)
    tex = 0.85 + 0.2 * np.clip(smooth_noise(rng, lungs.shape, 0.03 * size), -1.0, 1.0)
    return mask, 0.17 * soft * tex * lungs, None


def _draw_emphysema(rng, ctx):
    return ctx["lungs"].copy(), None, None


def _draw_hernia(rng, ctx):
    g, x, y, size = ctx["g"], ctx["x"], ctx["y"], ctx["size"]
    rad = rng.uniform(0.035, 0.05) * g.scale
    hx, _ = g.heart_center
    cx = hx + rng.uniform(-0.05, -0.01)
    cy = g.heart_bottom - 1.15 * rad
    sl = square_window(size, cx, cy, 1.2 * rad + 2.0 / size)
    xs, ys = _sub(x, y, sl)
    q = ((xs - cx) ** 2 + (ys - cy) ** 2) / rad ** 2
    disc = q < 1.0
    gas = disc & (ys < cy + rng.uniform(0.1, 0.35) * rad)  # air-fluid level
    mask = np.zeros(ctx["lungs"].shape, dtype=bool)
    mask[sl] = disc
    dens = np.zeros(mask.shape)
    dens[sl] = -0.2 * gas + 0.03 * (disc & ~gas) + 0.05 * ((q >= 1.0) & (q < 1.3))
    return mask, dens, None


def _zone(rng, ctx, rx_range, ry_range, lower_bias=0.0):
    """An elliptical zone centred in one lung: (side, cx, cy, rx, ry)."""
    g, y = ctx["g"], ctx["y"]
    s = _side(rng)
    lung = ctx["lung"][s]
    region = lung
    if rng.random() < lower_bias:
        low = lung & (y > g.apex + 0.5 * g.height)
        region = low if low.any() else lung
    cx, cy = _sample_inside(rng, region, 0.035)
    return s, cx, cy, rng.uniform(*rx_range), rng.uniform(*ry_range)


def _draw_infiltration(rng, ctx):
    x, y, size = ctx["x"], ctx["y"], ctx["size"]
    s, cx, cy, rx, ry = _zone(rng, ctx, (0.07, 0.11), (0.07, 0.11), lower_bias=0.5)
    sl = square_window(size, cx, cy, 1.3 * max(rx, ry))
    xs, ys = _sub(x, y, sl)
    q = np.sqrt(((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2)
    n = smooth_noise(rng, q.shape, 0.025 * size)
    patchy = smoothstep((n + 0.5) / 1.2) * smoothstep((1.15 - q) / 0.45)
    lung = ctx["lung"][s][sl]
    mask = np.zeros(ctx["lungs"].shape, dtype=bool)
    mask[sl] = (q < 1.0) & lung
    dens = np.zeros(mask.shape)
    dens[sl] = ndimage.gaussian_filter(0.22 * patchy, 0.006 * size, truncate=2.5) * lung
    return mask, dens, None


def _draw_pneumonia(rng, ctx):
    x, y, size = ctx["x"], ctx["y"], ctx["size"]
    s, cx, cy, rx, ry = _zone(rng, ctx, (0.08, 0.12), (0.07, 0.11), lower_bias=0.7)
    sl = square_window(size, cx, cy, 1.4 * max(rx, ry))
    xs, ys = _sub(x, y, sl)
    shape = (sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
    q = np.sqrt(((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2) + 0.2 * smooth_noise(rng, shape, 0.035 * size)
    fine = 0.85 + 0.15 * np.clip(smooth_noise(rng, shape, 0.012 * size), -1.0, 1.0)
    lung = ctx["lung"][s][sl]
    mask = np.zeros(ctx["lungs"].shape, dtype=bool)
    mask[sl] = (q < 1.0) & lung
    dens = np.zeros(mask.shape)
    dens[sl] = ndimage.gaussian_filter(0.27 * smoothstep((1.25 - q) / 0.5) * fine, 0.005 * size, truncate=2.5) * lung
    return mask, dens, None


def _draw_consolidation(rng, ctx):
    g, x, y, size = ctx["g"], ctx["x"], ctx["y"], ctx["size"]
    s = _side(rng, 0.6)
    hx, hy = g.hilum[s]
    lobe = ["upper", "lower", "middle"][int(rng.integers(3 if s < 0 else 2))]
    lung = ctx["lung"][s]
    d = s * (x - g.cx)
    if lobe == "upper":
        region = lung & (y < hy - 0.005)  # sharp lower edge along the fissure
        fc = (g.cx + s * 0.55 * g.hw, g.apex + 0.5 * (hy - g.apex))
    elif lobe == "middle":
        region = lung & (y > hy) & (d < 0.75 * g.hw)
        fc = (g.cx + s * 0.35 * g.hw, hy + 0.1)
    else:
        region = lung & (y > hy + 0.03)
        fc = (g.cx + s * 0.6 * g.hw, g.base(s) - 0.05)
    rx, ry = rng.uniform(0.15, 0.2), rng.uniform(0.11, 0.15)
    q = np.sqrt(((x - fc[0]) / rx) ** 2 + ((y - fc[1]) / ry) ** 2)
    mask = region & (q < 1.0)
    if not mask.any():
        mask = region.copy()
    dens = 0.36 * smoothstep((1.15 - q) / 0.3) * region
    # air bronchograms: dark tubes pointing away from the hilum
    if rng.random() < 0.7:
        base_ang = np.arctan2(fc[1] - hy, fc[0] - hx)
        sl = square_window(size, fc[0], fc[1], 0.07)
        xs, ys = _sub(x, y, sl)
        for ang in base_ang + rng.uniform(-0.5, 0.5, 3):
            vx, vy = 0.1 * np.cos(ang), 0.1 * np.sin(ang)
            x0, y0 = fc[0] - 0.5 * vx, fc[1] - 0.5 * vy
            t = np.clip(((xs - x0) * vx + (ys - y0) * vy) / (vx * vx + vy * vy), 0.0, 1.0)
            dist = np.sqrt((xs - x0 - t * vx) ** 2 + (ys - y0 - t * vy) ** 2)
            w = 0.005 * (1.3 - t) + 1.0 / size
            dens[sl] -= 0.09 * smoothstep((w - dist) / w) * mask[sl]
    return mask, dens, mask


def _draw_atelectasis(rng, ctx):
    g, x, y, size = ctx["g"], ctx["x"], ctx["y"], ctx["size"]
    s = g.atelectasis_side
    lung = ctx["lung"][s]
    low = lung & (y > g.apex + 0.45 * g.height) & (y < g.base(s) - 0.03)
    cx, cy = _sample_inside(rng, low if low.any() else lung, 0.04)
    rx, ry = rng.uniform(0.07, 0.12), rng.uniform(0.011, 0.018)
    ang = rng.uniform(-0.35, 0.35)
    c, sn = np.cos(ang), np.sin(ang)
    sl = square_window(size, cx, cy, 1.2 * rx)
    xs, ys = _sub(x, y, sl)
    u = (xs - cx) * c + (ys - cy) * sn
    v = (ys - cy) * c - (xs - cx) * sn
    q = np.sqrt((u / rx) ** 2 + (v / ry) ** 2)
    mask = np.zeros(lung.shape, dtype=bool)
    mask[sl] = (q < 1.0) & lung[sl]
    dens = np.zeros(lung.shape)
    dens[sl] = 0.26 * smoothstep((1.15 - q) / 0.35) * lung[sl]
    return mask, dens, None


def _draw_pleural_thickening(rng, ctx):
    g, x, y = ctx["g"], ctx["x"], ctx["y"]
    s = _side(rng)
    apical = rng.random() < 0.5
    hx, hy = g.hilum[s]
    shrink = 1.0 - rng.uniform(0.08, 0.11)
    inner = g.lung_shape(x, y, s, shrink=shrink, center=(g.cx + s * 0.5 * g.hw, hy))
    lung = ctx["lung"][s]
    band = lung & ~inner
    if apical:
        band &= y < g.apex + 0.25 * g.height
    else:
        band &= (y > g.apex + 0.2 * g.height) & (y < g.base(s) - 0.05) & (s * (x - g.cx) > 0.6 * g.hw)
    if not band.any():
        band = lung & ~inner
    # Denser than the chest wall and lumpy (plaque-like): a uniform band of soft-tissue
    # density only looks like a smaller lung, which no model can tell from anatomy.
    lumps = 0.85 + 0.3 * np.clip(smooth_noise(rng, band.shape, 0.03 * ctx["size"]), -1.0, 1.0)
    return band, 0.36 * lumps * band, None


def _draw_fibrosis(rng, ctx):
    g, x, y, size = ctx["g"], ctx["x"], ctx["y"], ctx["size"]
    lungs = ctx["lungs"]
    zone = lungs & (y > g.apex + 0.45 * g.height) & (np.abs(x - g.cx) > 0.45 * g.hw)
    # reticulation: the zero lines of two smooth noises form a net
    cell = 0.024 * size
    n1 = np.abs(smooth_noise(rng, lungs.shape, cell))
    n2 = np.abs(smooth_noise(rng, lungs.shape, cell))
    net = np.clip(1.0 - np.minimum(n1, n2) * (1 / 0.22), 0.0, 1.0)
    soft = ndimage.uniform_filter(zone.astype(np.float64), size=max(3, int(0.03 * size) | 1))
    return zone, 0.12 * net * soft * lungs, None


_FINDING_DRAWERS = {
    "Cardiomegaly": _draw_cardiomegaly,
    "Emphysema": _draw_emphysema,
    "Effusion": _draw_effusion,
    "Hernia": _draw_hernia,
    "Infiltration": _draw_infiltration,
    "Mass": _draw_mass,
    "Nodule": _draw_nodule,
    "Atelectasis": _draw_atelectasis,
    "Pneumothorax": _draw_pneumothorax,
    "Pleural_Thickening": _draw_pleural_thickening,
    "Pneumonia": _draw_pneumonia,
    "Fibrosis": _draw_fibrosis,
    "Edema": _draw_edema,
    "Consolidation": _draw_consolidation,
}

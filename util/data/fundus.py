"""Retinal fundus phantoms with diabetic-retinopathy lesions in five grades.

A phantom is a colour fundus photograph drawn from a few smooth shapes: an
orange-red fundus inside a circular field of view on a black border, the
optic disc (bright, yellowish, with a paler cup), branching vessels (dark red
veins and lighter, thinner arteries) leaving the disc in four arcades, and the
macula (a darker zone with the fovea at its centre, temporal to the disc).
Diabetic-retinopathy lesions are drawn on top according to a grade of the
International Clinical Diabetic Retinopathy (ICDR) scale, and the pixels of
every lesion are returned as masks, so that a saliency map such as Grad-CAM
can be scored against the truth.

Grades (:data:`GRADES`, :data:`GRADE_NAMES`)
---------------------------------------------
====  ==================  ======================================================
0     No DR               no lesion
1     Mild NPDR           microaneurysms only (3-7 tiny dark red dots)
2     Moderate NPDR       7-15 microaneurysms, 2-8 dot and blot haemorrhages,
                          hard exudates in most eyes (yellow specks in a
                          cluster or a circinate ring near the macula)
3     Severe NPDR         12-23 microaneurysms, 4-7 haemorrhages in *each*
                          quadrant, 2-4 cotton-wool spots (fluffy white), venous
                          beading of the temporal veins in 40 % of eyes
4     Proliferative DR    as grade 3 and more (5-9 haemorrhages per quadrant,
                          3-5 cotton-wool spots, beading in 70 %), plus new
                          vessels (fine tortuous vessels on the disc in 70 % of
                          eyes and/or in tufts along the arcades) and, in 45 %,
                          a boat-shaped preretinal haemorrhage
====  ==================  ======================================================

The lesions of one seed are *nested* across grades: the same eye drawn at grade
``k + 1`` has every lesion it had at grade ``k`` plus new ones (the counts of a
seed are monotone in the grade), so ``generate_fundus(s, g)`` for g = 0..4
shows one eye's disease progressing and its lesion area never shrinks.

Conventions
-----------
* Images are ``uint8`` RGB of shape (size, size, 3). Outside the circular
  field of view every pixel is exactly 0 (black).
* Masks are ``bool`` arrays of shape (size, size), True = lesion; they lie
  inside the field of view.
* Eye side: a right eye (``"OD"``) has its optic disc on the image's right
  (nasal side) and the macula to its left (temporal), as a fundus photograph is
  viewed; a left eye (``"OS"``) is the mirror image.
* Geometry is computed in fractions of the image (and of the field-of-view
  radius ``R``), so a seed gives the same eye at every size. Haemorrhages,
  exudates and cotton-wool spots have about life size (relative to the disc);
  microaneurysms (0.2-0.35 disc radii across) and vessels are drawn several
  times larger than life so that they stay visible at 128 px.
* Everything is computed in float64 with NumPy/SciPy and quantised once at the
  end, with seeds derived by :class:`numpy.random.SeedSequence`, so the same
  seed gives the same bytes on any machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from util.config.checks import check_int, check_number, check_seed
from util.config.seeding import seeded_rng
from util.data.raster import pixel_grid, smooth_noise, smoothstep, square_window

__all__ = [
    "DEFINING_LESIONS",
    "GRADES",
    "GRADE_NAMES",
    "LESION_TYPES",
    "EyeAnatomy",
    "FundusPhantom",
    "circular_crop",
    "draw_circle",
    "fov_bounding_box",
    "generate_fundus",
    "make_fundus_set",
    "render_fundus",
    "subtract_local_average",
]

#: The ICDR grades, 0 (no retinopathy) to 4 (proliferative).
GRADES = (0, 1, 2, 3, 4)
#: Name of each grade, indexed by grade.
GRADE_NAMES = ("No DR", "Mild NPDR", "Moderate NPDR", "Severe NPDR", "Proliferative DR")
#: Lesion types, each a key of the masks returned by :func:`generate_fundus`
#: (plus ``"lesions"``, their union). Every key is always present.
LESION_TYPES = (
    "microaneurysms",
    "haemorrhages",
    "hard_exudates",
    "cotton_wool_spots",
    "venous_beading",
    "new_vessels",
    "preretinal_haemorrhage",
)
#: The lesion types that first appear at each grade (what distinguishes it from the grade
#: below): the region a saliency map for "grade >= k" should point at.
DEFINING_LESIONS = {
    1: ("microaneurysms",),
    2: ("haemorrhages", "hard_exudates"),
    3: ("haemorrhages", "cotton_wool_spots", "venous_beading"),
    4: ("new_vessels", "preretinal_haemorrhage"),
}
MIN_SIZE = 64

# Seed-stream keys: each random decision has its own stream, so the eye does not
# depend on the grade and lesion i of a type does not depend on how many there are.
_EYE, _VESSELS, _COUNTS, _TEXTURE, _NOISE = 1, 2, 3, 4, 5
_MA, _HAEM, _EXUDATE, _CWS, _NVD, _NVE, _PRERETINAL, _SET = 10, 11, 12, 13, 14, 15, 16, 20

# Colours (linear RGB in [0, 1]) before illumination.
_VEIN = (0.46, 0.09, 0.06)
_ARTERY = (0.68, 0.18, 0.10)
_MA_RGB = (0.40, 0.05, 0.04)
_HAEM_RGB = (0.38, 0.05, 0.04)
_EXUDATE_RGB = (1.0, 0.90, 0.45)
_CWS_RGB = (0.96, 0.92, 0.84)
_NV_RGB = (0.80, 0.15, 0.12)
_PRERETINAL_RGB = (0.36, 0.04, 0.03)


def _check_grade(grade):
    ok = isinstance(grade, (int, np.integer)) and not isinstance(grade, (bool, np.bool_))
    if not ok or int(grade) not in GRADES:
        raise ValueError(f"grade must be one of {GRADES} (ICDR: {', '.join(GRADE_NAMES)}); got {grade!r}")
    return int(grade)


def _check_size(size):
    return check_int(size, "size", minimum=MIN_SIZE, what="the image side in pixels")


# --------------------------------------------------------------------------- small helpers


@lru_cache(maxsize=256)
def _gamma_lut(gamma):
    """uint8 table of ``round(255 * (i / 4095) ** gamma)`` for i in 0..4095."""
    lut = np.clip(np.round(255.0 * (np.arange(4096) / 4095.0) ** gamma), 0, 255).astype(np.uint8)
    lut.flags.writeable = False
    return lut


def _over(img, alpha, rgb):
    """Composite a flat colour with opacity ``alpha`` (H, W) over ``img`` (H, W, 3), in place."""
    rows = np.flatnonzero(alpha.any(axis=1))
    if rows.size == 0:
        return
    sl = slice(rows[0], rows[-1] + 1)
    a, img = alpha[sl, :, None], img[sl]
    img *= 1.0 - a
    img += a * np.asarray(rgb, dtype=np.float64)


# --------------------------------------------------------------------------- anatomy


@dataclass(frozen=True)
class EyeAnatomy:
    """One eye's anatomy and acquisition settings (image fractions; ``R`` = FOV radius).

    Draw one with :meth:`from_seed`. Coordinates are those of a right eye
    (disc on the image's right); a left eye is mirrored when rendered.
    """

    eye: str = "OD"  #: "OD" (right eye) or "OS" (left eye, rendered mirrored)
    fov_cx: float = 0.5  #: centre of the circular field of view
    fov_cy: float = 0.5
    fov_r: float = 0.45  #: its radius R (image fraction)
    fovea_dx: float = 0.0  #: fovea offset from the FOV centre (units of R)
    fovea_dy: float = 0.02
    disc_dist: float = 0.57  #: disc centre: this far nasal of the fovea (units of R)
    disc_dy: float = -0.07  #: and this much below it (negative = above; units of R)
    disc_r: float = 0.14  #: disc radius (units of R)
    cup: float = 0.4  #: cup-to-disc ratio
    pigment: float = 0.5  #: fundus pigmentation, 0 = light orange, 1 = dark brown-red
    macula_dark: float = 0.3  #: darkening of the macula
    vignette: float = 0.4  #: illumination fall-off towards the FOV edge
    gradient: float = 0.08  #: strength of a linear illumination gradient
    gradient_angle: float = 0.0  #: its direction (rad)
    brightness: float = 1.0
    gamma: float = 1.0
    noise: float = 0.012  #: sensor noise sd (fraction of full scale)
    vessel_seed: int = 0  #: seed of the vessel tree

    @classmethod
    def from_seed(cls, seed):
        """Draw an eye from ``seed`` (int >= 0)."""
        rng = seeded_rng(check_seed(seed), _EYE)
        u, n = rng.uniform, rng.normal
        return cls(
            eye="OD" if rng.random() < 0.5 else "OS",
            fov_cx=0.5 + n(0, 0.012),
            fov_cy=0.5 + n(0, 0.012),
            fov_r=u(0.40, 0.475),
            fovea_dx=n(0, 0.035),
            fovea_dy=n(0.02, 0.03),
            disc_dist=u(0.52, 0.62),
            disc_dy=u(-0.12, -0.02),
            disc_r=u(0.12, 0.155),
            cup=u(0.3, 0.55),
            pigment=u(0.0, 1.0),
            macula_dark=u(0.25, 0.45),
            vignette=u(0.25, 0.55),
            gradient=u(0.0, 0.15),
            gradient_angle=u(0.0, 2 * np.pi),
            brightness=u(0.85, 1.1),
            gamma=u(0.9, 1.12),
            noise=u(0.006, 0.018),
            vessel_seed=int(rng.integers(0, 2**31)),
        )

    # derived geometry (right-eye coordinates, image fractions)
    @property
    def fovea(self):
        return (self.fov_cx + self.fovea_dx * self.fov_r, self.fov_cy + self.fovea_dy * self.fov_r)

    @property
    def disc(self):
        fx, fy = self.fovea
        return (fx + self.disc_dist * self.fov_r, fy + self.disc_dy * self.fov_r)


@dataclass
class FundusPhantom:
    """A rendered fundus phantom.

    Attributes
    ----------
    image : numpy.ndarray
        ``uint8`` (size, size, 3) RGB; 0 outside the field of view.
    masks : dict of str to numpy.ndarray
        ``bool`` (size, size) per lesion type (:data:`LESION_TYPES`, all keys
        always present, empty when absent) and ``"lesions"``, their union.
    anatomy : dict of str to numpy.ndarray
        ``bool`` (size, size) masks ``fov`` (field of view), ``optic_disc``,
        ``macula`` (within about one disc diameter of the fovea) and
        ``vessels`` (the retinal vessel tree as drawn, beaded veins included; not the new vessels).
    grade : int
    counts : dict of str to int
        Number of lesions drawn per type (specks of hard exudate, fronds of new
        vessels, beaded vein trunks).
    eye : EyeAnatomy
    """

    image: np.ndarray
    masks: dict
    anatomy: dict
    grade: int
    counts: dict
    eye: EyeAnatomy = field(repr=False)


# --------------------------------------------------------------------------- vessels


@dataclass
class _Path:
    """A vessel centre line: points (n, 2) in image fractions, half-widths (n,), arclength (n,)."""

    xy: np.ndarray
    w: np.ndarray
    s: np.ndarray
    kind: str  # "vein", "artery" or "nv"
    trunk: int  # index of the trunk it grew from (-1 for new vessels)


def _path_from_points(pts, w, kind, trunk):
    """A :class:`_Path` through the points ``pts`` (a list of (x, y)) with half-widths ``w`` (n,)."""
    xy = np.asarray(pts, dtype=np.float64)
    seg = np.sqrt((np.diff(xy, axis=0) ** 2).sum(axis=1))
    return _Path(xy, w, np.concatenate([[0.0], np.cumsum(seg)]), kind, trunk)


def _grow(rng, paths, start, heading, target, w, length, kind, trunk, eye, depth, step, attract, wobble, p_branch):
    """Grow one vessel (and recursively its branches) as a random walk whose heading is drawn to ``target``.

    Each step turns the heading a fraction ``attract`` towards ``target`` plus
    a random angle; the width tapers by 1.4 % a step and by 10 % at each
    branch. The vessel stops at the edge of the field of view, at the foveal
    avascular zone or when thinner than 0.0035 R. (A plain loop: for paths of
    a few dozen steps it is faster than any vectorised form.)
    """
    R = eye.fov_r
    cx, cy = eye.fov_cx, eye.fov_cy
    fx, fy = eye.fovea
    x, y = start
    hx, hy = heading
    tx, ty = target
    pts, ws = [(x, y)], [w]
    n_steps = int(length / step)
    turns = rng.normal(0.0, wobble, n_steps).tolist()
    branch = (rng.random(n_steps) < p_branch).tolist() if depth < 3 else [False] * n_steps
    r2_fov, r2_faz, w_min = (0.99 * R) ** 2, (0.11 * R) ** 2, 0.0035 * R
    for k in range(n_steps):
        hx += attract * (tx - hx)
        hy += attract * (ty - hy)
        ang = math.atan2(hy, hx) + turns[k]
        hx, hy = math.cos(ang), math.sin(ang)
        x += step * R * hx
        y += step * R * hy
        w *= 0.986
        if (x - cx) ** 2 + (y - cy) ** 2 > r2_fov or w < w_min:
            break
        if (x - fx) ** 2 + (y - fy) ** 2 < r2_faz:  # foveal avascular zone
            break
        pts.append((x, y))
        ws.append(w)
        if branch[k]:
            turn = (1.0 if rng.random() < 0.5 else -1.0) * rng.uniform(0.6, 1.25)
            ca, sa = math.cos(turn), math.sin(turn)
            bh = (hx * ca - hy * sa, hx * sa + hy * ca)
            _grow(rng, paths, (x, y), bh, bh, w * rng.uniform(0.55, 0.75), length * rng.uniform(0.25, 0.55),
                  kind, trunk, eye, depth + 1, step, 0.05, wobble * 1.2, p_branch * 0.8)
            w *= 0.9
    if len(pts) >= 2:
        paths.append(_path_from_points(pts, np.asarray(ws, dtype=np.float64), kind, trunk))


def _vessel_tree(eye):
    """The normal vessel tree: four arcades of one vein and one artery each (right-eye coordinates)."""
    rng = seeded_rng(eye.vessel_seed, _VESSELS)
    R = eye.fov_r
    dx, dy = eye.disc
    paths = []
    # (initial heading, attractor direction, length in R, width factor); y grows downwards
    arcades = [
        ((-0.3, -1.0), (-1.0, 0.45), 1.8, 1.0),  # superotemporal: up, then around the macula
        ((-0.3, 1.0), (-1.0, -0.45), 1.8, 1.0),  # inferotemporal
        ((0.55, -1.0), (1.0, -0.5), 1.0, 0.8),  # superonasal
        ((0.55, 1.0), (1.0, 0.5), 1.0, 0.8),  # inferonasal
    ]
    trunk = 0
    for kind, w0, rot in (("vein", 0.017, 0.0), ("artery", 0.0125, 0.18)):
        for (hx, hy), target, length, wf in arcades:
            a = math.atan2(hy, hx) + rng.normal(rot * np.sign(hy), 0.08)
            start = (dx + rng.normal(0, 0.15) * eye.disc_r * R, dy + rng.normal(0, 0.15) * eye.disc_r * R)
            _grow(rng, paths, start, (math.cos(a), math.sin(a)), target, w0 * wf * R * rng.uniform(0.9, 1.1),
                  length * rng.uniform(0.9, 1.1), kind, trunk, eye, 0, 0.05, 0.075, 0.07, 0.16)
            trunk += 1
    return paths


def _densify(paths, size):
    """Points every 0.4 px along the paths: (xy (m, 2), half-width (m,), path index (m,), arclength (m,))."""
    if not paths:
        return np.zeros((0, 2)), np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0)
    spacing = 0.4 / size
    totals = np.array([p.s[-1] for p in paths])
    n = np.maximum(np.ceil(totals / spacing).astype(np.int64) + 1, 2)
    # one interpolation over all paths: path i's arclength is shifted by offset i (gaps of 1)
    offsets = np.concatenate([[0.0], np.cumsum(totals + 1.0)[:-1]])
    xp = np.concatenate([p.s + o for p, o in zip(paths, offsets)])
    px = np.concatenate([p.xy[:, 0] for p in paths])
    py = np.concatenate([p.xy[:, 1] for p in paths])
    pw = np.concatenate([p.w for p in paths])
    idx = np.repeat(np.arange(len(paths)), n)
    first = np.concatenate([[0], np.cumsum(n)[:-1]])
    local = (np.arange(int(n.sum())) - first[idx]) * (totals / (n - 1))[idx]
    t = local + offsets[idx]
    xy = np.stack([np.interp(t, xp, px), np.interp(t, xp, py)], axis=1)
    return xy, np.interp(t, xp, pw), idx, local


def _line_coverage(xy, w, size, inside, labels=None, n_labels=1):
    """Anti-aliased coverage in [0, 1] of discs of half-width ``w`` centred at points ``xy``.

    Only pixels where ``inside`` is True and near a point are computed. Lines
    thinner than a pixel get a proportionally lower coverage. With ``labels``
    (int per point, < ``n_labels``) one coverage map per label is returned,
    shape (n_labels, H, W), from a single nearest-neighbour query; without,
    one (H, W) map.
    """
    cov = np.zeros((n_labels, size, size))
    if len(xy):
        reach = float(w.max()) + 1.5 / size
        # candidate pixels: those within `reach` of a point's pixel
        near = np.zeros((size, size), dtype=bool)
        ij = np.clip((xy * size).astype(np.int64), 0, size - 1)
        near[ij[:, 1], ij[:, 0]] = True
        r = int(np.ceil(reach * size)) + 1
        near = ndimage.maximum_filter(near, size=2 * r + 1) & inside
        rows, cols = np.nonzero(near)
        pix = np.stack([(cols + 0.5) / size, (rows + 0.5) / size], axis=1)
        d, j = cKDTree(xy).query(pix, k=2, distance_upper_bound=reach)
        ok = np.isfinite(d)
        j = np.where(ok, j, 0)
        wj = w[j] * size  # half-width in pixels
        c = np.where(ok, smoothstep((wj - d * size) + 0.5) * np.minimum(2.0 * wj, 1.0), 0.0)
        if labels is None:
            cov[0, rows, cols] = c.max(axis=1)
        else:
            lj = labels[j]
            for k in range(n_labels):
                cov[k, rows, cols] = np.where(lj == k, c, 0.0).max(axis=1)
    return cov if labels is not None else cov[0]


# --------------------------------------------------------------------------- lesions


def _counts(seed, grade):
    """Lesion counts of ``seed`` at ``grade``: monotone in the grade for a fixed seed."""
    u = seeded_rng(seed, _COUNTS).uniform(size=10)
    g = grade
    ma = [0, 3 + int(u[0] * 5), 7 + int(u[0] * 9), 12 + int(u[0] * 12), 14 + int(u[0] * 12)][g]
    # haemorrhages per quadrant (superotemporal, inferotemporal, superonasal, inferonasal)
    haem = []
    for q in range(4):
        v = u[1 + q]
        haem.append([0, 0, int(v * 2.5), 4 + int(v * 4), 5 + int(v * 5)][g])
    if g == 2 and sum(haem) < 2:  # moderate NPDR: at least two haemorrhages
        for q in np.argsort(-u[1:5])[: 2 - sum(haem)]:
            haem[int(q)] += 1
    v = u[5]
    exudate_clusters = [0, 0, 0 if v < 0.2 else 1 if v < 0.7 else 2, 1 if v < 0.5 else 2 if v < 0.85 else 3][min(g, 3)]
    cws = [0, 0, 0, 2 + int(u[6] * 3), 3 + int(u[6] * 3)][g]
    beading = [False, False, False, bool(u[7] < 0.4), bool(u[7] < 0.7)][g]
    nvd = g == 4 and u[8] < 0.7
    nve = (int(u[9] * 3) if nvd else 1 + int(u[9] * 2)) if g == 4 else 0
    preretinal = g == 4 and u[9] > 0.55
    return dict(microaneurysms=ma, haemorrhages=haem, exudate_clusters=exudate_clusters,
                cotton_wool_spots=cws, venous_beading=beading, nvd=nvd, nve=nve, preretinal=preretinal)


def _posterior_point(rng, eye, r_lo, r_hi, angle_lo=-np.pi, angle_hi=np.pi, clearance=0.0):
    """A point around the fovea at radius in [r_lo, r_hi] R, inside 0.88 R of the FOV, off the disc."""
    R = eye.fov_r
    fx, fy = eye.fovea
    dx, dy = eye.disc
    for _ in range(50):
        r = R * math.sqrt(rng.uniform(r_lo**2, r_hi**2))
        a = rng.uniform(angle_lo, angle_hi)
        px, py = fx + r * math.cos(a), fy + r * math.sin(a)
        in_fov = (px - eye.fov_cx) ** 2 + (py - eye.fov_cy) ** 2 < (0.88 * R - clearance) ** 2
        off_disc = (px - dx) ** 2 + (py - dy) ** 2 > (eye.disc_r * R * 1.25 + clearance) ** 2
        if in_fov and off_disc:
            break
    return px, py


def _blob(x, y, size, cx, cy, radius, lobulation=0.0, phases=(0.0, 0.0), edge=0.25, aspect=1.0, angle=0.0):
    """A (lobulated, elliptical) disc with a soft edge, in the window around it.

    Returns ``(sl, alpha, mask)``: the window's slices, the opacity profile in
    [0, 1] and the mask (``q < 1``, plus the centre pixel, so that a lesion
    always marks at least one pixel) over that window.
    """
    sl = square_window(size, cx, cy, radius * max(aspect, 1.0) * (1 + 2 * lobulation) + 2.0 / size)
    xs, ys = x[:, sl[1]], y[sl[0], :]
    dx, dy = xs - cx, ys - cy
    if angle or aspect != 1.0:
        c, s = math.cos(angle), math.sin(angle)
        dx, dy = (dx * c + dy * s) / aspect, dy * c - dx * s
    rad = radius
    if lobulation:
        a = np.arctan2(dy, dx)
        rad = radius * (1 + lobulation * (0.6 * np.cos(3 * a + phases[0]) + 0.4 * np.cos(5 * a + phases[1])))
    q = np.sqrt(dx * dx + dy * dy) / rad
    e = max(edge, 1.0 / (size * radius))  # the edge is at least a pixel wide whatever the size
    alpha = smoothstep((1.0 + 0.5 * e - q) / e)
    mask = q < 1.0
    i = min(max(int(cy * size), 0), size - 1) - sl[0].start
    j = min(max(int(cx * size), 0), size - 1) - sl[1].start
    if 0 <= i < mask.shape[0] and 0 <= j < mask.shape[1]:
        mask[i, j] = True
    return sl, alpha, mask


def _stamp(alpha, mask, blob, opacity=1.0):
    """Add a :func:`_blob` to full-size ``alpha`` (maximum) and ``mask`` (union), in place."""
    sl, a, m = blob
    np.maximum(alpha[sl], opacity * a, out=alpha[sl])
    mask[sl] |= m


def _microaneurysms(seed, n, eye, x, y, size):
    alpha, mask = np.zeros((size, size)), np.zeros((size, size), dtype=bool)
    R = eye.fov_r
    for i in range(n):
        rng = seeded_rng(seed, _MA, i)
        px, py = _posterior_point(rng, eye, 0.12, 0.75)
        _stamp(alpha, mask, _blob(x, y, size, px, py, rng.uniform(0.016, 0.024) * R, edge=0.35), 0.95)
    return alpha, mask


_QUADRANTS = [(-np.pi, -np.pi / 2), (np.pi / 2, np.pi), (-np.pi / 2, 0.0), (0.0, np.pi / 2)]  # ST, IT, SN, IN


def _haemorrhages(seed, per_quadrant, eye, x, y, size):
    alpha, mask = np.zeros((size, size)), np.zeros((size, size), dtype=bool)
    R = eye.fov_r
    for q, n in enumerate(per_quadrant):
        lo, hi = _QUADRANTS[q]
        for i in range(n):
            rng = seeded_rng(seed, _HAEM, q, i)
            blot = rng.random() < 0.45
            r = (rng.uniform(0.04, 0.065) if blot else rng.uniform(0.024, 0.038)) * R
            px, py = _posterior_point(rng, eye, 0.15, 0.85, lo, hi, clearance=r)
            blob = _blob(x, y, size, px, py, r, lobulation=0.15 if blot else 0.0, phases=rng.uniform(0, 6.3, 2), edge=0.4)
            _stamp(alpha, mask, blob, rng.uniform(0.8, 0.95))
    return alpha, mask


def _hard_exudates(seed, n_clusters, eye, x, y, size):
    alpha, mask = np.zeros((size, size)), np.zeros((size, size), dtype=bool)
    R = eye.fov_r
    specks = 0
    for i in range(n_clusters):
        rng = seeded_rng(seed, _EXUDATE, i)
        cx, cy = _posterior_point(rng, eye, 0.18, 0.5, clearance=0.12 * R)
        ring = rng.random() < 0.5  # circinate ring around a leaking microaneurysm
        rr = rng.uniform(0.06, 0.1) * R
        a0 = rng.uniform(0, 2 * np.pi)
        for _ in range(int(rng.integers(5, 13))):
            if ring:
                a = a0 + rng.uniform(0, 1.6 * np.pi)
                px, py = cx + rr * math.cos(a) * rng.uniform(0.85, 1.15), cy + rr * math.sin(a) * rng.uniform(0.85, 1.15)
            else:
                px, py = cx + rng.normal(0, 0.05 * R), cy + rng.normal(0, 0.05 * R)
            blob = _blob(x, y, size, px, py, rng.uniform(0.014, 0.028) * R, lobulation=0.2,
                         phases=rng.uniform(0, 6.3, 2), edge=0.3)
            _stamp(alpha, mask, blob, 0.92)
            specks += 1
    return alpha, mask, specks


def _trunk_point(rng, paths, trunk_ids, s_lo, s_hi, eye):
    """A point on one of the given vessel trunks at arclength in [s_lo, s_hi] R, and the local direction."""
    R = eye.fov_r
    cands = [p for p in paths if p.trunk in trunk_ids and p.s[0] == 0.0 and p.s[-1] > s_lo * R]
    cands = [p for p in cands if np.hypot(*(p.xy[0] - np.asarray(eye.disc))) < 0.5 * eye.disc_r * R] or cands
    p = cands[int(rng.integers(len(cands)))]
    s = rng.uniform(s_lo * R, min(s_hi * R, p.s[-1]))
    k = int(np.clip(np.searchsorted(p.s, s), 1, len(p.s) - 1))
    d = p.xy[k] - p.xy[k - 1]
    return (float(np.interp(s, p.s, p.xy[:, 0])), float(np.interp(s, p.s, p.xy[:, 1]))), math.atan2(d[1], d[0])


def _cotton_wool(seed, n, eye, paths, x, y, size):
    alpha, mask = np.zeros((size, size)), np.zeros((size, size), dtype=bool)
    R = eye.fov_r
    for i in range(n):
        rng = seeded_rng(seed, _CWS, i)
        (px, py), ang = _trunk_point(rng, paths, (0, 1, 4, 5), 0.25, 0.95, eye)  # temporal arcades
        off = rng.choice((-1.0, 1.0)) * rng.uniform(0.02, 0.07) * R
        px, py = px - off * math.sin(ang), py + off * math.cos(ang)
        d = math.hypot(px - eye.fov_cx, py - eye.fov_cy)
        if d > 0.82 * R:  # pull it back inside the field of view
            px = eye.fov_cx + (px - eye.fov_cx) * 0.82 * R / d
            py = eye.fov_cy + (py - eye.fov_cy) * 0.82 * R / d
        r = rng.uniform(0.045, 0.065) * R
        aspect = rng.uniform(1.2, 1.7)
        sl = square_window(size, px, py, 2.2 * r * aspect)
        xs, ys = x[:, sl[1]], y[sl[0], :]
        c, s = math.cos(ang), math.sin(ang)
        u = ((xs - px) * c + (ys - py) * s) / (r * aspect)
        v = ((ys - py) * c - (xs - px) * s) / r
        shape = (sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
        q = np.sqrt(u * u + v * v) + 0.25 * smooth_noise(rng, shape, max(1.5, 0.5 * r * size))
        a = np.zeros((size, size))
        a[sl] = 0.8 * smoothstep((1.15 - q) / 0.55)  # fluffy, feathered edge
        np.maximum(alpha, a, out=alpha)
        mask[sl] |= q < 1.0
        mask[int(np.clip(py * size, 0, size - 1)), int(np.clip(px * size, 0, size - 1))] = True
    return alpha, mask


def _frond(rng, eye, start, n_steps, w):
    """One new-vessel frond of half-width ``w``: a walk whose curvature keeps changing (loops and kinks).

    It stops at 0.95 R from the centre of the field of view; None when it leaves it at the first step.
    """
    R = eye.fov_r
    x, y = start
    ang, omega = rng.uniform(0, 2 * np.pi), rng.normal(0, 0.5)
    pts = [(x, y)]
    for _ in range(n_steps):
        omega = 0.7 * omega + rng.normal(0, 0.45)
        ang += omega
        x += 0.014 * R * math.cos(ang)
        y += 0.014 * R * math.sin(ang)
        if (x - eye.fov_cx) ** 2 + (y - eye.fov_cy) ** 2 > (0.95 * R) ** 2:
            break
        pts.append((x, y))
    return _path_from_points(pts, np.full(len(pts), w), "nv", -1) if len(pts) >= 2 else None


def _new_vessel_paths(seed, counts, eye, paths):
    """Fine tortuous new vessels on the disc (NVD) and in tufts along the arcades (NVE), and the number of fronds."""
    R = eye.fov_r
    fronds = []
    if counts["nvd"]:
        rng = seeded_rng(seed, _NVD)
        dx, dy = eye.disc
        for _ in range(int(rng.integers(8, 14))):
            a, r = rng.uniform(0, 2 * np.pi), eye.disc_r * R * math.sqrt(rng.uniform(0, 0.8))
            fronds.append(_frond(rng, eye, (dx + r * math.cos(a), dy + r * math.sin(a)), int(rng.integers(10, 22)),
                                 rng.uniform(0.010, 0.013) * R))
    for i in range(counts["nve"]):
        rng = seeded_rng(seed, _NVE, i)
        (px, py), _ = _trunk_point(rng, paths, (0, 1, 4, 5), 0.35, 1.0, eye)
        for _ in range(int(rng.integers(8, 13))):
            fronds.append(_frond(rng, eye, (px + rng.normal(0, 0.015 * R), py + rng.normal(0, 0.015 * R)),
                                 int(rng.integers(8, 15)), rng.uniform(0.010, 0.013) * R))
    return [f for f in fronds if f is not None], len(fronds)


def _preretinal(seed, eye, paths, x, y, size):
    """A boat-shaped preretinal haemorrhage: flat upper border (blood level), rounded below."""
    rng = seeded_rng(seed, _PRERETINAL)
    R = eye.fov_r
    (px, py), _ = _trunk_point(rng, paths, (0, 1), 0.3, 0.8, eye)
    d = math.hypot(px - eye.fov_cx, py - eye.fov_cy)
    if d > 0.7 * R:
        px = eye.fov_cx + (px - eye.fov_cx) * 0.7 * R / d
        py = eye.fov_cy + (py - eye.fov_cy) * 0.7 * R / d
    r = rng.uniform(0.1, 0.15) * R
    level = py - rng.uniform(0.2, 0.45) * r
    alpha, mask = np.zeros((size, size)), np.zeros((size, size), dtype=bool)
    _stamp(alpha, mask, _blob(x, y, size, px, py, r, lobulation=0.05, phases=rng.uniform(0, 6.3, 2), edge=0.12, aspect=1.3))
    top = smoothstep((y - level) * size + 0.5)
    return 0.95 * alpha * top, mask & (y >= level)


# --------------------------------------------------------------------------- rendering


def _radial_distances(eye, x, y):
    """Per-pixel distances to the centre of the field of view (image fractions), the fovea (R) and the disc.

    The distance to the disc is in disc radii and elliptic: the disc is 8 % taller than wide.
    """
    R = eye.fov_r
    fx, fy = eye.fovea
    dx, dy = eye.disc
    r_fov = np.sqrt((x - eye.fov_cx) ** 2 + (y - eye.fov_cy) ** 2)
    rf = np.sqrt((x - fx) ** 2 + (y - fy) ** 2) / R
    rd = np.sqrt(((x - dx) / (eye.disc_r * R)) ** 2 + ((y - dy) / (1.08 * eye.disc_r * R)) ** 2)
    return r_fov, rf, rd


def _fov_alpha(r_fov, R, size):
    """Anti-aliased opacity in [0, 1] of a field of view of radius ``R``: exactly 0 from ``R`` outwards."""
    fov_alpha = np.clip((R - r_fov) * size + 0.5, 0.0, 1.0)
    fov_alpha[r_fov >= R] = 0.0
    return fov_alpha


def _background(seed, eye, rf, size):
    """The bare fundus, linear RGB (size, size, 3): pigment colour, choroidal texture, darker macula, foveal reflex."""
    light, dark = np.array([0.86, 0.42, 0.17]), np.array([0.56, 0.23, 0.10])
    base = light + (dark - light) * eye.pigment
    tex_rng = seeded_rng(seed, _TEXTURE)
    tex = (1.0 + 0.045 * smooth_noise(tex_rng, (size, size), 0.04 * size)
           + 0.02 * smooth_noise(tex_rng, (size, size), 0.012 * size))
    img = base[None, None, :] * tex[..., None]
    mac = eye.macula_dark * np.exp(-0.5 * (rf / 0.2) ** 2) + 0.15 * np.exp(-0.5 * (rf / 0.05) ** 2)
    img *= 1.0 - mac[..., None] * np.array([1.0, 1.1, 0.9])
    reflex = 0.12 * np.exp(-0.5 * (rf / 0.012) ** 2)
    img += reflex[..., None]
    return img


def _draw_optic_disc(img, eye, rd):
    """Draw the optic disc on ``img`` in place: a yellowish rim and a paler cup."""
    disc_alpha = smoothstep((1.08 - rd) / 0.2)
    _over(img, 0.95 * disc_alpha, (0.98, 0.80, 0.50))
    cup_alpha = smoothstep((eye.cup + 0.1 - rd) / 0.25)
    _over(img, 0.9 * cup_alpha, (1.0, 0.94, 0.76))


def _draw_lesions_under_vessels(img, masks, seed, counts, eye, x, y, size):
    """Draw haemorrhages, microaneurysms and hard exudates on ``img``, fill their ``masks``; return the specks drawn."""
    a, masks["haemorrhages"] = _haemorrhages(seed, counts["haemorrhages"], eye, x, y, size)
    _over(img, a, _HAEM_RGB)
    a, masks["microaneurysms"] = _microaneurysms(seed, counts["microaneurysms"], eye, x, y, size)
    _over(img, a, _MA_RGB)
    a, masks["hard_exudates"], n_specks = _hard_exudates(seed, counts["exudate_clusters"], eye, x, y, size)
    _over(img, a, _EXUDATE_RGB)
    return n_specks


def _venous_beading(seed, beading, kinds, trunks, vs, vw, R):
    """Bead the veins of two or three arcades: half-widths ``vw`` swell and narrow along the arclength ``vs``.

    Returns
    -------
    vw : numpy.ndarray
        The half-widths, beaded (``vw`` itself when ``beading`` is False).
    beaded : numpy.ndarray
        ``bool``, which points are beaded.
    n_beaded : int
        Number of beaded vein trunks (0, 2 or 3).
    """
    beaded = np.zeros(len(vw), dtype=bool)
    if not beading:
        return vw, beaded, 0
    rng = seeded_rng(seed, _VESSELS, 1)
    chosen = (0, 1) if rng.random() < 0.6 else (0, 1, 2)  # both temporal veins, sometimes the superonasal one
    beaded = np.isin(trunks, chosen) & (kinds == "vein") & (vs > 0.25 * R) & (vs < 1.1 * R) & (vw > 0.008 * R)
    period = 0.09 * R
    vw = np.where(beaded, vw * (1.0 + 0.55 * np.sin(2 * np.pi * vs / period)), vw)
    return vw, beaded, len(chosen)


def _draw_vessels(img, masks, seed, counts, eye, size, inside):
    """Draw the vessel tree on ``img`` and fill ``masks["venous_beading"]``.

    Returns the vessel paths, the ``bool`` mask of the vessels as drawn and the number of beaded vein trunks.
    """
    paths = _vessel_tree(eye)
    vxy, vw, vidx, vs = _densify(paths, size)
    kinds = np.array([p.kind for p in paths])[vidx] if len(paths) else np.zeros(0, dtype=str)
    trunks = np.array([p.trunk for p in paths])[vidx] if len(paths) else np.zeros(0, dtype=np.int64)
    vw, beaded, n_beaded = _venous_beading(seed, counts["venous_beading"], kinds, trunks, vs, vw, eye.fov_r)
    cov_v, cov_a = _line_coverage(vxy, vw, size, inside, labels=(kinds != "vein").astype(np.int64), n_labels=2)
    _over(img, 0.9 * cov_v, _VEIN)
    _over(img, 0.85 * cov_a, _ARTERY)
    if beaded.any():
        masks["venous_beading"] = _line_coverage(vxy[beaded], vw[beaded], size, inside) > 0.4
    return paths, np.maximum(cov_v, cov_a) > 0.5, n_beaded


def _draw_new_vessels(img, masks, seed, counts, eye, paths, size, inside):
    """Draw the new vessels on ``img``, fill ``masks["new_vessels"]``; return the number of fronds."""
    nv_paths, n_fronds = _new_vessel_paths(seed, counts, eye, paths)
    if nv_paths:
        nxy, nw, _, _ = _densify(nv_paths, size)
        cov_n = _line_coverage(nxy, nw, size, inside)
        _over(img, 0.92 * cov_n, _NV_RGB)
        masks["new_vessels"] = cov_n > 0.25
    return n_fronds


def _acquire(img, seed, eye, x, y, r_fov, fov_alpha):
    """Photograph the fundus: uneven illumination and vignetting, optical blur, the field-of-view stop, sensor noise."""
    R = eye.fov_r
    size = img.shape[0]
    ux, uy = math.cos(eye.gradient_angle), math.sin(eye.gradient_angle)
    vignetting = 1.0 - eye.vignette * (r_fov / R) ** 2 * np.sqrt(r_fov / R)
    gradient = 1.0 + eye.gradient * ((x - eye.fov_cx) * ux + (y - eye.fov_cy) * uy) / R
    illum = eye.brightness * vignetting * gradient
    img = img * np.clip(illum, 0.05, None)[..., None]
    img = ndimage.gaussian_filter(img, sigma=(0.0035 * size, 0.0035 * size, 0.0), mode="nearest", truncate=3.0)
    img *= fov_alpha[..., None]
    noise = seeded_rng(seed, _NOISE).standard_normal((size, size, 3))
    img += eye.noise * noise * fov_alpha[..., None]
    return img


def _quantise(img, gamma, inside):
    """``uint8`` image of ``255 v**gamma`` in one look-up (4096 levels in, 256 out); 0 where ``inside`` is False."""
    levels = np.clip(np.round(img * 4095.0), 0, 4095).astype(np.int64)
    image = _gamma_lut(round(gamma, 6))[levels]
    image[~inside] = 0
    return image


def _anatomy_masks(fov, rd, rf, vessels, disc_r):
    """The masks of :attr:`FundusPhantom.anatomy`, all cut to the field of view ``fov``."""
    return {
        "fov": fov,
        "optic_disc": (rd < 1.0) & fov,
        "macula": (rf < 2.0 * disc_r) & fov,
        "vessels": vessels & fov,
    }


def _finish_lesion_masks(masks, fov):
    """The lesion masks cut to the field of view ``fov``, and ``"lesions"``, their union."""
    out = {k: masks[k] & fov for k in LESION_TYPES}
    out["lesions"] = np.logical_or.reduce([out[k] for k in LESION_TYPES])
    return out


def _lesion_counts(counts, n_specks, n_beaded, n_fronds):
    """The lesions drawn per type (:attr:`FundusPhantom.counts`) from :func:`_counts` and what the steps drew."""
    return {
        "microaneurysms": counts["microaneurysms"],
        "haemorrhages": int(sum(counts["haemorrhages"])),
        "hard_exudates": n_specks,
        "cotton_wool_spots": counts["cotton_wool_spots"],
        "venous_beading": n_beaded,
        "new_vessels": n_fronds,
        "preretinal_haemorrhage": int(counts["preretinal"]),
    }


def _mirrored(image, masks, anatomy):
    """Copies of ``image`` and of every mask flipped left to right (a left eye from a right eye)."""
    return (image[:, ::-1].copy(), {k: v[:, ::-1].copy() for k, v in masks.items()},
            {k: v[:, ::-1].copy() for k, v in anatomy.items()})


def render_fundus(seed, grade, size=128):
    """Render a fundus phantom with its lesion masks, anatomy masks and lesion counts.

    Parameters
    ----------
    seed : int
        Seed (>= 0) of the eye (anatomy, vessels, acquisition) and of its
        lesions. The eye does not depend on ``grade``; the lesions of grade
        ``k`` are a subset of those of grade ``k + 1``.
    grade : int
        ICDR grade, one of :data:`GRADES`.
    size : int, default 128
        Width and height in pixels (>= 64).

    Returns
    -------
    FundusPhantom

    Raises
    ------
    TypeError
        On a seed or ``size`` that is not an integer (or is a bool).
    ValueError
        On a negative seed, a grade that is not one of 0-4 (whatever its type), or ``size`` < 64.
    """
    seed = check_seed(seed)
    grade = _check_grade(grade)
    size = _check_size(size)
    eye = EyeAnatomy.from_seed(seed)
    counts = _counts(seed, grade)
    x, y = pixel_grid(size)
    r_fov, rf, rd = _radial_distances(eye, x, y)
    fov_alpha = _fov_alpha(r_fov, eye.fov_r, size)
    inside = fov_alpha > 0.0

    img = _background(seed, eye, rf, size)
    _draw_optic_disc(img, eye, rd)
    masks = {k: np.zeros((size, size), dtype=bool) for k in LESION_TYPES}
    n_specks = _draw_lesions_under_vessels(img, masks, seed, counts, eye, x, y, size)
    paths, vessels, n_beaded = _draw_vessels(img, masks, seed, counts, eye, size, inside)
    # cotton-wool spots lie in the nerve fibre layer, over the vessels
    a, masks["cotton_wool_spots"] = _cotton_wool(seed, counts["cotton_wool_spots"], eye, paths, x, y, size)
    _over(img, a, _CWS_RGB)
    n_fronds = _draw_new_vessels(img, masks, seed, counts, eye, paths, size, inside)
    if counts["preretinal"]:
        a, masks["preretinal_haemorrhage"] = _preretinal(seed, eye, paths, x, y, size)
        _over(img, a, _PRERETINAL_RGB)
    image = _quantise(_acquire(img, seed, eye, x, y, r_fov, fov_alpha), eye.gamma, inside)

    fov = fov_alpha >= 0.5
    anatomy = _anatomy_masks(fov, rd, rf, vessels, eye.disc_r)
    masks = _finish_lesion_masks(masks, fov)
    counts = _lesion_counts(counts, n_specks, n_beaded, n_fronds)
    if eye.eye == "OS":  # a left eye is the mirror image of a right eye
        image, masks, anatomy = _mirrored(image, masks, anatomy)
    return FundusPhantom(image=image, masks=masks, anatomy=anatomy, grade=grade, counts=counts, eye=eye)


def generate_fundus(seed, grade, size=128):
    """Generate a retinal fundus phantom of one ICDR grade and its lesion masks.

    Parameters
    ----------
    seed : int
        Seed (>= 0); the same seed and grade give the same bytes on any
        machine. The eye (anatomy, vessels, illumination) depends on the seed
        only, so one seed drawn at grades 0-4 is one eye getting worse.
    grade : int
        ICDR grade, one of :data:`GRADES` (0 no DR, 1 mild, 2 moderate and
        3 severe non-proliferative, 4 proliferative; :data:`GRADE_NAMES`).
    size : int, default 128
        Width and height in pixels (>= 64).

    Returns
    -------
    image : numpy.ndarray
        ``uint8`` (size, size, 3) RGB, black (0) outside the circular field
        of view.
    masks : dict of str to numpy.ndarray
        ``bool`` (size, size) per lesion type in :data:`LESION_TYPES` (every
        key present; all False where the grade has no such lesion) and
        ``"lesions"``, their union. All False at grade 0.

    Raises
    ------
    TypeError
        On a seed or ``size`` that is not an integer (or is a bool).
    ValueError
        On a negative seed, a grade that is not one of 0-4 (whatever its type), or ``size`` < 64.

    Examples
    --------
    >>> image, masks = generate_fundus(0, grade=2)
    >>> image.dtype, image.shape, bool(masks["lesions"].any())
    (dtype('uint8'), (128, 128, 3), True)
    """
    ph = render_fundus(seed, grade, size=size)
    return ph.image, ph.masks


# --------------------------------------------------------------------------- circular crop


def fov_bounding_box(image, threshold=7):
    """Bounding box of the pixels brighter than ``threshold`` (the field of view).

    Parameters
    ----------
    image : array-like of shape (H, W, 3) or (H, W)
        RGB (or grey) image in the 0-255 scale.
    threshold : float, default 7
        A pixel belongs to the field of view when its grey level
        (``0.299 R + 0.587 G + 0.114 B``, the luma OpenCV's ``COLOR_RGB2GRAY``
        uses) is strictly above it.

    Returns
    -------
    (top, bottom, left, right) : tuple of int
        Rows ``top:bottom`` and columns ``left:right`` (end exclusive).

    Raises
    ------
    ValueError
        On an image of the wrong shape, or when no pixel is above ``threshold``
        (an all-black image: there is no field of view to crop to).
    """
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] == 3:
        grey = a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114
    elif a.ndim == 2:
        grey = a.astype(np.float64)
    else:
        raise ValueError(f"image must have shape (H, W, 3) or (H, W); got {a.shape}")
    bright = grey > threshold
    rows = np.flatnonzero(bright.any(axis=1))
    if rows.size == 0:
        raise ValueError(
            f"No pixel is brighter than threshold={threshold} (max grey level {float(grey.max()) if grey.size else 'n/a'}): "
            "the image is all black, so there is no field of view to crop to. Check that it is a fundus "
            "photograph in the 0-255 scale, or lower the threshold."
        )
    cols = np.flatnonzero(bright.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _resize_bilinear(a, out_h, out_w):
    """Separable linear resampling (pixel-centre aligned) of (h, w, ...) float64 to (out_h, out_w, ...)."""
    def axis(n_in, n_out):
        pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1.0)
        i = np.minimum(pos.astype(np.int64), max(n_in - 2, 0))
        f = pos - i
        j = np.minimum(i + 1, n_in - 1)
        return i, j, f

    i0, i1, fy = axis(a.shape[0], out_h)
    j0, j1, fx = axis(a.shape[1], out_w)
    extra = (None,) * (a.ndim - 2)
    rows = a[i0] * (1.0 - fy)[(slice(None), None, *extra)] + a[i1] * fy[(slice(None), None, *extra)]
    return rows[:, j0] * (1.0 - fx)[(None, slice(None), *extra)] + rows[:, j1] * fx[(None, slice(None), *extra)]


def _resize_nearest(a, out_h, out_w):
    ri = np.minimum(((np.arange(out_h) + 0.5) * a.shape[0] / out_h).astype(np.int64), a.shape[0] - 1)
    ci = np.minimum(((np.arange(out_w) + 0.5) * a.shape[1] / out_w).astype(np.int64), a.shape[1] - 1)
    return a[ri][:, ci]


def circular_crop(image, threshold=7, resize=True, masks=None):
    """Crop a fundus photograph to its circular field of view, removing the black border.

    The course-style crop: the bounding box of the pixels whose grey level is
    above ``threshold`` (:func:`fov_bounding_box`) is cut out and, with
    ``resize=True``, resized back to the input's height and width (bilinear),
    so that every eye fills the frame the same way whatever the camera's
    field-of-view size.

    Parameters
    ----------
    image : array-like of shape (H, W, 3)
        RGB image in the 0-255 scale (``uint8`` or float).
    threshold : float, default 7
        Grey level above which a pixel counts as inside the field of view.
    resize : bool, default True
        Resize the crop back to (H, W); False returns the crop as cut.
    masks : dict of str to bool array (H, W), optional
        Masks to crop and resize the same way (nearest neighbour).

    Returns
    -------
    numpy.ndarray
        The cropped image, same dtype as ``image`` (``uint8`` is rounded).
    dict of str to numpy.ndarray
        Only when ``masks`` is given: the cropped masks (``bool``).

    Raises
    ------
    ValueError
        On an image that is not (H, W, 3), or an all-black image (no pixel
        above ``threshold``).
    """
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"image must have shape (H, W, 3); got {a.shape}")
    top, bottom, left, right = fov_bounding_box(a, threshold)
    crop = a[top:bottom, left:right]
    h, w = a.shape[:2]
    if resize and crop.shape[:2] != (h, w):
        out = _resize_bilinear(crop.astype(np.float64), h, w)
        if np.issubdtype(a.dtype, np.integer):
            info = np.iinfo(a.dtype)
            out = np.clip(np.round(out), info.min, info.max)
        crop = out.astype(a.dtype)
    else:
        crop = crop.copy()
    if masks is None:
        return crop
    cropped = {}
    for k, m in masks.items():
        m = np.asarray(m, dtype=bool)
        if m.shape != (h, w):
            raise ValueError(f"mask {k!r} has shape {m.shape}; expected the image's {(h, w)}")
        m = m[top:bottom, left:right]
        cropped[k] = _resize_nearest(m, h, w) if resize else m.copy()
    return crop, cropped


def _check_image_2d_or_rgb(image):
    a = np.asarray(image)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (1, 3)) or min(a.shape[:2]) < 1:
        raise ValueError(f"image must have shape (H, W) or (H, W, 3); got {a.shape}")
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"image must hold numbers (uint8 or float); got dtype {a.dtype}")
    return a


def draw_circle(image, radius=1.0, fill=0):
    """Keep a centred disc of an image and paint everything outside it: a circular mask for display.

    A bounding-box crop (:func:`circular_crop`) leaves the four corners of the
    square; this keeps only the disc. With ``radius=0.9`` and ``fill=128`` it
    is the last step of Ben Graham's preprocessing (see
    :func:`subtract_local_average`), which removes the bright ring that the
    blur leaves along the edge of the field of view.

    Parameters
    ----------
    image : array-like of shape (H, W) or (H, W, 3)
        Any numeric dtype; the result has the same dtype.
    radius : float, default 1.0
        Radius of the disc as a fraction of half the image's shorter side
        (1.0: the disc touches the shorter sides). The disc is centred on the
        image's centre, ``((H - 1) / 2, (W - 1) / 2)`` in pixel coordinates.
    fill : float or sequence of 3 floats, default 0
        Value (or RGB colour) given to the pixels outside the disc.

    Returns
    -------
    numpy.ndarray
        A copy of ``image`` with every pixel farther than ``radius * min(H, W) / 2``
        from the centre (pixel centres, Euclidean distance) set to ``fill``.

    Raises
    ------
    TypeError
        On a radius that is not a real number (or is a bool).
    ValueError
        On an image that is not (H, W) or (H, W, 3) of numbers, or a radius that
        is not positive and finite.

    Examples
    --------
    >>> draw_circle(np.full((5, 5), 9, np.uint8))
    array([[0, 9, 9, 9, 0],
           [9, 9, 9, 9, 9],
           [9, 9, 9, 9, 9],
           [9, 9, 9, 9, 9],
           [0, 9, 9, 9, 0]], dtype=uint8)
    """
    a = _check_image_2d_or_rgb(image)
    radius = check_number(radius, "radius", positive=True, what="a fraction of half the shorter side")
    h, w = a.shape[:2]
    rows, cols = np.ogrid[:h, :w]
    outside = (rows - (h - 1) / 2.0) ** 2 + (cols - (w - 1) / 2.0) ** 2 > (float(radius) * min(h, w) / 2.0) ** 2
    out = a.copy()
    out[outside] = fill
    return out


def subtract_local_average(image, sigmaX=None, weight=4.0, offset=128.0):
    """Ben Graham's preprocessing: subtract the local average colour, map it to mid-grey.

    ``out = weight * image - weight * blur(image) + offset``, with ``blur`` a
    Gaussian blur of standard deviation ``sigmaX`` pixels, clipped to 0-255.
    This is ``cv2.addWeighted(image, 4, cv2.GaussianBlur(image, (0, 0), sigmaX),
    -4, 128)``, the preprocessing with which Ben Graham won Kaggle's 2015
    diabetic-retinopathy competition and that the course's case study uses:
    slow changes of brightness and colour (illumination, pigmentation, the
    camera) are removed, small high-contrast details (microaneurysms, exudates,
    vessels) are amplified four times around grey. It is computed here in
    float64 with SciPy (reflecting borders as OpenCV's default does), so the
    same image gives the same bytes on any machine. On a float64 image it
    equals OpenCV's result to 1e-9; on a ``uint8`` image OpenCV rounds the
    blur to whole grey levels before the subtraction (an error the weight of 4
    multiplies), so the two then differ by a few grey levels.

    The blur mixes the black frame into the pixels next to the field of
    view's edge, which leaves a bright ring there; Ben Graham painted the
    outer 10 % of the disc grey afterwards: ``draw_circle(out, 0.9, fill=128)``.

    Parameters
    ----------
    image : array-like of shape (H, W, 3) or (H, W)
        In the 0-255 scale (``uint8`` or float).
    sigmaX : float, optional
        Standard deviation of the blur, in pixels. Ben Graham rescaled every eye
        to a radius of 300 px and used ``radius / 30 = 10``; the default is the
        same proportion of this image, ``min(H, W) / 60`` (about 2.1 px at 128 px).
    weight : float, default 4.0
        How much the detail is amplified.
    offset : float, default 128.0
        The grey level the local average is mapped to.

    Returns
    -------
    numpy.ndarray
        Same shape as ``image``; ``uint8`` for a ``uint8`` input (rounded),
        float64 in [0, 255] otherwise.

    Raises
    ------
    TypeError
        On a ``sigmaX`` that is not a real number (or is a bool).
    ValueError
        On an image that is not (H, W) or (H, W, 3) of numbers, or a ``sigmaX``
        that is not positive and finite.
    """
    a = _check_image_2d_or_rgb(image)
    h, w = a.shape[:2]
    sigma = min(h, w) / 60.0 if sigmaX is None else sigmaX
    sigma = check_number(sigma, "sigmaX", positive=True, what="pixels")
    x = a.astype(np.float64)
    sigmas = (float(sigma), float(sigma)) + ((0.0,) if a.ndim == 3 else ())
    blurred = ndimage.gaussian_filter(x, sigma=sigmas, mode="mirror", truncate=4.0)
    out = np.clip(weight * x - weight * blurred + offset, 0.0, 255.0)
    if a.dtype == np.uint8:
        return np.round(out).astype(np.uint8)
    return out


# --------------------------------------------------------------------------- data set


def set_seeds(n_per_grade, seed=0):
    """Image seeds of :func:`make_fundus_set` (grade-major order), all below 2**40."""
    n = len(GRADES) * int(n_per_grade)
    return seeded_rng(check_seed(seed), _SET).integers(0, 2**40, size=n)


def make_fundus_set(n_per_grade, seed=0, size=128, crop=False):
    """Generate a balanced in-memory set of fundus phantoms.

    Parameters
    ----------
    n_per_grade : int
        Images per grade (>= 1).
    seed : int, default 0
        Seed of the set; image ``i`` has its own seed drawn from it (below
        2**40, a range that ``training.fundus`` never trains on).
    size : int, default 128
    crop : bool, default False
        Apply :func:`circular_crop` (resized back to ``size``) to images and masks.

    Returns
    -------
    images : numpy.ndarray
        ``uint8`` (n, size, size, 3), ``n = 5 * n_per_grade``, in grade-major
        order (all grade-0 images first).
    grades : numpy.ndarray
        ``int64`` (n,).
    masks : dict of str to numpy.ndarray
        ``bool`` (n, size, size) per key of :func:`generate_fundus`'s masks.
    """
    n_per_grade = check_int(n_per_grade, "n_per_grade", minimum=1, what="images per grade")
    size = _check_size(size)
    seeds = set_seeds(n_per_grade, seed)
    grades = np.repeat(np.asarray(GRADES, dtype=np.int64), int(n_per_grade))
    images = np.zeros((len(grades), size, size, 3), dtype=np.uint8)
    keys = (*LESION_TYPES, "lesions")
    masks = {k: np.zeros((len(grades), size, size), dtype=bool) for k in keys}
    for i, (s, g) in enumerate(zip(seeds, grades)):
        img, m = generate_fundus(int(s), int(g), size=size)
        if crop:
            img, m = circular_crop(img, masks=m)
        images[i] = img
        for k in keys:
            masks[k][i] = m[k]
    return images, grades, masks

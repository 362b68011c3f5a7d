"""The chest X-ray data set in the NIH ChestX-ray14 layout, generated or real.

By default the course uses phantoms from :mod:`util.data.phantoms`, generated once
into ``<repo>/data/chestxray/`` (git-ignored) and checked against the committed
manifest ``data/manifests/chestxray.sha256``.  With ``MEDXAI_DATA_DIR`` set
(:mod:`util.config.paths`) the real data in ``$MEDXAI_DATA_DIR/chestxray/`` is read
instead and nothing is generated.

Layout::

    chestxray/
        images/00000012_000.png        320x320 8-bit greyscale, white = dense
        train-small.csv valid-small.csv test.csv
                                       Image, the 14 labels (0/1), PatientId
        bbox.csv                       NIH BBox_List_2017 layout, one row per finding
        masks/00000012_000_Nodule.png  0/255 lesion mask (255 = finding)

Splits are disjoint by patient; a patient has 1 to 5 images
(``{patient:08d}_{followup:03d}.png``).

Run ``python -m util.data.chestxray`` to generate (if needed) and verify the data,
``python -m util.data.chestxray --write-manifest`` to rewrite the committed manifest.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from util.config.course import CHESTXRAY_SEED, LABELS
from util.config.paths import DEFAULT_DATA_DIR, REPO_ROOT, data_dir, using_real_data
from util.data.phantoms import CO_OCCURRENCE, PREVALENCE, SAMPLING_ORDER, PatientAnatomy, render_phantom

__all__ = [
    "BBOX_HEADER",
    "GENERATOR_VERSION",
    "IMAGE_SIZE",
    "MANIFEST",
    "REAL_DATA_NEEDS_PHANTOMS",
    "SPLITS",
    "compute_manifest",
    "ensure_chestxray_data",
    "generate_dataset",
    "load_bboxes",
    "load_mask",
    "load_split",
    "main",
    "plan_dataset",
    "read_manifest",
    "require_phantoms",
    "verify_manifest",
    "write_manifest",
]

#: Split file name -> number of images.
SPLITS = {"train-small.csv": 1000, "valid-small.csv": 200, "test.csv": 420}
IMAGE_SIZE = 320
MANIFEST = REPO_ROOT / "data" / "manifests" / "chestxray.sha256"
BBOX_HEADER = "Image Index,Finding Label,Bbox [x,y,w,h],,,"
#: Written into the generated folder; a different value triggers regeneration.
GENERATOR_VERSION = "phantoms-1"
_VERSION_FILE = ".generator"
_IMAGES_PER_PATIENT = (1, 2, 3, 4, 5)
_IMAGES_PER_PATIENT_P = (0.3, 0.25, 0.2, 0.15, 0.1)
_REQUIRED = ["train-small.csv", "valid-small.csv", "test.csv", "images"]
#: What real NIH ChestX-ray14 files cannot give, named in the errors of real-data mode.
REAL_DATA_NEEDS_PHANTOMS = (
    "the NIH data set has boxes for a few films but no lesion masks, so scoring a heat map against a mask "
    "(energy, pointing game, location prior) and the example films named in the notebooks need the phantoms"
)


def _seed_int(*keys):
    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])


# --------------------------------------------------------------------------- generation


def _patients(rng, n_images):
    """Images per patient, 1 to 5 each, summing to ``n_images``."""
    sizes = []
    while sum(sizes) < n_images:
        sizes.append(int(rng.choice(_IMAGES_PER_PATIENT, p=_IMAGES_PER_PATIENT_P)))
    sizes[-1] -= sum(sizes) - n_images
    return sizes


def _assign_labels(rng, n_images):
    """A 0/1 label table with exact per-label counts and co-occurrence.

    Each label is given to exactly ``max(1, round(prevalence * n))`` images,
    chosen with weights that favour images already holding its parent in
    :data:`util.data.phantoms.CO_OCCURRENCE`.
    """
    table = {label: np.zeros(n_images, dtype=np.int64) for label in LABELS}
    for label in SAMPLING_ORDER:
        count = max(1, int(round(PREVALENCE[label] * n_images)))
        weight = np.ones(n_images)
        if label in CO_OCCURRENCE:
            parent, ratio = CO_OCCURRENCE[label]
            weight[table[parent] == 1] = ratio
        chosen = rng.choice(n_images, size=count, replace=False, p=weight / weight.sum())
        table[label][chosen] = 1
    return table


def plan_dataset(seed=CHESTXRAY_SEED):
    """The split tables, without rendering anything.

    Parameters
    ----------
    seed : int, default CHESTXRAY_SEED

    Returns
    -------
    dict of str to pandas.DataFrame
        Split file name -> table with columns ``Image``, the 14 labels and
        ``PatientId``, plus ``RenderSeed`` and ``PatientSeed`` (render seeds).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    sizes = {name: _patients(rng, n) for name, n in SPLITS.items()}
    n_patients = sum(len(s) for s in sizes.values())
    ids = rng.choice(np.arange(1, 30000), size=n_patients, replace=False)
    rng.shuffle(ids)
    tables, start = {}, 0
    for name, n in SPLITS.items():
        pids = ids[start:start + len(sizes[name])]
        start += len(sizes[name])
        rows = [(int(pid), follow) for pid, k in zip(pids, sizes[name]) for follow in range(k)]
        labels = _assign_labels(rng, n)
        df = pd.DataFrame({"Image": [f"{pid:08d}_{f:03d}.png" for pid, f in rows]})
        for label in LABELS:
            df[label] = labels[label]
        df["PatientId"] = [pid for pid, _ in rows]
        df["RenderSeed"] = [_seed_int(seed, pid, f) for pid, f in rows]
        df["PatientSeed"] = [_seed_int(seed, pid) for pid, _ in rows]
        tables[name] = df.sort_values("Image", kind="stable").reset_index(drop=True)
    return tables


def _render_one(task):
    """Render, save an image and its masks; return its bbox rows."""
    out_dir, name, seed, patient_seed, findings = task
    ph = render_phantom(seed, IMAGE_SIZE, findings, patient=PatientAnatomy.from_seed(patient_seed))
    Image.fromarray(ph.image).save(out_dir / "images" / name, compress_level=1)
    stem = name[:-4]
    rows = []
    for label, mask in ph.masks.items():
        Image.fromarray(mask.astype(np.uint8) * 255).save(out_dir / "masks" / f"{stem}_{label}.png")
        ys, xs = np.nonzero(mask)
        x0, y0 = int(xs.min()), int(ys.min())
        rows.append((name, label, float(x0), float(y0), float(xs.max() - x0 + 1), float(ys.max() - y0 + 1)))
    return rows


def _write_csv(df, path):
    df.to_csv(path, index=False, lineterminator="\n")


def generate_dataset(out_dir, seed=CHESTXRAY_SEED, workers=2, verbose=True):
    """Generate the phantom data set into ``out_dir`` (replaced if it exists).

    Rendering happens in a temporary sibling folder that is renamed at the end,
    so an interrupted run never leaves a half data set.  Results do not depend
    on ``workers``: every image has its own seed.

    Parameters
    ----------
    out_dir : str or pathlib.Path
    seed : int, default CHESTXRAY_SEED
    workers : int, default 2
        Processes used for rendering (1 renders in this process).
    verbose : bool, default True
        Print the time taken and the size on disk.

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f"{out_dir.name}.tmp-{os.getpid()}"
    start = time.perf_counter()
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / "images").mkdir(parents=True)
        (tmp / "masks").mkdir()
        tables = plan_dataset(seed)
        tasks = []
        for df in tables.values():
            for row in df.itertuples(index=False):
                present = [label for label in LABELS if getattr(row, label) == 1]
                tasks.append((tmp, row.Image, row.RenderSeed, row.PatientSeed, present))
        if verbose:
            print(f"rendering {len(tasks)} phantoms with {workers} worker(s) (about a minute on two cores; "
                  "done once, later runs read them from disk)", flush=True)
        if workers > 1:
            ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
            with ctx.Pool(workers) as pool:
                results = _with_progress(pool.imap(_render_one, tasks, chunksize=16), len(tasks), start, verbose)
        else:
            results = _with_progress(map(_render_one, tasks), len(tasks), start, verbose)
        for name, df in tables.items():
            _write_csv(df.drop(columns=["RenderSeed", "PatientSeed"]), tmp / name)
        rows = sorted(r for rs in results for r in rs)
        with open(tmp / "bbox.csv", "w", newline="\n") as f:
            f.write(BBOX_HEADER + "\n")
            for name, label, x, y, w, h in rows:
                f.write(f"{name},{label},{x:.1f},{y:.1f},{w:.1f},{h:.1f}\n")
        (tmp / _VERSION_FILE).write_text(f"{GENERATOR_VERSION} seed={seed}\n")
        if out_dir.exists():
            old = out_dir.parent / f"{out_dir.name}.old-{os.getpid()}"
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if verbose:
        mb = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file()) / 1e6
        print(f"generated {len(tasks)} phantoms in {out_dir} "
              f"in {time.perf_counter() - start:.1f} s ({mb:.1f} MB on disk)")
    return out_dir


def _with_progress(results, total, start, verbose, every=0.2):
    """Collect ``results`` (an iterator of ``total`` items), printing a line at each ``every`` of the way."""
    done, step, next_report = [], max(1, int(total * every)), 0
    for item in results:
        done.append(item)
        if verbose and (len(done) >= next_report + step or len(done) == total):
            next_report = len(done)
            print(f"rendered {len(done)} of {total} phantoms ({time.perf_counter() - start:.0f} s)", flush=True)
    return done


def _is_complete(folder, seed=CHESTXRAY_SEED):
    version = folder / _VERSION_FILE
    return (
        version.is_file()
        and version.read_text().strip() == f"{GENERATOR_VERSION} seed={seed}"
        and all((folder / name).exists() for name in _REQUIRED + ["bbox.csv", "masks"])
    )


def ensure_chestxray_data(force=False):
    """Return the chest X-ray data folder, generating the phantoms on first use.

    Parameters
    ----------
    force : bool, default False
        Regenerate the phantoms even if they exist (ignored for real data).

    Returns
    -------
    pathlib.Path
        ``<repo>/data/chestxray`` (generated), or ``$MEDXAI_DATA_DIR/chestxray``
        when :func:`util.config.paths.using_real_data` is true.

    Raises
    ------
    FileNotFoundError
        In real-data mode, when the folder, a split CSV or ``images/`` is missing.
    """
    if using_real_data():
        folder = data_dir() / "chestxray"
        for name in _REQUIRED:
            if not (folder / name).exists():
                raise FileNotFoundError(
                    f"{folder / name} is missing. MEDXAI_DATA_DIR points the course at real "
                    f"data: put the NIH ChestX-ray14 images/ and the split CSVs "
                    f"({', '.join(_REQUIRED[:3])}) in {folder}, or unset MEDXAI_DATA_DIR "
                    f"to use the generated phantoms."
                )
        return folder
    folder = DEFAULT_DATA_DIR / "chestxray"
    if force or not _is_complete(folder):
        generate_dataset(folder)
    return folder


# --------------------------------------------------------------------------- manifest


def _pixels_digest(path):
    arr = np.asarray(Image.open(path))
    if arr.dtype != np.uint8:
        raise ValueError(f"{path} is not an 8-bit image (dtype {arr.dtype})")
    h = hashlib.sha256(("uint8 " + "x".join(map(str, arr.shape)) + "\n").encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def compute_manifest(folder):
    """SHA-256 of every image and mask (decoded pixels) and CSV (bytes) in ``folder``.

    PNGs are hashed by their decoded ``uint8`` pixels prefixed with the shape,
    not by file bytes, which depend on the PNG encoder.

    Parameters
    ----------
    folder : str or pathlib.Path

    Returns
    -------
    dict of str to str
        POSIX relative path -> hex digest, sorted by path.
    """
    folder = Path(folder)
    out = {}
    for path in sorted(folder.glob("*.csv")):
        out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    for sub in ("images", "masks"):
        for path in sorted((folder / sub).glob("*.png")):
            out[f"{sub}/{path.name}"] = _pixels_digest(path)
    return dict(sorted(out.items()))


def read_manifest(path=MANIFEST):
    """Parse a manifest file into {relative path: digest}."""
    entries = {}
    for line in Path(path).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, rel = line.split(None, 1)
            entries[rel.strip()] = digest
    return entries


def write_manifest(folder, path=MANIFEST):
    """Write the manifest of ``folder`` to ``path`` (the committed one by default)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# medxai-course chest X-ray phantoms: sha256 of decoded uint8 pixels (prefixed by",
        "# 'uint8 HxW\\n') for PNGs, of file bytes for CSVs. See util/data/chestxray.py.",
    ]
    lines += [f"{digest}  {rel}" for rel, digest in compute_manifest(folder).items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def verify_manifest(folder, path=MANIFEST):
    """Compare ``folder`` with a manifest.

    Returns
    -------
    list of str
        One description per mismatch (``missing``, ``unexpected`` or
        ``changed`` followed by the path); empty when everything matches.
    """
    expected = read_manifest(path)
    actual = compute_manifest(folder)
    problems = [f"missing: {rel}" for rel in expected if rel not in actual]
    problems += [f"unexpected: {rel}" for rel in actual if rel not in expected]
    problems += [f"changed: {rel}" for rel in expected if rel in actual and actual[rel] != expected[rel]]
    return problems


# --------------------------------------------------------------------------- readers


def _split_path(name_or_path):
    path = Path(name_or_path)
    if path.suffix == ".csv" and path.exists():
        return path
    name = str(name_or_path)
    aliases = {"train": "train-small.csv", "valid": "valid-small.csv", "test": "test.csv"}
    name = aliases.get(name, name)
    if not name.endswith(".csv"):
        name += ".csv"
    path = ensure_chestxray_data() / name
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist; give a split name ({', '.join(SPLITS)}) or a CSV path."
        )
    return path


def load_split(name_or_path):
    """Read a split CSV and check its columns.

    Parameters
    ----------
    name_or_path : str or pathlib.Path
        ``'train'``, ``'valid'``, ``'test'``, a file name such as
        ``'train-small.csv'`` (in the data folder), or a path to a CSV.

    Returns
    -------
    pandas.DataFrame
        Columns ``Image``, the 14 labels (int 0/1, 1 = finding present) and
        ``PatientId``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If columns are missing or a label column holds values other than 0/1.
    """
    path = _split_path(name_or_path)
    df = pd.read_csv(path)
    missing = [c for c in ["Image", *LABELS, "PatientId"] if c not in df.columns]
    if missing:
        raise ValueError(f"{path} lacks the column(s) {missing}; a split CSV needs Image, "
                         f"the 14 labels ({', '.join(LABELS)}) and PatientId.")
    for label in LABELS:
        if not df[label].isin([0, 1]).all():
            bad = df.loc[~df[label].isin([0, 1]), label].unique()[:5].tolist()
            raise ValueError(f"column {label!r} of {path} must hold only 0/1, found {bad}")
        df[label] = df[label].astype(np.int64)
    return df


def load_bboxes(folder=None):
    """Read ``bbox.csv`` (NIH BBox_List_2017 layout).

    Parameters
    ----------
    folder : str or pathlib.Path, optional
        Data folder; default :func:`ensure_chestxray_data`.

    Returns
    -------
    pandas.DataFrame
        Columns ``Image``, ``Label``, ``x``, ``y``, ``w``, ``h`` (pixels; x, y
        is the top-left corner).

    Raises
    ------
    FileNotFoundError
        If ``bbox.csv`` is missing.
    ValueError
        If the file does not have 6 columns or a label is unknown.
    """
    folder = Path(folder) if folder is not None else ensure_chestxray_data()
    path = folder / "bbox.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing (NIH BBox_List_2017 layout expected).")
    df = pd.read_csv(path)
    if df.shape[1] < 6:
        raise ValueError(f"{path} has {df.shape[1]} columns; expected 6: "
                         f"image, label, x, y, w, h (header {BBOX_HEADER!r}).")
    df = df.iloc[:, :6]
    df.columns = ["Image", "Label", "x", "y", "w", "h"]
    unknown = sorted(set(df["Label"]) - set(LABELS))
    if unknown:
        raise ValueError(f"{path} has unknown finding labels {unknown}; valid: {LABELS}")
    return df.astype({"x": float, "y": float, "w": float, "h": float})


def require_phantoms(what):
    """Stop with a clear message when ``what`` needs the generated phantoms but real data is in use.

    Parameters
    ----------
    what : str
        What needs them, e.g. ``"the example films of section 1"``; named in the message.

    Raises
    ------
    RuntimeError
        When ``MEDXAI_DATA_DIR`` points the course at real data.
    """
    if using_real_data():
        raise RuntimeError(
            f"{what} needs the generated phantoms, and MEDXAI_DATA_DIR points the course at real data: "
            f"{REAL_DATA_NEEDS_PHANTOMS}. Unset MEDXAI_DATA_DIR to run this cell on the phantoms; the cells "
            "that only read the split CSVs and images work with the real files."
        )


def load_mask(folder, image_name, label):
    """Read the lesion mask of one finding in one image.

    Parameters
    ----------
    folder : str or pathlib.Path or None
        Data folder (None: :func:`ensure_chestxray_data`).
    image_name : str
        For example ``'00000012_000.png'``.
    label : str
        One of :data:`util.config.course.LABELS`.

    Returns
    -------
    numpy.ndarray
        ``bool`` (H, W), True = finding.

    Raises
    ------
    ValueError
        If ``label`` is unknown.
    FileNotFoundError
        If there is no such mask (the finding is absent from that image, or
        the data set has no masks).
    """
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; valid labels are: {', '.join(LABELS)}")
    folder = Path(folder) if folder is not None else ensure_chestxray_data()
    if not (folder / "masks").is_dir():
        raise FileNotFoundError(
            f"{folder} has no masks/ folder: lesion masks exist only for the generated phantoms "
            f"({REAL_DATA_NEEDS_PHANTOMS}). "
            + ("MEDXAI_DATA_DIR points the course at real data; unset it to use the phantoms."
               if using_real_data() else "Run `make data` to generate them.")
        )
    path = folder / "masks" / f"{Path(image_name).stem}_{label}.png"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: {image_name} has no {label} mask (is {label} present in "
            f"that image? see the split CSVs or bbox.csv)."
        )
    return np.asarray(Image.open(path)) > 127


# --------------------------------------------------------------------------- command line


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m util.data.chestxray", description=__doc__.split("\n")[0])
    parser.add_argument("--write-manifest", action="store_true", help="rewrite " + str(MANIFEST))
    parser.add_argument("--force", action="store_true", help="regenerate even if present")
    args = parser.parse_args(argv)
    folder = ensure_chestxray_data(force=args.force)
    for name in SPLITS:
        df = load_split(folder / name)
        prev = ", ".join(f"{label} {df[label].mean():.3f}" for label in LABELS)
        print(f"{name}: {len(df)} images, {df.PatientId.nunique()} patients; {prev}")
    if using_real_data():
        return 0
    if args.write_manifest:
        print(f"wrote {write_manifest(folder)}")
    problems = verify_manifest(folder)
    if problems:
        print(f"{len(problems)} mismatches with {MANIFEST}:", *problems[:20], sep="\n  ")
        return 1
    print(f"all files match {MANIFEST.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

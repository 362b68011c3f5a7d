"""``make demo``'s first part: the course's data and model on the embedded default data.

1. Generate the chest X-ray phantoms (first run only) and print their summary.
2. Print the mortality cohort's summary and its random forest's c-index.
3. Draw a gallery of sample images with their lesion outlines.

Run as ``python -m util.demo [--out OUTPUT_DIR]``. (``make demo`` then grades sample submissions
with the instructor's tools, which are not part of this library.)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from util.config.course import LABELS
from util.config.paths import REPO_ROOT
from util.data.chestxray import SPLITS, ensure_chestxray_data, load_mask, load_split
from util.data.images import read_image

__all__ = [
    "chestxray_summary",
    "cohort_summary",
    "draw_gallery",
    "main",
]

def chestxray_summary(folder):
    """Counts and per-label prevalence of each split.

    Parameters
    ----------
    folder : pathlib.Path
        Dataset folder holding the three split CSVs.

    Returns
    -------
    counts : pandas.DataFrame
        One row per split: images and patients.
    prevalence : pandas.DataFrame
        Labels × splits, the share of images with each finding.
    """
    counts, prevalence = {}, {}
    for name in SPLITS:
        df = load_split(folder / name)
        counts[name] = {"images": len(df), "patients": df["PatientId"].nunique()}
        prevalence[name] = df[LABELS].mean()
    return pd.DataFrame(counts).T, pd.DataFrame(prevalence)


def cohort_summary():
    """Sizes, outcome rate and the random forest's test c-index of the cohort.

    Returns
    -------
    dict
        ``train_rows``, ``test_rows``, ``death_rate_test`` and ``rf_cindex_test``.
    """
    from util.data.cohort import load_mortality_cohort, load_mortality_rf
    from util.metrics.concordance import cindex

    X_train, y_train, X_test, y_test = load_mortality_cohort()
    rf = load_mortality_rf()
    return {
        "train_rows": len(X_train),
        "test_rows": len(X_test),
        "death_rate_test": float(np.mean(y_test)),
        "rf_cindex_test": cindex(y_test.to_numpy(), rf.predict_proba(X_test)[:, 1]),
    }


def draw_gallery(folder, out_path, n_columns=5):
    """Draw one example image per label with its lesion outline(s) in red.

    Parameters
    ----------
    folder : pathlib.Path
        Dataset folder (images/, masks/, train-small.csv).
    out_path : pathlib.Path
        PNG file to write.
    n_columns : int
        Images per row.

    Returns
    -------
    pathlib.Path
        ``out_path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    df = pd.concat([load_split(folder / name) for name in SPLITS], ignore_index=True)
    examples = [("No Finding", df.loc[df[LABELS].sum(axis=1) == 0, "Image"].iloc[0])]
    for label in LABELS:
        rows = df.loc[df[label] == 1]
        # prefer an image where the label is the only finding, so the outline is unambiguous
        alone = rows.loc[rows[LABELS].sum(axis=1) == 1]
        examples.append((label, (alone if len(alone) else rows)["Image"].iloc[0]))

    n_rows = int(np.ceil(len(examples) / n_columns))
    fig, axes = plt.subplots(n_rows, n_columns, figsize=(3 * n_columns, 3.2 * n_rows))
    for ax, (label, image) in zip(axes.ravel(), examples):
        ax.imshow(read_image(folder / "images" / image)[..., 0], cmap="gray", vmin=0, vmax=255)
        if label != "No Finding":
            ax.contour(load_mask(folder, image, label), levels=[0.5], colors="red", linewidths=1)
        ax.set_title(f"{label}\n{image}", fontsize=9)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle("Chest X-ray phantoms: one finding each, lesion mask outlined in red")
    fig.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return out_path


def main(argv=None):
    """Entry point of ``make demo``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "output", help="output folder")
    args = parser.parse_args(argv)


    start = time.perf_counter()
    folder = ensure_chestxray_data()
    print(f"Chest X-ray data: {folder} (ready in {time.perf_counter() - start:.1f} s)\n")
    counts, prevalence = chestxray_summary(folder)
    print(counts.to_string(), "\n")
    print("Prevalence per label:")
    print(prevalence.map(lambda v: f"{100 * v:5.1f} %").to_string(), "\n")

    summary = cohort_summary()
    print("Mortality cohort (NHANES-style, generated):")
    print(f"  train rows {summary['train_rows']}, test rows {summary['test_rows']}, "
          f"deaths within 10 years (test) {100 * summary['death_rate_test']:.1f} %")
    print(f"  random forest test c-index {summary['rf_cindex_test']:.3f}\n")

    gallery = draw_gallery(folder, args.out / "gallery.png")
    print(f"Gallery of sample images with lesion outlines: {gallery}")


if __name__ == "__main__":
    main()

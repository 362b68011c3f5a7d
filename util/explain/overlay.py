"""Draw an explanation over its image."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_overlay"]


def plot_overlay(image, cam, ax=None, alpha=0.5, mask=None, title=None):
    """Draw a heat map over its image (jet colormap), optionally outlining a lesion mask.

    Parameters
    ----------
    image : array-like
        ``(H, W)``, ``(H, W, 3)`` or ``(1, H, W, 3)``; any scale (it is
        min-max scaled for display, so standardised inputs are fine).
    cam : array-like of shape (H, W)
        A map in [0, 1], e.g. from :func:`grad_cam`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    alpha : float, default 0.5
        Opacity of the heat map.
    mask : array-like of bool, shape (H, W), optional
        Ground-truth region, drawn as a white outline.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 4:
        if img.shape[0] != 1:
            raise ValueError(f"plot_overlay draws one image; got a batch of {img.shape[0]}.")
        img = img[0]
    if img.ndim == 3:
        img = img.mean(axis=-1)
    if img.ndim != 2:
        raise ValueError(f"image must be (H, W), (H, W, 3) or (1, H, W, 3); got shape {np.shape(image)}.")
    c = np.asarray(cam, dtype=np.float32)
    if c.shape != img.shape:
        raise ValueError(f"cam has shape {c.shape} but the image is {img.shape}; resize the cam first.")
    lo, hi = float(img.min()), float(img.max())
    shown = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(shown, cmap="gray", vmin=0, vmax=1)
    ax.imshow(c, cmap="jet", alpha=alpha, vmin=0, vmax=1)
    if mask is not None:
        m = np.asarray(mask)
        if m.shape != img.shape:
            raise ValueError(f"mask has shape {m.shape} but the image is {img.shape}.")
        if m.any():
            ax.contour(m.astype(np.float32), levels=[0.5], colors="white", linewidths=1.5)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax

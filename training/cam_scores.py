"""The localization scores of :mod:`training.evaluate`, gathered per label over the held-out films.

For each true positive it is given, :class:`CamScores` scores the film's Grad-CAM map and the label's
location prior against the lesion mask, leniently (``tolerance`` px) and strictly (no tolerance), until
``max_cams`` films of that label are scored.
"""

from __future__ import annotations

import numpy as np

from util.config.course import LABELS

__all__ = ["SCORE_KEYS", "CamScores", "mean_or_nan"]

#: The scores kept per scored film, in the order of the model card's columns.
SCORE_KEYS = ("pointing_game", "energy", "mask_share", "pointing_strict", "prior_pointing", "prior_strict")


def mean_or_nan(values):
    """The mean of ``values`` as a float, ``nan`` when there are none."""
    return float(np.mean(values)) if values else float("nan")


class CamScores:
    """Per label, the scores of the true positives scored so far (at most ``max_cams`` each).

    Parameters
    ----------
    priors : dict
        label -> location prior map at the films' size (:func:`training.evaluate.training_priors`).
    tolerance : float
        Pointing game tolerance in pixels of the lenient scores.
    max_cams : int
        Films scored per label; later true positives are skipped.
    """

    def __init__(self, priors, tolerance, max_cams):
        self.priors = priors
        self.tolerance = tolerance
        self.max_cams = max_cams
        self.scores = {label: {key: [] for key in SCORE_KEYS} for label in LABELS}

    def scored(self, label):
        """How many films of ``label`` are scored."""
        return len(self.scores[label]["pointing_game"])

    def add(self, label, cam, mask):
        """Score one true positive: its map ``cam`` and the label's prior against its ``mask``."""
        from util.metrics.localization import energy_pointing, pointing_game

        prior, s = self.priors[label], self.scores[label]
        s["pointing_game"].append(pointing_game(cam, mask, self.tolerance))
        s["energy"].append(energy_pointing(cam, mask))
        s["mask_share"].append(float(mask.mean()))
        s["pointing_strict"].append(pointing_game(cam, mask, 0))
        s["prior_pointing"].append(pointing_game(prior, mask, self.tolerance))
        s["prior_strict"].append(pointing_game(prior, mask, 0))

    def add_film(self, truth, probabilities, raw_cams, masks, threshold, size):
        """Score every label of one film that is a true positive (present, predicted ``>= threshold``).

        Parameters
        ----------
        truth : array of shape (14,)
            1 where the label is present (``LABELS`` order).
        probabilities : array of shape (14,)
        raw_cams : array of shape (14, h, w)
            The raw Grad-CAM sums (:func:`util.explain.gradcam.predictions_and_raw_cams`).
        masks : dict
            label -> bool lesion mask at the film's size.
        threshold : float
        size : int
            The film's side in pixels: the maps are resized to it.
        """
        from util.explain.gradcam import postprocess

        for j, label in enumerate(LABELS):
            if truth[j] == 1 and probabilities[j] >= threshold and self.scored(label) < self.max_cams:
                self.add(label, postprocess(raw_cams[j], size, size), masks[label])

    def summary(self, label):
        """``scored`` and the mean of each of :data:`SCORE_KEYS` for ``label`` (``nan`` when none is scored)."""
        return {"scored": self.scored(label), **{key: mean_or_nan(v) for key, v in self.scores[label].items()}}

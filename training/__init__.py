"""Maintainer-only code: training and evaluating the course model (never shipped to students).

* :mod:`training.losses` — the class-weighted binary cross-entropy the course model is trained with
  (C1W1's exercises solved, which is why it is not in the student library ``util``);
* :mod:`training.loop` — what both training scripts share: their common options, the optimiser loop
  with its logging and timing, the saving of weights;
* :mod:`training.densenet` — ``python -m training.densenet`` (``make train``): DenseNet121 on fresh phantoms;
* :mod:`training.fundus` — ``python -m training.fundus`` (``make train-fundus``): the small fundus CNN, and
  its model card (:mod:`training.fundus_card`, rendered from ``training/templates/`` by
  :mod:`training.card_template`);
* :mod:`training.evaluate` — ``python -m training.evaluate`` (``make evaluate``): the held-out
  metrics table of ``data/models/MODEL_CARD.md`` (its localization scores gathered by :mod:`training.cam_scores`);
* :mod:`training.notebooks` — ``python -m training.notebooks`` (``make notebooks``): re-executes the lecture
  notebooks.

The student library ``util`` never imports from here; ``make student`` leaves this package out.
"""

"""Maintainer-only code: training and evaluating the course model (never shipped to students).

* :mod:`training.losses` — the class-weighted binary cross-entropy the course model is trained with
  (C1W1's exercises solved, which is why it is not in the student library ``util``);
* :mod:`training.densenet` — ``python -m training.densenet`` (``make train``): DenseNet121 on fresh phantoms;
* :mod:`training.evaluate` — ``python -m training.evaluate`` (``make evaluate``): the held-out
  metrics table of ``data/models/MODEL_CARD.md``.

The student library ``util`` never imports from here; ``make student`` leaves this package out.
"""

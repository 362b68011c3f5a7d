"""util.config.course: the course's labels, explained layers and seed ranges."""

import util


def test_labels_are_the_course_order():
    assert util.LABELS == [
        "Cardiomegaly", "Emphysema", "Effusion", "Hernia", "Infiltration", "Mass", "Nodule",
        "Atelectasis", "Pneumothorax", "Pleural_Thickening", "Pneumonia", "Fibrosis", "Edema",
        "Consolidation",
    ]


def test_eval_seeds_are_disjoint_from_training():
    from training.densenet import TRAIN_SEED_HI, TRAIN_SEED_LO
    from training.evaluate import EVAL_SEED_BASE, eval_findings

    assert EVAL_SEED_BASE >= TRAIN_SEED_HI > TRAIN_SEED_LO
    a, b = eval_findings(50, 0.15), eval_findings(50, 0.15)
    assert a == b and len(a) == 50
    assert sum(map(len, a)) > 50 * 14 * 0.15 * 0.5  # oversampled

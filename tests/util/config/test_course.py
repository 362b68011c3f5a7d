"""util.config.course: the course's labels, explained layers and seed ranges."""

import util


def test_labels_are_the_course_order():
    assert util.LABELS == [
        "Cardiomegaly", "Emphysema", "Effusion", "Hernia", "Infiltration", "Mass", "Nodule",
        "Atelectasis", "Pneumothorax", "Pleural_Thickening", "Pneumonia", "Fibrosis", "Edema",
        "Consolidation",
    ]

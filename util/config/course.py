"""Facts about the course that several layers share: labels, explained layers, seed ranges.

Each fact has its home here; modules import it rather than restating it.
"""

__all__ = [
    "CAM_LAYER",
    "CHESTXRAY_SEED",
    "DATA_SEED_HI",
    "EVAL_SEED_BASE",
    "FUNDUS_CAM_LAYER",
    "LABELS",
    "NORMALIZATION_SEED",
    "TRAIN_SEED_HI",
    "TRAIN_SEED_LO",
]

#: The 14 ChestX-ray14 finding labels in the course's order (the DenseNet's outputs).
LABELS = [
    "Cardiomegaly",
    "Emphysema",
    "Effusion",
    "Hernia",
    "Infiltration",
    "Mass",
    "Nodule",
    "Atelectasis",
    "Pneumothorax",
    "Pleural_Thickening",
    "Pneumonia",
    "Fibrosis",
    "Edema",
    "Consolidation",
]

#: The layer Grad-CAM explains in the course DenseNet121: the last dense block's output.
CAM_LAYER = "conv5_block16_concat"
#: The layer Grad-CAM explains in the fundus CNN: its last Conv-BN-ReLU block's output.
FUNDUS_CAM_LAYER = "last_conv"

#: Seed of the generated chest X-ray data set (``data/chestxray/``).
CHESTXRAY_SEED = 20240617
#: Seed of the training images whose mean and std standardise test and validation images.
NORMALIZATION_SEED = 1

# Phantom seed ranges, disjoint so that no model is trained or evaluated on the course's images:
# data sets (chest X-ray and fundus sets) below 2**40, training in [2**40, 2**41), held-out
# evaluation image i at 2**42 + i.
#: Upper bound (exclusive) of the seeds of the course's generated data sets.
DATA_SEED_HI = 2**40
#: Training seeds are drawn from ``[TRAIN_SEED_LO, TRAIN_SEED_HI)``.
TRAIN_SEED_LO = 2**40
TRAIN_SEED_HI = 2**41
#: Held-out evaluation image ``i`` has seed ``EVAL_SEED_BASE + i``.
EVAL_SEED_BASE = 2**42

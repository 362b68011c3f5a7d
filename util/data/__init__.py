"""Data: chest X-ray and fundus phantoms, the NIH-layout data set, the mortality cohort, image loading and batches."""

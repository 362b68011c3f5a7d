"""Explanations: Grad-CAM step by step, per grade of an ordinal model, and drawn over the image."""

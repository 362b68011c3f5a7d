"""Metrics: ROC/AUC, the concordance index, agreement (kappa) and localisation of explanations."""

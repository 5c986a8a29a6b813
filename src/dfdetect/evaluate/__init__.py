"""Evaluation: metrics equal to scikit-learn's, bootstrap intervals over videos, calibration,
cross-dataset tables and plots. Importing this package imports neither torch nor pandas."""

EVAL_BATCH_SIZE = 64  # crops per model call in evaluate, calibrate and robustness
BOOTSTRAP_RESAMPLES = 1000  # resamples behind every 95% confidence interval

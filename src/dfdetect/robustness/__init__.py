"""Robustness of detectors to perturbed media: the DeeperForensics-1.0 perturbations and
real-world compression applied to face crops or source frames, evaluated cell by cell."""
